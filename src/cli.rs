//! The command line: clap definitions only (the one definition of every flag). What each
//! command does with them is in [`crate::cmd`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::logging::LogFormat;
use crate::util::parse_duration;

/// A fixture path for `--sim`; empty (the flag given without a value) means generated data.
fn parse_fixture(text: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(text))
}

/// A boolean as people write it in the environment: `1`/`0`, `true`/`false`, `yes`/`no`,
/// `on`/`off` (any case); empty means false.
fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" | "n" | "f" => Ok(false),
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(true),
        _ => Err(format!(
            "`{text}` is not a boolean; write 1/0, true/false, yes/no or on/off"
        )),
    }
}

/// A count that must be at least 1.
fn parse_positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

/// A chain the exchange signs in on: 137 (Polygon) or 80002 (Amoy).
fn parse_chain_id(text: &str) -> Result<u64, String> {
    use crate::clob::l1::{AMOY_CHAIN_ID, POLYGON_CHAIN_ID};
    match text.trim().parse::<u64>() {
        Ok(id @ (POLYGON_CHAIN_ID | AMOY_CHAIN_ID)) => Ok(id),
        Ok(_) => Err(format!(
            "the exchange signs in on chain {POLYGON_CHAIN_ID} (Polygon) or {AMOY_CHAIN_ID} \
             (Amoy) only"
        )),
        Err(_) => Err(format!(
            "`{text}` is not a chain id; write {POLYGON_CHAIN_ID} (Polygon) or {AMOY_CHAIN_ID} \
             (Amoy)"
        )),
    }
}

fn parse_probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a probability between 0 and 1")),
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "clobscript",
    version,
    about = "Rhai playbooks for the Polymarket CLOB order API"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Exchange URL (default https://clob.polymarket.com; env CLOB_HOST).
    #[arg(long, global = true, value_name = "URL")]
    pub host: Option<String>,
    /// Take every credential from this profile of $XDG_CONFIG_HOME/clobscript/config.toml
    /// (without it: all four POLY_* variables, else the `default` profile).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// More diagnostics on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Diagnostics as text or JSON lines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Sign requests with the exchange's clock (read from /time once) instead of this
    /// machine's: for hosts whose clock cannot be trusted (env CLOB_SERVER_TIME=1).
    #[arg(
        long,
        global = true,
        env = "CLOB_SERVER_TIME",
        action = clap::ArgAction::SetTrue,
        value_parser = parse_switch
    )]
    pub server_time: bool,
    /// How long one HTTP request may take before it counts as failed (and is retried)
    /// [default: 15s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a playbook once.
    Run(RunArgs),
    /// Interactive shell with the full script API.
    Repl(ReplArgs),
    /// Run a playbook on an interval or cron schedule, or several jobs from a TOML file.
    Schedule(ScheduleArgs),
    /// Keep the exchange heartbeat (dead-man's switch) alive until stopped.
    Heartbeat(HeartbeatArgs),
    /// Run a playbook's handlers (on_fill, on_order, every) on the account's user channel.
    Watch(WatchArgs),
    /// Start the local CLOB simulator.
    Sim(SimArgs),
    /// API credentials from a wallet's private key (derive, create), and the account's API keys
    /// (keys, delete).
    Auth(AuthArgs),
    /// What a run did, read back from the audit log (default: the last run); `audit reconcile`
    /// reads the exchange for the orders whose outcome is unknown.
    Audit(AuditArgs),
    /// Compile a playbook without running it: syntax errors and unknown functions.
    Check(CheckArgs),
    /// Print the script API reference (Markdown), generated from the registered functions.
    Docs,
    /// Print a shell completion script (bash, zsh, fish or powershell) on stdout.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout, e.g. `clobscript man | man -l -`.
    Man,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells `completions` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args, Clone)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub action: Option<AuditAction>,
    #[command(flatten)]
    pub select: AuditSelect,
}

#[derive(Debug, Subcommand, Clone)]
pub enum AuditAction {
    /// Read the exchange for every order of the run whose outcome is unknown (GET
    /// /data/order/{id}) and append what was found to the log (`reconciled` records).
    Reconcile(AuditSelect),
}

/// Which run of which audit log.
#[derive(Debug, Args, Clone, Default)]
pub struct AuditSelect {
    /// The run: its id, or the start of it (default: the last run in the log).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// The report as JSON on stdout (every id, not only counts).
    #[arg(long)]
    pub json: bool,
    /// The audit log to read (default $XDG_STATE_HOME/clobscript/audit.jsonl).
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub action: AuthAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum AuthAction {
    /// The wallet's existing API credentials for a nonce (GET /auth/derive-api-key).
    #[command(after_help = WALLET_AFTER_HELP)]
    Derive(WalletArgs),
    /// New API credentials for the wallet, or its existing ones when the nonce already has a key
    /// (POST /auth/api-key, then GET /auth/derive-api-key).
    #[command(after_help = WALLET_AFTER_HELP)]
    Create(WalletArgs),
    /// List the API keys of the account the credentials belong to (--profile, POLY_*, or the
    /// default profile).
    Keys,
    /// Revoke the API key of the credentials in use; requests signed with it fail afterwards.
    /// Asks first on a terminal; scripts pass --yes.
    Delete(DeleteArgs),
}

/// What `auth derive --help` and `auth create --help` add below the flags.
const WALLET_AFTER_HELP: &str = "The private key names the account, so --profile is refused \
     here (exit 2): --save-profile NAME writes the credentials into a profile, and --host URL \
     picks the exchange.";

/// `auth delete`: the confirmation.
#[derive(Debug, Args, Clone)]
pub struct DeleteArgs {
    /// Revoke without asking. Without it, a terminal is asked to confirm (default no), and
    /// anything else (a script, cron, a pipe) is refused with exit 2 before any request.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// Where the wallet key comes from and what to do with the credentials.
#[derive(Debug, Args, Clone)]
pub struct WalletArgs {
    /// Read the private key from FILE (64 hex digits, with or without 0x). Without it:
    /// POLY_PRIVATE_KEY, else a hidden prompt on a terminal.
    #[arg(long, value_name = "FILE")]
    pub private_key_file: Option<PathBuf>,
    /// Key nonce: each nonce of a wallet has its own API key.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub nonce: u64,
    /// Chain the signature is for: 137 (Polygon, the exchange) or 80002 (Amoy).
    #[arg(
        long,
        value_name = "ID",
        default_value_t = crate::clob::l1::POLYGON_CHAIN_ID,
        value_parser = parse_chain_id
    )]
    pub chain_id: u64,
    /// Write the credentials (and the host) into the config file as profile NAME instead of
    /// printing them; only the API key and the address are printed.
    #[arg(long, value_name = "NAME")]
    pub save_profile: Option<String>,
    /// With --save-profile: replace an existing profile of that name.
    #[arg(long, requires = "save_profile")]
    pub force: bool,
}

/// The flags shared by `run`, `repl` and `schedule`.
#[derive(Debug, Args, Clone, Default)]
pub struct ExecArgs {
    /// Script parameter, typed as INT, FLOAT, BOOL or string (repeatable).
    #[arg(long = "arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,
    /// Run against an in-process simulator with generated data (or the given fixture).
    #[arg(long, value_name = "FIXTURE", num_args = 0..=1, default_missing_value = "", value_parser = parse_fixture)]
    pub sim: Option<PathBuf>,
    /// Record and report cancels without sending them.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop (exit 4) before a cancel that would take the run past N orders.
    #[arg(long, value_name = "N")]
    pub max_cancels: Option<u64>,
    /// Stop the script after this long (e.g. `30s`, `5m`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Audit log file (JSON lines; default $XDG_STATE_HOME/clobscript/audit.jsonl).
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// The playbook (.rhai) to run.
    pub script: PathBuf,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Print the script's final value as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ReplArgs {
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// The playbook (.rhai) to check.
    pub script: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct ScheduleArgs {
    /// The playbook to schedule (not with --jobs).
    #[arg(required_unless_present = "jobs", conflicts_with = "jobs")]
    pub script: Option<PathBuf>,
    /// Run every DURATION (e.g. `90s`, `5m`, `1h 30m`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "cron")]
    pub every: Option<Duration>,
    /// Run on a standard 5-field cron expression.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// Time zone for --cron (IANA name, e.g. `Europe/London`; default UTC).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Delay each run by a random amount up to DURATION.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub jitter: Option<Duration>,
    /// Stop after N runs.
    #[arg(long, value_name = "N")]
    pub max_runs: Option<u64>,
    /// Wait for the first scheduled time instead of running immediately.
    #[arg(long)]
    pub no_run_now: bool,
    /// Stop (non-zero exit) after N consecutive failed runs.
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u64>,
    /// On SIGINT/SIGTERM, how long a run in flight may finish before it is interrupted
    /// [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// Several jobs from a TOML file.
    #[arg(long, value_name = "FILE.toml")]
    pub jobs: Option<PathBuf>,
    /// Run log (JSON lines; default $XDG_STATE_HOME/clobscript/runs.jsonl).
    #[arg(long, value_name = "FILE")]
    pub run_log: Option<PathBuf>,
    /// Keep the exchange heartbeat alive while the scheduler runs.
    #[arg(long)]
    pub heartbeat: bool,
    /// Interval between heartbeats (advanced; the exchange cancels after ~10 s of silence)
    /// [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, hide = true)]
    pub heartbeat_interval: Option<Duration>,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    /// The playbook (.rhai): it runs once to register its handlers.
    pub script: PathBuf,
    /// The user channel (default wss://ws-subscriptions-clob.polymarket.com/ws/user; with
    /// --sim the in-process simulator's).
    #[arg(long, value_name = "URL")]
    pub ws_url: Option<String>,
    /// Only the trades and orders of this market (a condition id); repeat for more
    /// [default: every market].
    #[arg(long = "market", value_name = "CONDITION_ID")]
    pub markets: Vec<String>,
    /// Stop (exit 1) after N handler failures in a row.
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u64>,
    /// Keep the exchange heartbeat alive while watching.
    #[arg(long)]
    pub heartbeat: bool,
    /// Interval between heartbeats (advanced) [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, hide = true)]
    pub heartbeat_interval: Option<Duration>,
    /// On SIGINT/SIGTERM, how long a running handler may finish before it is interrupted
    /// [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// With --sim: other traders fill one of the account's open orders every INTERVAL.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration, requires = "sim")]
    pub sim_fills: Option<Duration>,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Args, Clone)]
pub struct HeartbeatArgs {
    /// Interval between heartbeats.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    pub interval: Duration,
    /// Heartbeat against an in-process simulator.
    #[arg(long, value_name = "FIXTURE", num_args = 0..=1, default_missing_value = "", value_parser = parse_fixture)]
    pub sim: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Number of generated orders.
    #[arg(long, value_name = "N", default_value_t = 3000, conflicts_with_all = ["fixture", "open_orders"])]
    pub orders: usize,
    /// Generate until the primary account has exactly N open orders (instead of --orders).
    #[arg(long, value_name = "N", conflicts_with = "fixture")]
    pub open_orders: Option<usize>,
    /// Seed for generated data and injected failures.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Load exchange state from a JSON fixture instead of generating it.
    #[arg(long, value_name = "FILE")]
    pub fixture: Option<PathBuf>,
    /// API key to accept (default: a demo key, printed at start).
    #[arg(long, value_name = "K")]
    pub api_key: Option<String>,
    /// Secret to accept (never printed).
    #[arg(long, value_name = "S")]
    pub secret: Option<String>,
    /// Passphrase to accept (never printed).
    #[arg(long, value_name = "P")]
    pub passphrase: Option<String>,
    /// Address to accept.
    #[arg(long, value_name = "A")]
    pub address: Option<String>,
    /// Orders per page of /data/orders and /data/trades (at least 1).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = parse_positive)]
    pub page_size: usize,
    /// Delay every response by DURATION.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub latency: Option<Duration>,
    /// Share of requests that fail (0..1): some before any change, some after it was applied.
    #[arg(long, value_name = "P", value_parser = parse_probability, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// The exchange's rate limits: per-signer token buckets (enforce: 429 with Retry-After;
    /// warn: processed, marked Poly-RateLimit-Warning) and the IP layer's throttle.
    #[arg(long, value_name = "MODE", num_args = 0..=1, default_missing_value = "enforce")]
    pub rate_limit: Option<crate::sim::RateLimitMode>,
    /// Rate-limit tier of every signer a fixture gives none: standard, copper, bronze, silver,
    /// gold, platinum, diamond or elite.
    #[arg(long, value_name = "NAME", default_value = "standard")]
    pub tier: crate::sim::Tier,
    /// Dead-man's switch: cancel a key's orders this long after its last heartbeat.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub heartbeat_timeout: Duration,
    /// Accepted clock difference for POLY_TIMESTAMP.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub auth_window: Duration,
    /// Other traders fill one of the primary account's open orders every INTERVAL (e.g. `5s`).
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration)]
    pub fills: Option<Duration>,
}
