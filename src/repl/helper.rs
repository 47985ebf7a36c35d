//! Line editing support: Tab completion and multi-line input for rustyline.
//!
//! Completion offers, by where the cursor is: REPL commands after a leading `:`; function names
//! after `:help`; files after `:load`; `on`/`off` after `:dry-run`; the fields of order and
//! trade maps (or of a map variable's own keys) after a `.`; otherwise API and `fn` functions,
//! keywords and variables.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::input::is_complete;
use crate::script::{Host, ORDER_FIELDS, TRADE_FIELDS};

/// Rhai's keywords, offered alongside function and variable names.
const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "switch", "while", "loop", "do", "until", "for", "in",
    "break", "continue", "return", "throw", "try", "catch", "import", "export", "as", "private",
    "true", "false", "this", "global",
];

/// The REPL's commands as completion offers them (with the space their argument needs).
pub(crate) const COMMANDS: &[&str] = &[":help", ":vars", ":load ", ":dry-run ", ":quit"];

/// What the session has defined so far; the REPL refreshes it after every line.
#[derive(Debug, Default)]
pub(crate) struct SessionNames {
    pub(crate) variables: Vec<String>,
    /// Keys of the variables that hold maps, for completion after `name.`.
    pub(crate) map_keys: BTreeMap<String, Vec<String>>,
    pub(crate) functions: Vec<String>,
}

/// The rustyline helper of the REPL.
pub(crate) struct ReplHelper {
    api_functions: Vec<String>,
    fields: Vec<String>,
    session: Arc<Mutex<SessionNames>>,
    files: FilenameCompleter,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Where the name ending at `pos` starts.
fn name_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_name_char(*c))
        .last()
        .map_or(pos, |(i, _)| i)
}

fn offer(names: impl IntoIterator<Item = String>, prefix: &str) -> Vec<Pair> {
    names
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|n| Pair {
            display: n.clone(),
            replacement: n,
        })
        .collect()
}

impl ReplHelper {
    pub(crate) fn new(host: &Host, session: Arc<Mutex<SessionNames>>) -> ReplHelper {
        let api_functions = host
            .functions()
            .map(|f| f.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let fields = ORDER_FIELDS
            .iter()
            .chain(TRADE_FIELDS)
            .map(|f| (*f).to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        ReplHelper {
            api_functions,
            fields,
            session,
            files: FilenameCompleter::new(),
        }
    }

    fn names(&self) -> std::sync::MutexGuard<'_, SessionNames> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Completions for a script line (not a command): the start of the replaced text and the
    /// candidates.
    pub(crate) fn complete_code(&self, line: &str, pos: usize) -> (usize, Vec<Pair>) {
        let start = name_start(line, pos);
        let word = &line[start..pos];
        if word.starts_with(|c: char| c.is_ascii_digit()) {
            return (start, Vec::new());
        }
        if line[..start].ends_with('.') {
            let receiver_end = start - 1;
            let receiver = &line[name_start(line, receiver_end)..receiver_end];
            let names = self.names();
            let keys = match names.map_keys.get(receiver) {
                Some(keys) => keys.clone(),
                None => self.fields.clone(),
            };
            return (start, offer(keys, word));
        }
        if word.is_empty() {
            return (start, Vec::new());
        }
        let names = self.names();
        let mut candidates: Vec<Pair> = self
            .api_functions
            .iter()
            .chain(&names.functions)
            .filter(|n| n.starts_with(word))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|n| Pair {
                display: n.clone(),
                replacement: format!("{n}("),
            })
            .collect();
        let others = KEYWORDS
            .iter()
            .map(|k| (*k).to_owned())
            .chain(names.variables.iter().cloned());
        for pair in offer(others, word) {
            if !candidates.iter().any(|c| c.display == pair.display) {
                candidates.push(pair);
            }
        }
        candidates.sort_by(|a, b| a.display.cmp(&b.display));
        (start, candidates)
    }

    /// Completions for a `:command` line, or `None` if its argument is a file name.
    fn complete_command(&self, line: &str, pos: usize) -> Option<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let Some((command, _)) = before.split_once(char::is_whitespace) else {
            let start = before.len() - before.trim_start().len();
            let commands = COMMANDS.iter().map(|c| (*c).to_owned());
            return Some((start, offer(commands, before.trim_start())));
        };
        let start = name_start(line, pos);
        let word = &line[start..pos];
        let names: Vec<String> = match command.trim_start() {
            ":help" => self.api_functions.clone(),
            ":dry-run" => vec!["on".into(), "off".into()],
            ":load" => return None,
            _ => Vec::new(),
        };
        Some((start, offer(names, word)))
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if line.trim_start().starts_with(':') {
            return match self.complete_command(line, pos) {
                Some(found) => Ok(found),
                None => self.files.complete(line, pos, ctx),
            };
        }
        Ok(self.complete_code(line, pos))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') || is_complete(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        let names = SessionNames {
            variables: vec!["stale".into(), "ARGS".into()],
            map_keys: BTreeMap::from([("limits".into(), vec!["max".into(), "min".into()])]),
            functions: vec!["stale_ids".into()],
        };
        ReplHelper::new(&Host::offline(), Arc::new(Mutex::new(names)))
    }

    fn replacements(found: (usize, Vec<Pair>)) -> (usize, Vec<String>) {
        (
            found.0,
            found.1.into_iter().map(|p| p.replacement).collect(),
        )
    }

    #[test]
    fn functions_keywords_and_variables_complete_by_prefix() {
        let h = helper();
        let line = "let n = open_ord";
        assert_eq!(
            replacements(h.complete_code(line, line.len())),
            (8, vec!["open_orders(".to_owned()])
        );
        let line = "sta";
        assert_eq!(
            replacements(h.complete_code(line, line.len())).1,
            vec!["stale", "stale_ids("]
        );
        let line = "cancel_a";
        assert_eq!(
            replacements(h.complete_code(line, line.len())).1,
            vec!["cancel_all("]
        );
        let line = "whi";
        assert_eq!(
            replacements(h.complete_code(line, line.len())).1,
            vec!["while"]
        );
        assert!(h.complete_code("x = ", 4).1.is_empty());
    }

    #[test]
    fn fields_complete_after_a_dot() {
        let h = helper();
        let line = "stale[0].crea";
        assert_eq!(
            replacements(h.complete_code(line, line.len())),
            (9, vec!["created_at".to_owned()])
        );
        let line = "order(id).taker";
        assert_eq!(
            replacements(h.complete_code(line, line.len())).1,
            vec!["taker_order_id"]
        );
        let line = "limits.m";
        assert_eq!(
            replacements(h.complete_code(line, line.len())).1,
            vec!["max", "min"]
        );
    }

    #[test]
    fn commands_and_their_arguments_complete() {
        let h = helper();
        let found = |line: &str| h.complete_command(line, line.len()).map(replacements);
        assert_eq!(found(":he"), Some((0, vec![":help".to_owned()])));
        assert_eq!(
            found(":dry-run o").map(|f| f.1),
            Some(vec!["off".into(), "on".into()])
        );
        assert_eq!(
            found(":help cancel_m").map(|f| f.1),
            Some(vec!["cancel_market".into()])
        );
        assert_eq!(found(":load scr"), None);
    }
}
