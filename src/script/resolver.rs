//! `import "helpers" as h;` — resolved only inside the running script's own folder.
//!
//! Paths are relative to the folder of the script being run (for every module it imports, too),
//! `.rhai` is added, and the resolved file must stay inside that folder after symlinks and `..`
//! are followed: a playbook cannot read arbitrary files through `import`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::module_resolvers::ModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Module, Position, Scope, Shared};

use super::engine::HostState;

/// Why an import path was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    #[error("absolute import paths are not allowed; import relative to the script's folder")]
    Absolute,
    #[error("`{0}` is outside the script's folder")]
    Outside(String),
    #[error("no module file `{0}`")]
    Missing(String),
}

/// The file `import` would load for `import_path`, checked to lie within `root`.
pub(crate) fn module_path(root: &Path, import_path: &str) -> Result<PathBuf, ImportError> {
    let relative = Path::new(import_path);
    if relative.is_absolute() || relative.has_root() {
        return Err(ImportError::Absolute);
    }
    let mut candidate = root.join(relative);
    if candidate.extension().is_none_or(|ext| ext != "rhai") {
        let mut name = candidate.into_os_string();
        name.push(".rhai");
        candidate = PathBuf::from(name);
    }
    let resolved = candidate
        .canonicalize()
        .map_err(|_| ImportError::Missing(candidate.display().to_string()))?;
    if !resolved.starts_with(root) {
        return Err(ImportError::Outside(import_path.to_owned()));
    }
    Ok(resolved)
}

/// Why an import was refused, carried inside the error the resolver returns.
#[derive(Clone, Debug)]
pub(crate) struct ImportRefused(pub(crate) String);

/// The engine's module resolver.
pub(crate) struct ScriptFolderResolver {
    state: Arc<HostState>,
}

impl ScriptFolderResolver {
    pub(crate) fn new(state: Arc<HostState>) -> Self {
        ScriptFolderResolver { state }
    }
}

impl ModuleResolver for ScriptFolderResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let root = self
            .state
            .import_root()
            .ok_or_else(|| Box::new(EvalAltResult::ErrorModuleNotFound(path.to_owned(), pos)))?;
        let file = module_path(&root, path).map_err(|err| match err {
            ImportError::Missing(_) => {
                Box::new(EvalAltResult::ErrorModuleNotFound(path.to_owned(), pos))
            }
            // Rhai replaces a resolver's "not found" with its own, so a refusal travels as a
            // marked error inside the module.
            refused => Box::new(EvalAltResult::ErrorInModule(
                path.to_owned(),
                EvalAltResult::ErrorRuntime(Dynamic::from(ImportRefused(refused.to_string())), pos)
                    .into(),
                pos,
            )),
        })?;
        let wrap = |err: Box<EvalAltResult>| {
            Box::new(EvalAltResult::ErrorInModule(path.to_owned(), err, pos))
        };
        let mut ast = engine.compile_file(file.clone()).map_err(wrap)?;
        ast.set_source(file.display().to_string());
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(wrap)?;
        Ok(module.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_stay_inside_the_script_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("playbooks");
        std::fs::create_dir_all(root.join("lib")).expect("mkdir");
        std::fs::write(root.join("lib").join("helpers.rhai"), "fn x() { 1 }").expect("write");
        std::fs::write(dir.path().join("secret.rhai"), "42").expect("write");
        let root = root.canonicalize().expect("canonical");

        let found = module_path(&root, "lib/helpers").expect("inside");
        assert!(found.ends_with("lib/helpers.rhai"));
        assert!(matches!(
            module_path(&root, "../secret"),
            Err(ImportError::Outside(_))
        ));
        assert!(matches!(
            module_path(&root, "/etc/passwd"),
            Err(ImportError::Absolute)
        ));
        assert!(matches!(
            module_path(&root, "nope"),
            Err(ImportError::Missing(_))
        ));
    }
}
