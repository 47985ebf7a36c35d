//! `clobscript repl`: an interactive shell over the script API.
//!
//! One [`Host`] and one `Scope` live for the whole session, so variables persist across lines;
//! `fn` definitions persist too, because every line's functions are merged into an AST of all
//! functions defined so far, and each new line runs with that AST's functions.
//!
//! Each input is compiled at its place in a transcript of the session (earlier lines padded as
//! blank lines), and its errors are shown against the whole transcript: a failure inside a
//! function defined ten lines earlier quotes the line it is on.
//!
//! On a terminal, rustyline edits the line (history in `$XDG_STATE_HOME/clobscript/history`,
//! Tab completion, unfinished statements continue on the next line). With stdin not a terminal
//! the same inputs are read line by line without prompts, so a session can be scripted; the
//! exit code is then 0 if every input succeeded, otherwise the code of the last failure.
//!
//! Lines are evaluated on the main thread, which is not one of the session runtime's workers
//! (exchange functions block on that runtime), each through [`Host::eval_bounded`] (so
//! `--timeout` applies per line). Ctrl-C while a line runs stops it through the host's
//! interrupt: the command layer's signal policy calls [`InterruptHook::on_interrupt`]. At the
//! prompt, rustyline reads Ctrl-C as a key and clears the line.

mod helper;
mod input;
mod show;

use std::borrow::Cow;
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rhai::{AST, Dynamic, Map, Scope};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};

use self::helper::{ReplHelper, SessionNames};
use crate::exit::Exit;
use crate::script::{Host, Interrupt, ScriptError, SourceText, StopReason, rhai_type_name};

/// What errors call REPL input.
const SOURCE_NAME: &str = "<repl>";

/// Rhai counts lines in 16 bits; past this many, the transcript starts afresh.
const MAX_TRANSCRIPT_LINES: usize = 60_000;

/// Keys of one map variable offered for completion after `name.`.
const MAX_COMPLETED_KEYS: usize = 500;

/// What a piped session says when Ctrl-C ends it.
pub const STOPPED: &str = "interrupted: the rest of the input was not run";

/// Entries kept in the history file.
const HISTORY_SIZE: usize = 2000;

/// The commands and keys, as `:help` lists them.
const COMMAND_HELP: &str = "\
Commands:
  :help            this overview
  :help NAME       a function's signatures and documentation
  :vars            the variables and functions defined in this session
  :load FILE       run a script file in this session (its variables and fns stay)
  :dry-run on|off  record cancels instead of sending them (or back); alone: show the state
  :quit            leave (so does Ctrl-D)

Keys: Tab completes names, and fields after a `.`; an unfinished statement (open bracket,
brace or string) continues on the next line; Ctrl-C stops a running command or clears the
line.";

/// What Ctrl-C should do, as the REPL sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnInterrupt {
    /// A running line was told to stop; the session goes on (or, piped, ends after it).
    StoppedLine,
    /// Nothing was running in a piped session: end the process (130) after [`STOPPED`].
    Quit,
    /// Nothing to do (an idle terminal prompt handles Ctrl-C itself).
    Ignore,
}

/// What the signal policy holds to stop a running line.
#[derive(Clone, Debug)]
pub struct InterruptHook {
    interrupt: Interrupt,
    running: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
    interactive: bool,
}

impl InterruptHook {
    /// Called on every Ctrl-C: stops the running line, if any, and says what else to do.
    pub fn on_interrupt(&self) -> OnInterrupt {
        if self.running.load(Ordering::SeqCst) {
            // Marked before the trigger wakes the line, so the session sees it when the line
            // returns.
            if !self.interactive {
                self.stopped.store(true, Ordering::SeqCst);
            }
            self.interrupt.trigger(StopReason::Interrupted);
            OnInterrupt::StoppedLine
        } else if self.interactive {
            OnInterrupt::Ignore
        } else {
            OnInterrupt::Quit
        }
    }
}

/// What to do after an input.
enum Step {
    /// Read the next input; `Err` carries the exit code of a failed input.
    Next(Result<(), Exit>),
    Quit,
}

/// A REPL session's state.
pub struct Repl {
    host: Host,
    scope: Scope<'static>,
    /// Every `fn` defined so far (no statements).
    functions: AST,
    /// All inputs so far, each starting on a new line.
    transcript: String,
    transcript_lines: usize,
    /// The stretches of the transcript that `:load` read from files, for error positions.
    loaded: Vec<(usize, usize, String)>,
    /// What completion knows of the session.
    names: Arc<Mutex<SessionNames>>,
    /// Whether a line is being evaluated (only then does Ctrl-C stop anything).
    running: Arc<AtomicBool>,
    /// Set when Ctrl-C stopped a line of a piped session, which then ends.
    stopped: Arc<AtomicBool>,
    /// `--timeout`, applied to each line.
    timeout: Option<Duration>,
    /// Terminal (prompts, line editing) or piped (line by line, no prompts).
    interactive: bool,
}

impl Repl {
    /// A session over a connected `host`; `timeout` bounds each line.
    pub fn new(host: Host, timeout: Option<Duration>, interactive: bool) -> Repl {
        let scope = host.new_scope();
        let running = Arc::new(AtomicBool::new(false));
        let stopped = Arc::new(AtomicBool::new(false));
        let repl = Repl {
            host,
            scope,
            functions: AST::empty(),
            transcript: String::new(),
            transcript_lines: 0,
            loaded: Vec::new(),
            names: Arc::new(Mutex::new(SessionNames::default())),
            running,
            stopped,
            timeout,
            interactive,
        };
        repl.refresh_names();
        repl
    }

    /// What the signal policy needs to stop a running line (register it before [`Repl::run`]).
    pub fn interrupt_hook(&self) -> InterruptHook {
        InterruptHook {
            interrupt: self.host.interrupt_handle(),
            running: self.running.clone(),
            stopped: self.stopped.clone(),
            interactive: self.interactive,
        }
    }

    /// Runs the session to its end: on a terminal after a greeting naming `exchange`, else
    /// over standard input.
    pub fn run(&mut self, exchange: &str) -> Exit {
        if self.interactive {
            say(&banner(exchange, &self.host));
            self.interactive()
        } else {
            self.piped(std::io::stdin().lock())
        }
    }

    /// The terminal loop: prompt, edit, evaluate, until `:quit` or Ctrl-D.
    fn interactive(&mut self) -> Exit {
        let config = Config::builder()
            .max_history_size(HISTORY_SIZE)
            .and_then(|builder| builder.history_ignore_dups(true));
        let config = match config {
            Ok(builder) => builder
                .history_ignore_space(true)
                .auto_add_history(false)
                .completion_type(CompletionType::List)
                .build(),
            Err(error) => {
                complain(&format!("error: cannot set up line editing: {error}"));
                return Exit::Usage;
            }
        };
        let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
            Ok(editor) => editor,
            Err(error) => {
                complain(&format!("error: cannot set up line editing: {error}"));
                return Exit::Usage;
            }
        };
        editor.set_helper(Some(ReplHelper::new(&self.host, self.names.clone())));
        let history = crate::config::state_dir().join("history");
        if let Err(error) = editor.load_history(&history)
            && !is_not_found(&error)
        {
            complain(&format!(
                "warning: cannot read the history in {}: {error}",
                history.display()
            ));
        }
        let exit = loop {
            let prompt = if self.host.is_dry_run() {
                "clob (dry run)> "
            } else {
                "clob> "
            };
            match editor.readline(prompt) {
                Ok(line) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let _ = editor.add_history_entry(line.as_str());
                    if let Step::Quit = self.step(&line) {
                        break Exit::Success;
                    }
                }
                // Ctrl-C at the prompt: the line is dropped, a fresh prompt follows.
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => break Exit::Success,
                Err(error) => {
                    complain(&format!("error: cannot read the terminal: {error}"));
                    break Exit::Usage;
                }
            }
        };
        save_history(&mut editor, &history);
        exit
    }

    /// The scripted loop: inputs from `input` line by line, results on stdout, errors on
    /// stderr. Exit 0 if every input succeeded, else the code of the last one that failed.
    fn piped(&mut self, input: impl BufRead) -> Exit {
        let mut last_failure = None;
        let mut pending = String::new();
        for line in input.lines() {
            let line = match line {
                Ok(line) => line,
                Err(error) => {
                    complain(&format!("error: cannot read standard input: {error}"));
                    return Exit::Usage;
                }
            };
            if pending.is_empty() && line.trim_start().starts_with(':') {
                if !note(self.step(&line), &mut last_failure) {
                    break;
                }
                continue;
            }
            if !pending.is_empty() {
                pending.push('\n');
            }
            pending.push_str(&line);
            if pending.trim().is_empty() {
                pending.clear();
                continue;
            }
            if input::is_complete(&pending) {
                let text = std::mem::take(&mut pending);
                if !note(self.step(&text), &mut last_failure) {
                    break;
                }
            }
            if self.stopped.load(Ordering::SeqCst) {
                complain(STOPPED);
                return Exit::Interrupted;
            }
        }
        // An unfinished statement at the end: let the compiler say what is missing.
        if !pending.trim().is_empty() {
            note(self.step(&pending), &mut last_failure);
        }
        if self.stopped.load(Ordering::SeqCst) {
            complain(STOPPED);
            return Exit::Interrupted;
        }
        last_failure.unwrap_or(Exit::Success)
    }

    /// One input: a `:command` or script text.
    fn step(&mut self, input: &str) -> Step {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Step::Next(Ok(()));
        }
        if trimmed.starts_with(':') {
            return self.command(trimmed);
        }
        Step::Next(self.run_code(input, None))
    }

    fn command(&mut self, line: &str) -> Step {
        let (name, argument) = match line.split_once(char::is_whitespace) {
            Some((name, rest)) => (name, rest.trim()),
            None => (line, ""),
        };
        let result = match name {
            ":help" | ":h" | ":?" => self.help(argument),
            ":vars" => {
                say(&self.vars());
                Ok(())
            }
            ":load" if argument.is_empty() => usage("`:load` needs a file: `:load FILE`"),
            ":load" => self.load(Path::new(argument)),
            ":dry-run" => self.dry_run(argument),
            ":quit" | ":q" | ":exit" => return Step::Quit,
            _ => usage(&format!(
                "unknown command `{name}`; `:help` lists the commands"
            )),
        };
        Step::Next(result)
    }

    /// Evaluates script text and prints its value, or its error.
    fn run_code(&mut self, text: &str, path: Option<PathBuf>) -> Result<(), Exit> {
        match self.evaluate(text, path) {
            Ok(value) => {
                if let Some(shown) = show::show(&value) {
                    say(&shown);
                }
                Ok(())
            }
            Err(error) => {
                complain(error.rendered());
                Err(error.exit())
            }
        }
    }

    fn evaluate(&mut self, text: &str, path: Option<PathBuf>) -> Result<Dynamic, ScriptError> {
        let script = self.compile(text, path)?;
        self.host.clear_interrupt();
        self.running.store(true, Ordering::SeqCst);
        let result = self
            .host
            .eval_bounded(&script, &mut self.scope, self.timeout);
        self.running.store(false, Ordering::SeqCst);
        self.refresh_names();
        result
    }

    /// Compiles `text` at the end of the transcript, with every function defined so far, and
    /// checks the functions it calls. Its own `fn`s join the session's once it compiles.
    fn compile(
        &mut self,
        text: &str,
        path: Option<PathBuf>,
    ) -> Result<crate::script::Script, ScriptError> {
        let lines = text.lines().count().max(1);
        if self.transcript_lines + lines > MAX_TRANSCRIPT_LINES {
            self.transcript.clear();
            self.transcript_lines = 0;
            self.loaded.clear();
        }
        if let Some(path) = &path {
            let first = self.transcript_lines + 1;
            self.loaded.push((first, lines, path.display().to_string()));
        }
        let padded = format!("{}{text}", "\n".repeat(self.transcript_lines));
        self.transcript.push_str(text);
        if !text.ends_with('\n') {
            self.transcript.push('\n');
        }
        self.transcript_lines += lines;
        let compiled = self.host.compile_source(
            SourceText::new(SOURCE_NAME, padded, path.clone()).with_files(self.loaded.clone()),
        )?;
        let mut script = compiled.with_source(
            SourceText::new(SOURCE_NAME, self.transcript.clone(), path)
                .with_files(self.loaded.clone()),
        );
        let line = std::mem::take(script.ast_mut());
        *script.ast_mut() = self.functions.merge(&line);
        let problems = self.host.unknown_functions(&script);
        if !problems.is_empty() {
            return Err(ScriptError::combined(Exit::Usage, problems));
        }
        self.functions = self.functions.merge(&line.clone_functions_only());
        Ok(script)
    }

    /// Tells completion the session's current variables and functions.
    fn refresh_names(&self) {
        let mut variables = Vec::new();
        let mut map_keys = std::collections::BTreeMap::new();
        for (name, _, value) in self.scope.iter_raw() {
            if variables.iter().any(|v| v == name) {
                continue;
            }
            variables.push(name.to_owned());
            // Only keys that can follow a `.`; a map keyed by order ids has none.
            if let Some(map) = crate::script::as_map(value) {
                let keys = map
                    .keys()
                    .filter(|k| is_identifier(k))
                    .take(MAX_COMPLETED_KEYS)
                    .map(|k| k.to_string())
                    .collect();
                map_keys.insert(name.to_owned(), keys);
            }
        }
        let functions = self
            .functions
            .iter_functions()
            .filter(|f| !is_closure(f.name))
            .map(|f| f.name.to_owned())
            .collect();
        let mut names = self
            .names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *names = SessionNames {
            variables,
            map_keys,
            functions,
        };
    }

    /// `:help` and `:help NAME`.
    fn help(&self, name: &str) -> Result<(), Exit> {
        if name.is_empty() {
            say(&self.overview());
            return Ok(());
        }
        if name.starts_with(':') {
            say(COMMAND_HELP);
            return Ok(());
        }
        let name = name.trim_end_matches("()");
        let overloads: Vec<_> = self.host.functions().filter(|f| f.name == name).collect();
        if overloads.is_empty() {
            let similar: Vec<&str> = self
                .host
                .functions()
                .map(|f| f.name.as_str())
                .filter(|n| n.contains(name))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let hint = if similar.is_empty() {
                "`:help` lists them all".to_owned()
            } else {
                format!("similar: {}", similar.join(", "))
            };
            return usage(&format!(
                "no clobscript function is called `{name}`; {hint}"
            ));
        }
        let mut out = String::new();
        for (index, f) in overloads.iter().enumerate() {
            if index > 0 {
                out.push('\n');
            }
            out.push_str(&f.signature());
            out.push('\n');
            if !f.doc.is_empty() {
                out.push('\n');
                out.push_str(&plain_doc(&f.doc));
                out.push('\n');
            }
        }
        say(out.trim_end());
        Ok(())
    }

    /// Every function by area, one summary per name, then the commands.
    fn overview(&self) -> String {
        let mut out = String::from("Functions (`:help NAME` shows one in full):\n");
        for area in self.host.api_areas() {
            out.push_str(&format!("\n{}\n", area.title));
            let mut index = 0;
            while index < area.functions.len() {
                let name = &area.functions[index].name;
                let same: Vec<_> = area.functions[index..]
                    .iter()
                    .take_while(|f| &f.name == name)
                    .collect();
                for f in &same {
                    out.push_str(&format!("  {}\n", f.signature()));
                }
                let summary = same.iter().map(|f| f.summary()).find(|s| !s.is_empty());
                if let Some(summary) = summary {
                    out.push_str(&format!("      {summary}\n"));
                }
                index += same.len();
            }
        }
        out.push('\n');
        out.push_str(COMMAND_HELP);
        out
    }

    /// `:vars`: every variable with its type and a short value, then the session's `fn`s.
    fn vars(&self) -> String {
        let mut seen: Vec<&str> = Vec::new();
        let mut rows = Vec::new();
        for (name, constant, value) in self.scope.iter_raw() {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let kind = rhai_type_name(value.type_name());
            let kind = if constant {
                format!("{kind} (constant)")
            } else {
                kind.to_owned()
            };
            rows.push(Dynamic::from_map(Map::from([
                ("name".into(), name.into()),
                ("type".into(), kind.into()),
                ("value".into(), show::brief(value).into()),
            ])));
        }
        // The scope lists the newest first; show them in the order they were defined.
        rows.reverse();
        let columns = ["name", "type", "value"].map(String::from).to_vec();
        let mut out = crate::script::render_table(&rows, Some(columns));
        let functions: Vec<String> = self
            .functions
            .iter_functions()
            .filter(|f| !is_closure(f.name))
            .map(|f| format!("  fn {}({})", f.name, f.params.join(", ")))
            .collect();
        if !functions.is_empty() {
            out.push_str("\n\nFunctions:\n");
            out.push_str(&functions.join("\n"));
        }
        out
    }

    /// `:load FILE`: runs the file in this session.
    fn load(&mut self, path: &Path) -> Result<(), Exit> {
        match std::fs::read_to_string(path) {
            Ok(text) => self.run_code(&text, Some(path.to_owned())),
            Err(error) => usage(&format!("cannot read {}: {error}", path.display())),
        }
    }

    /// `:dry-run on|off`, or the current state.
    fn dry_run(&self, argument: &str) -> Result<(), Exit> {
        match argument {
            "on" => self.host.set_dry_run(true),
            "off" => self.host.set_dry_run(false),
            "" => {}
            other => {
                return usage(&format!(
                    "`:dry-run {other}`: write `:dry-run on` or `:dry-run off`"
                ));
            }
        }
        say(if self.host.is_dry_run() {
            "dry run is on: cancels are recorded and reported, none is sent"
        } else {
            "dry run is off: cancels are sent to the exchange"
        });
        Ok(())
    }
}

/// The one-line greeting: where the session is connected and whether cancels are sent.
fn banner(exchange: &str, host: &Host) -> String {
    let dry_run = if host.is_dry_run() {
        "dry run on (cancels are recorded, not sent)"
    } else {
        "dry run off"
    };
    let guard = host
        .max_cancels()
        .map(|n| format!(", at most {n} cancels"))
        .unwrap_or_default();
    format!(
        "clobscript repl: {exchange}; {dry_run}{guard}. `:help` lists functions and commands, Ctrl-D quits."
    )
}

/// A function's documentation for a terminal: code fences dropped, code indented.
fn plain_doc(doc: &str) -> String {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        out.push(if in_code {
            Cow::Owned(format!("    {line}"))
        } else {
            Cow::Borrowed(line)
        });
    }
    out.join("\n")
}

fn is_identifier(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Closures are compiled to functions named `anon$…`; they are kept (a variable may hold one)
/// but not listed.
fn is_closure(name: &str) -> bool {
    name.starts_with("anon$")
}

fn is_not_found(error: &ReadlineError) -> bool {
    matches!(error, ReadlineError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
}

fn save_history(editor: &mut Editor<ReplHelper, DefaultHistory>, path: &Path) {
    if let Some(folder) = path.parent() {
        let _ = std::fs::create_dir_all(folder);
    }
    if let Err(error) = editor.save_history(path) {
        complain(&format!(
            "warning: cannot save the history to {}: {error}",
            path.display()
        ));
    }
}

/// Records a piped input's outcome; `false` once the session should end.
fn note(step: Step, last_failure: &mut Option<Exit>) -> bool {
    match step {
        Step::Next(Err(exit)) => {
            *last_failure = Some(exit);
            true
        }
        Step::Next(Ok(())) => true,
        Step::Quit => false,
    }
}

/// Reports a command misuse (exit 2 for a piped session).
fn usage(message: &str) -> Result<(), Exit> {
    complain(&format!("error: {message}"));
    Err(Exit::Usage)
}

/// A line on stdout; a closed pipe is not worth failing over.
fn say(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn complain(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
