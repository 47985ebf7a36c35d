//! The [`Host`]: one Rhai engine with the CLOB API registered, and the state its functions
//! share (exchange connection, dry-run flag, cancel guard, audit log, counters, interrupt).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rhai::{AST, Dynamic, Engine, EvalAltResult, FnPtr, Position, Scope};
use tokio::runtime::Handle;

use super::api;
use super::args::ScriptArgs;
use super::cancels::{
    AuditContext, AuditLog, AuditOpenError, AuditTarget, AuditWriteError, Phase, Record, Safety,
};
use super::check::{self, KnownFunctions};
use super::docs::{self, AreaDoc, FnDoc};
use super::errors::{self, Explain, ScriptError};
use super::handlers::Registry;
use super::interrupt::{Deadline, Interrupt, StopReason};
use crate::clob::{Client, ClientStats};
use crate::exit::Exit;

/// Sandbox limits. The defaults let a playbook work through several hundred thousand orders
/// while stopping runaway loops, recursion and memory growth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Operations (roughly: expressions evaluated) per evaluation.
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_levels: usize,
    /// Expression nesting at the top level and inside functions.
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    /// String bytes, array items and map entries, each counted over a whole value (an array of
    /// orders counts every string and field of every order).
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    /// Modules imported per evaluation.
    pub max_modules: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 1_000_000_000,
            max_call_levels: 64,
            max_expr_depth: 128,
            max_function_expr_depth: 64,
            max_string_size: 256 * 1024 * 1024,
            max_array_size: 10_000_000,
            max_map_size: 20_000_000,
            max_modules: 32,
        }
    }
}

impl Limits {
    fn apply(&self, engine: &mut Engine) {
        engine
            .set_max_operations(self.max_operations)
            .set_max_call_levels(self.max_call_levels)
            .set_max_expr_depths(self.max_expr_depth, self.max_function_expr_depth)
            .set_max_string_size(self.max_string_size)
            .set_max_array_size(self.max_array_size)
            .set_max_map_size(self.max_map_size)
            .set_max_modules(self.max_modules);
    }
}

/// The exchange a host talks to: the shared client and the runtime that drives its requests.
#[derive(Clone, Debug)]
pub struct Backend {
    pub client: Client,
    pub handle: Handle,
}

/// How a [`Host`] behaves.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// `--arg` parameters (`ARGS` and `arg()`).
    pub args: ScriptArgs,
    /// Record cancels instead of sending them (changeable later with [`Host::set_dry_run`]).
    pub dry_run: bool,
    /// Stop before a cancel that would take the total past this many orders.
    pub max_cancels: Option<u64>,
    pub audit: AuditTarget,
    pub limits: Limits,
    /// Send `print` and `table` output to stderr (when stdout carries `--json`).
    pub print_to_stderr: bool,
    /// Show a spinner on stderr during long fetches (only sensible when stderr is a terminal).
    pub progress: bool,
    /// Share a stop signal with the caller (a scheduler); by default the host makes its own.
    pub interrupt: Option<Interrupt>,
    /// What the script writes to stderr (`print` with `--json`, `debug`) as JSON lines
    /// (`--log-format json`).
    pub json_lines: super::output::StderrLines,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            args: ScriptArgs::default(),
            dry_run: false,
            max_cancels: None,
            audit: AuditTarget::Default,
            limits: Limits::default(),
            print_to_stderr: false,
            progress: false,
            interrupt: None,
            json_lines: super::output::StderrLines::Text,
        }
    }
}

pub use super::source::SourceText;

/// A compiled script with the source its errors point into.
#[derive(Clone, Debug)]
pub struct Script {
    ast: AST,
    source: Arc<SourceText>,
}

impl Script {
    pub fn ast(&self) -> &AST {
        &self.ast
    }

    /// The AST, e.g. for a REPL that merges earlier `fn` definitions into each new line
    /// (`script.ast_mut().combine(...)`).
    pub fn ast_mut(&mut self) -> &mut AST {
        &mut self.ast
    }

    pub fn source(&self) -> &SourceText {
        &self.source
    }

    /// The same script, with its errors shown against `source` instead. The REPL compiles each
    /// line at its place in the session's transcript and shows errors against the whole
    /// transcript, so a failure inside a `fn` defined lines earlier quotes that line.
    pub fn with_source(mut self, source: SourceText) -> Script {
        self.source = Arc::new(source);
        self
    }
}

/// What the static checks found in a script and its modules.
#[derive(Debug, Default)]
pub(crate) struct StaticCheck {
    pub(crate) problems: Vec<ScriptError>,
    pub(crate) params: check::ParamReads,
}

/// What one host did so far: requests and cancels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// HTTP requests sent (every page and every retry counts).
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Cancel requests the exchange's rate limiter refused (each was sent again).
    pub refused: u64,
    /// Time spent waiting for the cancel rate limit.
    #[serde(serialize_with = "seconds")]
    pub rate_limit_wait: Duration,
    /// Orders whose cancel may have reached the exchange without an answer.
    pub unknown: u64,
    /// Orders a stopped or failed cancel never sent.
    pub unsent: u64,
    /// Orders the exchange reported canceled.
    pub canceled: u64,
    /// Orders the exchange reported not canceled (already canceled, unknown, ...).
    pub not_canceled: u64,
    /// Orders a dry run would have sent for cancellation.
    pub would_cancel: u64,
    /// Whether the host is in dry-run mode.
    pub dry_run: bool,
}

impl Summary {
    /// Requests and cancels in one line, as `run` reports them on stderr.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{} request{}",
            self.requests,
            super::cancels::plural(self.requests)
        );
        if self.retries > 0 {
            line.push_str(&format!(
                " ({} retr{})",
                self.retries,
                if self.retries == 1 { "y" } else { "ies" }
            ));
        }
        line.push_str(&format!(
            ", {} order{} canceled, {} not canceled",
            self.canceled,
            super::cancels::plural(self.canceled),
            self.not_canceled
        ));
        if self.unknown > 0 || self.unsent > 0 {
            line.push_str(&format!(
                ", {} with unknown outcome, {} never sent",
                self.unknown, self.unsent
            ));
        }
        if self.refused > 0 || self.rate_limit_wait >= Duration::from_millis(50) {
            line.push_str(&format!(
                "; rate limit: {} request{} refused and sent again, {:.1}s waiting",
                self.refused,
                super::cancels::plural(self.refused),
                self.rate_limit_wait.as_secs_f64()
            ));
        }
        if self.dry_run {
            line.push_str(&format!(
                "; dry run: {} order{} would have been canceled, no cancel was sent",
                self.would_cancel,
                super::cancels::plural(self.would_cancel)
            ));
        }
        line
    }
}

fn seconds<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((value.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// The state every registered function reaches through the engine's tag.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) backend: OnceLock<Backend>,
    baseline: Mutex<ClientStats>,
    pub(crate) interrupt: Interrupt,
    pub(crate) safety: Safety,
    pub(crate) counters: super::cancels::observer::Counters,
    /// When the current bounded evaluation's `--timeout` runs out.
    pub(crate) deadline: Mutex<Option<std::time::Instant>>,
    pub(crate) args: ScriptArgs,
    print_to_stderr: AtomicBool,
    pub(crate) progress: bool,
    json_lines: super::output::StderrLines,
    /// The last exchange failure handed to the script, to tell it apart from a `throw`.
    last_api_failure: Mutex<Option<(String, Exit)>>,
    import_root: Mutex<Option<PathBuf>>,
    audit_context: Mutex<AuditContext>,
    /// What a `watch` script registered (`on_fill`, `on_order`, `every`).
    pub(crate) handlers: Registry,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HostState {
    pub(crate) fn backend(&self) -> Result<&Backend, Box<EvalAltResult>> {
        self.backend.get().ok_or_else(|| {
            EvalAltResult::ErrorRuntime(
                "not connected to an exchange (use `clobscript run`, or `--sim` to try a playbook)"
                    .into(),
                Position::NONE,
            )
            .into()
        })
    }

    /// Stops the run for `reason` and returns the error that unwinds the script.
    pub(crate) fn stop(&self, reason: StopReason) -> Box<EvalAltResult> {
        self.interrupt.trigger(reason);
        self.terminated()
    }

    /// The error that unwinds a stopped script (not catchable by `try`/`catch`).
    pub(crate) fn terminated(&self) -> Box<EvalAltResult> {
        let reason = self.interrupt.reason().unwrap_or(StopReason::Interrupted);
        EvalAltResult::ErrorTerminated(Dynamic::from(reason), Position::NONE).into()
    }

    pub(crate) fn record_api_failure(&self, message: &str, exit: Exit) {
        *lock(&self.last_api_failure) = Some((message.to_owned(), exit));
    }

    pub(crate) fn audit_context(&self) -> AuditContext {
        lock(&self.audit_context).clone()
    }

    pub(crate) fn import_root(&self) -> Option<PathBuf> {
        lock(&self.import_root).clone()
    }

    /// Writes `text` and a newline where `print` goes; a closed pipe is not the script's error.
    pub(crate) fn emit(&self, text: &str) {
        use std::io::Write as _;
        let line = if self.json_lines == super::output::StderrLines::Json
            && self.print_to_stderr.load(Ordering::Relaxed)
        {
            format!(
                "{}\n",
                super::output::json_line("INFO", "clobscript::script", text)
            )
        } else {
            format!("{text}\n")
        };
        let _ = if self.print_to_stderr.load(Ordering::Relaxed) {
            std::io::stderr().lock().write_all(line.as_bytes())
        } else {
            std::io::stdout().lock().write_all(line.as_bytes())
        };
    }
}

/// The value the engine carries as its tag so registered functions find the host state.
#[derive(Clone, Debug)]
pub(crate) struct HostRef(pub(crate) Arc<HostState>);

/// A Rhai engine with the CLOB API, and the state its functions share. `Send + Sync`: the REPL
/// can evaluate on one thread while another holds an [`Interrupt`].
pub struct Host {
    engine: Engine,
    state: Arc<HostState>,
    limits: Limits,
    areas: OnceLock<Vec<AreaDoc>>,
    known: OnceLock<KnownFunctions>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("state", &self.state).finish()
    }
}

impl Host {
    /// Builds the engine. Opens the audit log now, so a log that cannot be written stops the
    /// run before any request. Connect it to an exchange with [`Host::connect`].
    pub fn new(options: HostOptions) -> Result<Host, AuditOpenError> {
        let audit = match options.audit.path() {
            Some(path) => Some(AuditLog::open(&path)?),
            None => None,
        };
        Ok(Host::build(options, audit))
    }

    /// A host that never talks to an exchange (for `check`, `docs` and completion): every
    /// exchange function fails with "not connected", nothing is audited.
    pub fn offline() -> Host {
        Host::build(HostOptions::default(), None)
    }

    fn build(options: HostOptions, audit: Option<AuditLog>) -> Host {
        let state = Arc::new(HostState {
            backend: OnceLock::new(),
            baseline: Mutex::new(ClientStats::default()),
            interrupt: options.interrupt.clone().unwrap_or_default(),
            safety: Safety::new(options.dry_run, options.max_cancels, audit),
            counters: super::cancels::observer::Counters::default(),
            deadline: Mutex::new(None),
            args: options.args,
            print_to_stderr: AtomicBool::new(options.print_to_stderr),
            progress: options.progress,
            json_lines: options.json_lines,
            last_api_failure: Mutex::new(None),
            import_root: Mutex::new(None),
            audit_context: Mutex::new(AuditContext::default()),
            handlers: Registry::default(),
        });
        let engine = build_engine(&state, &options.limits);
        Host {
            engine,
            state,
            limits: options.limits,
            areas: OnceLock::new(),
            known: OnceLock::new(),
        }
    }

    /// Points the exchange functions at `backend`. Returns `false` (and changes nothing) if the
    /// host was already connected.
    pub fn connect(&self, backend: Backend) -> bool {
        let stats = backend.client.stats();
        let host = backend.client.host().to_owned();
        if self.state.backend.set(backend).is_err() {
            return false;
        }
        *lock(&self.state.baseline) = stats;
        lock(&self.state.audit_context).host = host;
        true
    }

    /// Begins a run in the audit log: a `run` record (script, host, dry run, limit), written
    /// and flushed before anything is sent. A log that cannot be written is reported here, so
    /// the run never starts (exit 2). Call after [`Host::connect`], before evaluating.
    pub fn begin_run(&self, script: &str) -> Result<(), AuditWriteError> {
        lock(&self.state.audit_context).script = script.to_owned();
        let record = Record {
            dry_run: Some(self.state.safety.is_dry_run()),
            max_cancels: self.state.safety.max_cancels(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            phase: Some(Phase::Run),
            ..Record::default()
        };
        self.state
            .safety
            .write_ahead(&self.state.audit_context(), &record)
    }

    /// The audit log's id of this host's run, if it keeps a log.
    pub fn run_id(&self) -> Option<&str> {
        self.state.safety.log().map(AuditLog::run_id)
    }

    /// Compiles a script file. Unreadable files and syntax errors are exit-2 errors.
    pub fn compile_file(&self, path: &Path) -> Result<Script, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ScriptError::plain(
                Exit::Usage,
                format!("cannot read script {}: {e}", path.display()),
            )
        })?;
        let source = SourceText::new(path.display().to_string(), text, Some(path.to_owned()));
        self.compile_source(source)
    }

    /// Compiles script text (the REPL passes each line as a source named e.g. `<repl>`).
    pub fn compile_source(&self, source: SourceText) -> Result<Script, ScriptError> {
        match self.engine.compile(&source.text) {
            Ok(mut ast) => {
                ast.set_source(source.name.as_str());
                Ok(Script {
                    ast,
                    source: Arc::new(source),
                })
            }
            Err(err) => Err(errors::parse_error(&err, &source)),
        }
    }

    /// Every call in `script`, and in every module it imports, to a function that does not
    /// exist or not with that number of arguments; modules that cannot be found or compiled
    /// (what `check` reports, and `run` refuses to start with).
    pub fn unknown_functions(&self, script: &Script) -> Vec<ScriptError> {
        self.static_check(script).problems
    }

    /// The static checks of `script` and of every module it imports by a literal path
    /// (modules of modules too, each once): their problems, and the parameters they read.
    pub(crate) fn static_check(&self, script: &Script) -> StaticCheck {
        let mut result = StaticCheck::default();
        result.problems.extend(check::unknown_calls(
            self.known(),
            &script.ast,
            &script.source,
        ));
        check::param_reads(&script.ast, &mut result.params);
        let Some(root) = script.source.folder() else {
            return result;
        };
        let mut seen = std::collections::HashSet::new();
        let mut pending: Vec<(Arc<SourceText>, AST)> =
            vec![(script.source.clone(), script.ast.clone())];
        while let Some((source, ast)) = pending.pop() {
            for (import, position) in check::imports(&ast) {
                let path = match super::resolver::module_path(&root, &import) {
                    Ok(path) => path,
                    Err(refused) => {
                        let span = errors::Span::at(position, "import".len());
                        let (reason, notes) = match refused {
                            super::resolver::ImportError::Missing(_) => (
                                "no such module in the script's folder".to_owned(),
                                vec![format!("help: {}", errors::IMPORT_HELP)],
                            ),
                            other => (other.to_string(), Vec::new()),
                        };
                        result.problems.push(errors::located(
                            Exit::Usage,
                            format!("cannot import `{import}`: {reason}"),
                            &source,
                            span,
                            &notes,
                        ));
                        continue;
                    }
                };
                if !seen.insert(path.clone()) || seen.len() > self.limits.max_modules {
                    continue;
                }
                let module = match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        SourceText::new(path.display().to_string(), text, Some(path.clone()))
                    }
                    Err(e) => {
                        result.problems.push(ScriptError::plain(
                            Exit::Usage,
                            format!("cannot read module {}: {e}", path.display()),
                        ));
                        continue;
                    }
                };
                match self.engine.compile(&module.text) {
                    Ok(module_ast) => {
                        result.problems.extend(check::unknown_calls(
                            self.known(),
                            &module_ast,
                            &module,
                        ));
                        check::param_reads(&module_ast, &mut result.params);
                        pending.push((Arc::new(module), module_ast));
                    }
                    Err(err) => result.problems.push(errors::parse_error(&err, &module)),
                }
            }
        }
        result
    }

    /// A fresh scope holding the `ARGS` constant.
    pub fn new_scope(&self) -> Scope<'static> {
        let mut scope = Scope::new();
        scope.push_constant("ARGS", self.state.args.to_map());
        scope
    }

    /// Runs `script` in `scope` (kept by the caller: variables survive between calls) and
    /// returns its final value. Must not be called from a tokio runtime worker thread: the
    /// exchange functions block on the runtime.
    pub fn eval(&self, script: &Script, scope: &mut Scope<'_>) -> Result<Dynamic, ScriptError> {
        let root = script
            .source
            .folder()
            .or_else(|| std::env::current_dir().ok());
        *lock(&self.state.import_root) = root;
        lock(&self.state.audit_context).script = script.source.name.clone();
        self.engine
            .eval_ast_with_scope::<Dynamic>(scope, &script.ast)
            .map_err(|err| self.explain(&err, script))
    }

    /// The one bounded evaluation that `run`, the REPL and the scheduler share: [`Host::eval`]
    /// stopped with [`StopReason::Timeout`] once `timeout` passes, and failed when a stop
    /// (a guard, an interrupt) fired inside a call the script caught with `try`/`catch`.
    pub fn eval_bounded(
        &self,
        script: &Script,
        scope: &mut Scope<'_>,
        timeout: Option<Duration>,
    ) -> Result<Dynamic, ScriptError> {
        let interrupt = self.interrupt_handle();
        let deadline = timeout.map(|limit| Deadline::start(interrupt.clone(), limit));
        *lock(&self.state.deadline) = timeout.map(|limit| std::time::Instant::now() + limit);
        let result = self.eval(script, scope);
        *lock(&self.state.deadline) = None;
        drop(deadline);
        match (result, interrupt.swallowed_stop()) {
            (Ok(_), Some(error)) => Err(error),
            (result, _) => result,
        }
    }

    /// Calls a handler that `script` registered (a closure or `Fn("name")`) with `args`, bounded
    /// like [`Host::eval_bounded`]: the same interrupt stops it, `timeout` limits it, and a
    /// stop it caught with `try`/`catch` still fails it. Errors point into `script`.
    pub fn call_handler(
        &self,
        script: &Script,
        handler: &FnPtr,
        args: Vec<Dynamic>,
        timeout: Option<Duration>,
    ) -> Result<Dynamic, ScriptError> {
        let interrupt = self.interrupt_handle();
        let deadline = timeout.map(|limit| Deadline::start(interrupt.clone(), limit));
        let result = handler
            .call::<Dynamic>(&self.engine, &script.ast, args)
            .map_err(|err| self.explain(&err, script));
        drop(deadline);
        match (result, interrupt.swallowed_stop()) {
            (Ok(_), Some(error)) => Err(error),
            (result, _) => result,
        }
    }

    /// The handler registry of `clobscript watch`.
    pub fn handlers(&self) -> &Registry {
        &self.state.handlers
    }

    fn explain(&self, err: &EvalAltResult, script: &Script) -> ScriptError {
        let context = Explain {
            source: &script.source,
            known: self.known(),
            script_functions: check::script_functions(&script.ast),
            api_failure: lock(&self.state.last_api_failure).clone(),
            limits: &self.limits,
            import_root: self.state.import_root(),
        };
        errors::eval_error(err, &context)
    }

    /// A cloneable handle that stops the running script (Ctrl-C, timeouts, shutdown).
    pub fn interrupt_handle(&self) -> Interrupt {
        self.state.interrupt.clone()
    }

    /// Re-arms the interrupt after a stopped evaluation (the REPL calls this before each line).
    pub fn clear_interrupt(&self) {
        self.state.interrupt.reset();
    }

    pub fn is_dry_run(&self) -> bool {
        self.state.safety.is_dry_run()
    }

    /// Switches dry run on or off for the following cancels.
    pub fn set_dry_run(&self, on: bool) {
        self.state.safety.set_dry_run(on);
    }

    pub fn max_cancels(&self) -> Option<u64> {
        self.state.safety.max_cancels()
    }

    /// The audit log file, if this host keeps one.
    pub fn audit_path(&self) -> Option<&Path> {
        self.state.safety.log().map(AuditLog::path)
    }

    /// Requests and cancels since the host was connected.
    pub fn summary(&self) -> Summary {
        let (requests, retries, refused, rate_limit_wait) = match self.state.backend.get() {
            Some(backend) => {
                let now = backend.client.stats();
                let base = *lock(&self.state.baseline);
                (
                    now.requests.saturating_sub(base.requests),
                    now.retries.saturating_sub(base.retries),
                    now.refused.saturating_sub(base.refused),
                    now.rate_limit_wait.saturating_sub(base.rate_limit_wait),
                )
            }
            None => (0, 0, 0, Duration::ZERO),
        };
        let counters = &self.state.counters;
        Summary {
            requests,
            retries,
            refused,
            rate_limit_wait,
            canceled: counters.canceled.load(Ordering::SeqCst),
            not_canceled: counters.not_canceled.load(Ordering::SeqCst),
            unknown: counters.unknown.load(Ordering::SeqCst),
            unsent: counters.unsent.load(Ordering::SeqCst),
            would_cancel: counters.would_cancel.load(Ordering::SeqCst),
            dry_run: self.state.safety.is_dry_run(),
        }
    }

    /// The API reference by area, from the registered functions' metadata.
    pub fn api_areas(&self) -> &[AreaDoc] {
        self.areas.get_or_init(docs::areas)
    }

    /// Every clobscript function overload (for `:help` and completion).
    pub fn functions(&self) -> impl Iterator<Item = &FnDoc> {
        self.api_areas().iter().flat_map(|a| a.functions.iter())
    }

    /// The reference as Markdown (what `clobscript docs` prints).
    pub fn reference_markdown(&self) -> String {
        docs::markdown(self.api_areas())
    }

    /// The underlying engine (e.g. for a REPL's own evaluation options).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn known(&self) -> &KnownFunctions {
        self.known.get_or_init(|| KnownFunctions::of(&self.engine))
    }
}

fn build_engine(state: &Arc<HostState>, limits: &Limits) -> Engine {
    let mut engine = Engine::new();
    engine.set_default_tag(Dynamic::from(HostRef(state.clone())));
    // Global modules registered later take precedence over the standard library (whose
    // own `sleep` cannot be interrupted).
    for (_, module) in api::modules() {
        engine.register_global_module(module.into());
    }
    engine.register_global_module(rhai::exported_module!(super::arrays::arrays_api).into());
    engine.register_global_module(super::values::module().into());
    engine.disable_symbol("eval");
    limits.apply(&mut engine);
    engine.set_module_resolver(super::resolver::ScriptFolderResolver::new(state.clone()));

    let interrupt = state.interrupt.clone();
    let on_progress_state = state.clone();
    engine.on_progress(move |_| {
        interrupt.is_triggered().then(|| {
            let reason = on_progress_state
                .interrupt
                .reason()
                .unwrap_or(StopReason::Interrupted);
            Dynamic::from(reason)
        })
    });
    let print_state = state.clone();
    engine.on_print(move |text| print_state.emit(text));
    let json_lines = state.json_lines;
    engine.on_debug(move |text, _source, position| {
        use std::io::Write as _;
        let place = match position.line() {
            Some(line) => format!(" (line {line})"),
            None => String::new(),
        };
        let line = format!("debug{place}: {text}");
        let line = if json_lines == super::output::StderrLines::Json {
            super::output::json_line("DEBUG", "clobscript::script", &line)
        } else {
            line
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    });
    engine
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Host>();
        shareable::<Script>();
    }
}
