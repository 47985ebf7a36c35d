//! Script errors as the user sees them: a headline, the file, line and column, the source line
//! with a caret under the culprit (tabs and wide characters aligned), and a hint such as
//! "did you mean `cancel`?".
//!
//! ```text
//! error: unknown function `cancle(string)`
//!  --> scripts/tidy.rhai:3:5
//!   |
//! 3 |     cancle(id);
//!   |     ^^^^^^
//!   = help: did you mean `cancel`?
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;

use rhai::{EvalAltResult, ParseError, ParseErrorType, Position};
use unicode_width::UnicodeWidthChar;

use super::check::KnownFunctions;
use super::engine::{Limits, SourceText};
use super::interrupt::StopReason;
use super::resolver::ImportRefused;
use crate::exit::Exit;

pub(crate) const IMPORT_HELP: &str =
    "imports are resolved relative to the script's own folder and may not leave it";

/// Columns a tab advances to in a rendered source line.
const TAB_WIDTH: usize = 4;

/// Why a script did not run to completion, rendered for a terminal, with its exit code.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{rendered}")]
pub struct ScriptError {
    exit: Exit,
    headline: String,
    rendered: String,
}

impl ScriptError {
    /// An error with no place in the source (unreadable file, bad `--arg`, ...).
    pub fn plain(exit: Exit, headline: impl Into<String>) -> ScriptError {
        let headline = headline.into();
        ScriptError {
            exit,
            rendered: format!("error: {headline}"),
            headline,
        }
    }

    /// Several located problems reported together (e.g. every unknown function of a script).
    pub(crate) fn combined(exit: Exit, problems: Vec<ScriptError>) -> ScriptError {
        let count = problems.len();
        let headline = match problems.as_slice() {
            [only] => only.headline.clone(),
            _ => format!("{count} problems found"),
        };
        let rendered = problems
            .iter()
            .map(|p| p.rendered.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        ScriptError {
            exit,
            headline,
            rendered,
        }
    }

    /// The process exit code this error maps to (see DESIGN.md).
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// One line: what went wrong and where, for logs.
    pub fn headline(&self) -> &str {
        &self.headline
    }

    /// The full multi-line rendering with the source excerpt.
    pub fn rendered(&self) -> &str {
        &self.rendered
    }
}

/// Where in the source an error points, and how many characters to underline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) chars: usize,
}

impl Span {
    pub(crate) fn at(position: Position, chars: usize) -> Option<Span> {
        Some(Span {
            line: position.line()?,
            column: position.position().unwrap_or(1).max(1),
            chars: chars.max(1),
        })
    }
}

/// Builds a located error: headline, then the source excerpt, then notes (`= note: …`).
pub(crate) fn located(
    exit: Exit,
    headline: String,
    source: &SourceText,
    span: Option<Span>,
    notes: &[String],
) -> ScriptError {
    let mut out = format!("error: {headline}");
    let one_line = match span {
        Some(span) => {
            out.push('\n');
            out.push_str(&snippet(source, span));
            let (name, line) = source.place(span.line);
            format!("{headline} ({name}:{line}:{})", span.column)
        }
        None => format!("{headline} ({})", source.name),
    };
    let gutter = span.map_or(1, |s| digits(source.place(s.line).1));
    for note in notes {
        let _ = write!(out, "\n{:gutter$} = {note}", "");
    }
    ScriptError {
        exit,
        headline: one_line,
        rendered: out,
    }
}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

/// The `--> file:line:col` block with the source line and the caret line.
fn snippet(source: &SourceText, span: Span) -> String {
    let (name, shown_line) = source.place(span.line);
    let gutter = digits(shown_line);
    let mut out = format!(
        "{:gutter$}--> {}:{}:{}\n{:gutter$} |",
        "", name, shown_line, span.column, ""
    );
    let Some(line) = source.line(span.line) else {
        return out;
    };
    let mut shown = String::new();
    let mut before = 0usize;
    let mut under = 0usize;
    let mut width = 0usize;
    for (index, c) in line.chars().enumerate() {
        let w = if c == '\t' {
            TAB_WIDTH - width % TAB_WIDTH
        } else {
            c.width().unwrap_or(0)
        };
        if c == '\t' {
            shown.extend(std::iter::repeat_n(' ', w));
        } else {
            shown.push(c);
        }
        let column = index + 1;
        if column < span.column {
            before += w;
        } else if column < span.column + span.chars {
            under += w;
        }
        width += w;
    }
    if span.column > line.chars().count() {
        // Past the end of the line (e.g. a missing `;`): point just after it.
        before = width;
    }
    let _ = write!(
        out,
        "\n{} | {}\n{:gutter$} | {:before$}{}",
        shown_line,
        shown.trim_end(),
        "",
        "",
        "^".repeat(under.max(1))
    );
    out
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let limit = match name.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, c)| c.to_owned())
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions (`cancle` → `cancel` is one edit).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// A compile error.
pub(crate) fn parse_error(err: &ParseError, source: &SourceText) -> ScriptError {
    let (message, chars) = match err.err_type() {
        ParseErrorType::BadInput(rhai::LexError::ImproperSymbol(symbol, _)) if symbol == "eval" => {
            (
                "`eval` is disabled in clobscript scripts; call the code directly or `import` it"
                    .to_owned(),
                4,
            )
        }
        other => (format!("syntax error: {other}"), 1),
    };
    located(
        Exit::Usage,
        message,
        source,
        Span::at(err.position(), chars),
        &[],
    )
}

/// What the explainer needs to know about the run that failed.
pub(crate) struct Explain<'a> {
    pub(crate) source: &'a SourceText,
    pub(crate) known: &'a KnownFunctions,
    pub(crate) script_functions: Vec<(String, usize)>,
    pub(crate) api_failure: Option<(String, Exit)>,
    pub(crate) limits: &'a Limits,
    pub(crate) import_root: Option<PathBuf>,
}

/// A run-time error, with the place it happened and the calls that led there.
pub(crate) fn eval_error(err: &EvalAltResult, context: &Explain<'_>) -> ScriptError {
    let mut notes = Vec::new();
    let mut current = err;
    let mut module_source: Option<SourceText> = None;
    loop {
        match current {
            EvalAltResult::ErrorInFunctionCall(name, _, inner, pos) => {
                let what = if name.starts_with("anon$") {
                    "a closure".to_owned()
                } else {
                    format!("function `{name}`")
                };
                notes.push(format!("note: in {what}, called at {}", describe(*pos)));
                current = inner;
            }
            EvalAltResult::ErrorInModule(path, inner, pos) => {
                if let EvalAltResult::ErrorRuntime(value, _) = inner.as_ref()
                    && let Some(refused) = value.read_lock::<ImportRefused>()
                {
                    notes.reverse();
                    notes.insert(0, format!("help: {IMPORT_HELP}"));
                    let source = module_source.as_ref().unwrap_or(context.source);
                    return located(
                        Exit::Usage,
                        format!("cannot import `{path}`: {}", refused.0),
                        source,
                        Span::at(*pos, path.chars().count() + 2),
                        &notes,
                    );
                }
                notes.push(format!(
                    "note: in module `{path}`, imported at {}",
                    describe(*pos)
                ));
                if module_source.is_none() {
                    module_source = context
                        .import_root
                        .as_ref()
                        .and_then(|root| SourceText::read_module(root, path));
                }
                current = inner;
            }
            _ => break,
        }
    }
    notes.reverse();
    let source = module_source.as_ref().unwrap_or(context.source);
    let pos = current.position();
    let (exit, headline, chars, help) = classify(current, context);
    if let Some(help) = help {
        notes.insert(0, format!("help: {help}"));
    }
    located(exit, headline, source, Span::at(pos, chars), &notes)
}

fn describe(pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(line), Some(column)) => format!("{line}:{column}"),
        (Some(line), None) => format!("line {line}"),
        _ => "an unknown place".to_owned(),
    }
}

/// Exit code, headline, characters to underline and an optional hint for one error.
fn classify(err: &EvalAltResult, context: &Explain<'_>) -> (Exit, String, usize, Option<String>) {
    let limits = context.limits;
    match err {
        EvalAltResult::ErrorTerminated(token, _) => {
            let reason = token
                .clone()
                .try_cast::<StopReason>()
                .unwrap_or(StopReason::Interrupted);
            (reason.exit(), reason.message(), 1, None)
        }
        EvalAltResult::ErrorRuntime(value, _) => {
            let text = if value.is_string() {
                value.to_string()
            } else {
                format!("the script threw {value}")
            };
            match &context.api_failure {
                Some((message, exit)) if *message == text => (*exit, text, 1, None),
                _ => (Exit::ScriptFailed, text, 1, None),
            }
        }
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            function_not_found(signature, context)
        }
        EvalAltResult::ErrorModuleNotFound(path, _) => (
            Exit::Usage,
            format!("cannot import `{path}`: no such module in the script's folder"),
            path.chars().count() + 2,
            Some(IMPORT_HELP.into()),
        ),
        EvalAltResult::ErrorTooManyOperations(_) => (
            Exit::ScriptFailed,
            format!(
                "the script exceeded the sandbox limit of {} operations (a runaway loop?)",
                limits.max_operations
            ),
            1,
            None,
        ),
        EvalAltResult::ErrorStackOverflow(_) => (
            Exit::ScriptFailed,
            format!(
                "the script exceeded the sandbox limit of {} nested calls (runaway recursion?)",
                limits.max_call_levels
            ),
            1,
            None,
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => (
            Exit::ScriptFailed,
            format!("{what} exceeds the sandbox limit"),
            1,
            Some(format!(
                "limits: strings {} bytes, arrays {} items, maps {} entries, counted over a whole value",
                limits.max_string_size, limits.max_array_size, limits.max_map_size
            )),
        ),
        EvalAltResult::ErrorTooManyModules(_) => (
            Exit::ScriptFailed,
            format!(
                "the script imports more than the sandbox limit of {} modules",
                limits.max_modules
            ),
            1,
            None,
        ),
        other => {
            // Rhai appends " (line L, position C)"; the snippet already shows where.
            let text = other.to_string();
            let position = other.position();
            let suffix = format!(" ({position})");
            let text = match text.strip_suffix(&suffix) {
                Some(stripped) if !position.is_none() => stripped.to_owned(),
                _ => text,
            };
            (Exit::ScriptFailed, text, 1, None)
        }
    }
}

/// "cancle (&str | ImmutableString | String, i64)" → an explanation and a suggestion.
fn function_not_found(
    signature: &str,
    context: &Explain<'_>,
) -> (Exit, String, usize, Option<String>) {
    let (name, args) = match signature.split_once(" (") {
        Some((name, rest)) => (name.trim(), rest.trim_end_matches(')')),
        None => (signature.trim(), ""),
    };
    let args = args
        .split(", ")
        .filter(|a| !a.is_empty())
        .map(rhai_type_name)
        .collect::<Vec<_>>()
        .join(", ");
    let chars = name.chars().count();
    if !name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        let headline = format!("operator `{name}` cannot be applied to ({args})");
        return (Exit::ScriptFailed, headline, chars, None);
    }
    let exists =
        context.known.contains(name) || context.script_functions.iter().any(|(n, _)| n == name);
    if exists {
        let headline = format!("`{name}` cannot be called with ({args})");
        let overloads = context.known.signatures_of(name);
        let help =
            (!overloads.is_empty()).then(|| format!("it is called as {}", overloads.join(" or ")));
        return (Exit::ScriptFailed, headline, chars, help);
    }
    let script_names = context.script_functions.iter().map(|(n, _)| n.as_str());
    let suggestion = suggest(name, context.known.names().chain(script_names))
        .map(|s| format!("did you mean `{s}`?"));
    (
        Exit::ScriptFailed,
        format!("unknown function `{name}({args})`"),
        chars,
        suggestion,
    )
}

/// Rhai's internal type names as a script author knows them.
pub(crate) fn rhai_type_name(name: &str) -> &str {
    // A parameter taken by reference (so large arrays are not copied) is the same type to a
    // script.
    let name = name.trim();
    if let Some(record) = super::values::record_type_name(name) {
        return record;
    }
    match name.strip_prefix("&mut ").unwrap_or(name).trim() {
        "&str | ImmutableString | String" | "&str" | "ImmutableString" | "String" | "string" => {
            "string"
        }
        "i64" | "INT" | "int" => "int",
        "f64" | "FLOAT" | "float" => "float",
        "bool" => "bool",
        "Array" | "array" => "array",
        "Map" | "map" => "map",
        "()" => "()",
        "Dynamic" => "any",
        "FnPtr" | "Fn" => "Fn",
        "char" => "char",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> SourceText {
        SourceText::new("test.rhai", text, None)
    }

    #[test]
    fn carets_line_up_under_tabs_and_wide_characters() {
        let src = source("let a = 1;\n\tlet 名前 = \"é\"; cancle(a);\n");
        // `cancle` starts at character 16 of line 2.
        let err = located(
            Exit::ScriptFailed,
            "unknown function `cancle(int)`".into(),
            &src,
            Some(Span {
                line: 2,
                column: 16,
                chars: 6,
            }),
            &["help: did you mean `cancel`?".into()],
        );
        let expected = [
            "error: unknown function `cancle(int)`",
            " --> test.rhai:2:16",
            "  |",
            "2 |     let 名前 = \"é\"; cancle(a);",
            "  |                     ^^^^^^",
            "  = help: did you mean `cancel`?",
        ]
        .join("\n");
        assert_eq!(err.rendered(), expected);
        assert_eq!(
            err.headline(),
            "unknown function `cancle(int)` (test.rhai:2:16)"
        );
    }

    #[test]
    fn a_caret_past_the_end_of_the_line_points_just_after_it() {
        let err = located(
            Exit::Usage,
            "syntax error".into(),
            &source("let x = 1"),
            Some(Span {
                line: 1,
                column: 20,
                chars: 1,
            }),
            &[],
        );
        assert!(err.rendered().ends_with("1 | let x = 1\n  |          ^"));
    }

    #[test]
    fn suggestions_catch_typos_but_not_unrelated_names() {
        let names = ["cancel", "cancel_all", "open_orders", "order", "minutes"];
        assert_eq!(suggest("cancle", names), Some("cancel".into()));
        assert_eq!(suggest("open_order", names), Some("open_orders".into()));
        assert_eq!(suggest("minuts", names), Some("minutes".into()));
        assert_eq!(suggest("frobnicate", names), None);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }
}
