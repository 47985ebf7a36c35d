//! A script's text, for errors that show where they happened.

use std::path::{Path, PathBuf};

/// A script's text and the name errors call it by.
#[derive(Clone, Debug)]
pub struct SourceText {
    /// Shown in errors: the path as the user gave it, or e.g. `<repl>`.
    pub name: String,
    pub text: String,
    /// The file it came from; its folder is where `import` looks.
    pub path: Option<PathBuf>,
    /// Stretches of the text that came from other files (a REPL's `:load`): the first line
    /// (1-based), the number of lines and the file's name; errors there name the file and its
    /// own line.
    files: Vec<(usize, usize, String)>,
}

impl SourceText {
    pub fn new(name: impl Into<String>, text: impl Into<String>, path: Option<PathBuf>) -> Self {
        SourceText {
            name: name.into(),
            text: text.into(),
            path,
            files: Vec::new(),
        }
    }

    /// The same text, with lines `first..first + lines` (1-based) shown in errors as lines
    /// `1..` of the file `name`.
    #[must_use]
    pub fn with_files(mut self, files: Vec<(usize, usize, String)>) -> Self {
        self.files = files;
        self
    }

    /// The name and line number an error at line `n` of the text is shown with.
    pub fn place(&self, n: usize) -> (&str, usize) {
        for (first, lines, name) in &self.files {
            if n >= *first && n < first + lines {
                return (name, n - first + 1);
            }
        }
        (&self.name, n)
    }

    /// Line `n` (1-based).
    pub fn line(&self, n: usize) -> Option<&str> {
        self.text.lines().nth(n.checked_sub(1)?)
    }

    /// The folder imports resolve in.
    pub fn folder(&self) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        let folder = parent.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        folder.canonicalize().ok()
    }

    /// The text of an imported module, to show where an error inside it happened.
    pub(crate) fn read_module(root: &Path, import: &str) -> Option<SourceText> {
        let path = super::resolver::module_path(root, import).ok()?;
        let text = std::fs::read_to_string(&path).ok()?;
        Some(SourceText::new(
            path.display().to_string(),
            text,
            Some(path.clone()),
        ))
    }
}
