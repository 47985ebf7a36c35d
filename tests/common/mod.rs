//! The one test harness: a simulator started in the test process (its own tokio runtime, real
//! HTTP on a loopback port), and the real `clobscript` binary pointed at it with `--host` and
//! `POLY_*` credentials, in a cleared environment ([`isolated_command`]). State, config and
//! audit log live in a temp dir. Expectations read as a builder on [`Output`]:
//! `out.status(2).stderr_has("unknown function")`.
#![allow(dead_code)]

pub mod client;
pub mod l2;
pub mod schedule;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use clobscript::clob::{Credentials, OpenOrder};
use clobscript::sim::{SimConfig, SimServer, demo_credentials, second_account};
use serde_json::{Value, json};
use tempfile::TempDir;

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A simulator for one test, plus a scratch folder.
pub struct Exchange {
    runtime: tokio::runtime::Runtime,
    sim: Option<SimServer>,
    dir: TempDir,
}

impl Exchange {
    pub fn start(config: SimConfig) -> Exchange {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = runtime
            .block_on(SimServer::start(config))
            .expect("simulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["state", "config", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        Exchange {
            runtime,
            sim: Some(sim),
            dir,
        }
    }

    /// Generated data (several markets, every status, a second account).
    pub fn generated(orders: usize) -> Exchange {
        Exchange::start(SimConfig {
            orders,
            ..SimConfig::default()
        })
    }

    /// The state of [`Book::fixture`].
    pub fn fixture(book: &Book) -> Exchange {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fixture.json");
        std::fs::write(&path, book.fixture.to_string()).expect("write fixture");
        let exchange = Exchange::start(SimConfig {
            fixture: Some(path),
            ..SimConfig::default()
        });
        drop(dir);
        exchange
    }

    pub fn sim(&self) -> &SimServer {
        self.sim.as_ref().expect("simulator running")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The default audit log (under `$XDG_STATE_HOME`).
    pub fn audit_path(&self) -> PathBuf {
        self.state_dir().join("clobscript").join("audit.jsonl")
    }

    /// The audit log's records.
    pub fn audit(&self) -> Vec<Value> {
        read_json_lines(&self.audit_path())
    }

    /// `clobscript audit --json` of the log at `log` (with `extra` arguments), which must
    /// succeed.
    pub fn audit_json(&self, log: &Path, extra: &[&str]) -> Value {
        let out = self
            .clobscript()
            .args(["audit", "--json", "--audit"])
            .arg(log)
            .args(extra)
            .run();
        out.status(0);
        out.json()
    }

    /// Writes a script into the scratch folder and returns its path.
    pub fn script(&self, name: &str, text: &str) -> PathBuf {
        let path = self.work_dir().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write script");
        path
    }

    /// `clobscript` with the primary account's credentials and `--host` of this simulator.
    pub fn clobscript(&self) -> Clob {
        let mut clob = Clob::bare(self);
        clob.credentials(self.sim().credentials());
        clob.host = Some(self.sim().url().to_owned());
        clob
    }

    /// `clobscript run --json SCRIPT` against this exchange, which must succeed: the script's
    /// value.
    pub fn run_json(&self, script: &Path) -> Value {
        let out = self.clobscript().args(["run", "--json"]).arg(script).run();
        out.status(0);
        out.json()
    }

    /// Status of every order of every account, by id.
    pub fn statuses(&self) -> BTreeMap<String, String> {
        let sim = self.sim();
        sim.accounts()
            .iter()
            .flat_map(|account| sim.orders_of(&account.api_key))
            .map(|o| (o.id, o.status))
            .collect()
    }

    pub fn status(&self, id: &str) -> String {
        self.sim().order_status(id).unwrap_or_default()
    }

    /// The primary account's open (`LIVE`) orders, as the simulator holds them.
    pub fn live_orders(&self) -> Vec<OpenOrder> {
        let sim = self.sim();
        sim.orders_of(&sim.credentials().api_key)
            .into_iter()
            .filter(|o| o.status == "LIVE")
            .collect()
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.runtime.block_on(sim.shutdown());
        }
    }
}

/// Waits until the audit log holds `count` records of `phase` (bounded, so a broken run fails
/// instead of hanging).
pub fn wait_for(log: &Path, phase: &str, count: usize, child: &mut Child) {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let seen = std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&format!("\"phase\":\"{phase}\"")))
            .count();
        if seen >= count {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before {count} `{phase}` records");
        }
        assert!(
            std::time::Instant::now() < give_up,
            "no {count} `{phase}` records"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The records of a JSON-lines log. Only the last line may be cut short (a run killed while
/// writing it); every other line must be whole JSON.
pub fn read_json_lines(path: &Path) -> Vec<Value> {
    read_json_lines_torn(path).0
}

/// The whole records of a JSON-lines log, and whether its last line was cut short (left
/// without its newline by a `kill -9` mid-write; the request it announces never left).
pub fn read_json_lines_torn(path: &Path) -> (Vec<Value>, bool) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (Vec::new(), false);
    };
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let torn = lines.last().is_some_and(|last| !last.ends_with('\n'));
    if torn {
        lines.pop();
    }
    let records = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("an audit line is not JSON ({e}): {line}"))
        })
        .collect();
    (records, torn)
}

/// The binary in a cleared environment: only `PATH`, `HOME` and the XDG state and config
/// folders given, so nothing of the caller's environment (credentials, `CLOB_HOST`,
/// `RUST_LOG`) reaches it.
pub fn isolated_command(state: &Path, config: &Path, home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clobscript"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", config)
        .env("HOME", home);
    command
}

/// [`isolated_command`] with everything under `dir`: `HOME` is `dir`, the state and config
/// folders are `dir/state` and `dir/config`.
pub fn isolated_in(dir: &Path) -> Command {
    isolated_command(&dir.join("state"), &dir.join("config"), dir)
}

/// One invocation of the binary.
pub struct Clob {
    command: Command,
    args: Vec<String>,
    host: Option<String>,
}

/// What the binary did.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Output {
    fn from(output: std::process::Output) -> Output {
        Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Output {
    /// Expects exit code `code` (the output is shown when it is another).
    #[track_caller]
    pub fn status(&self, code: i32) -> &Output {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Expects `text` somewhere on stderr.
    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Output {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }

    /// Expects `text` somewhere on stdout.
    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Output {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }

    /// The final value printed by `--json`.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Clob {
    /// No credentials, no host: only the environment of the test's temp dirs.
    pub fn bare(exchange: &Exchange) -> Clob {
        let mut command = isolated_in(exchange.dir.path());
        command.current_dir(env!("CARGO_MANIFEST_DIR"));
        Clob {
            command,
            args: Vec::new(),
            host: None,
        }
    }

    pub fn credentials(&mut self, credentials: &Credentials) -> &mut Clob {
        self.command
            .env("POLY_API_KEY", &credentials.api_key)
            .env("POLY_API_SECRET", credentials.secret.expose())
            .env("POLY_PASSPHRASE", credentials.passphrase.expose())
            .env("POLY_ADDRESS", &credentials.address);
        self
    }

    pub fn env(&mut self, key: &str, value: &str) -> &mut Clob {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(&mut self, key: &str) -> &mut Clob {
        self.command.env_remove(key);
        self
    }

    pub fn arg(&mut self, arg: impl AsRef<std::ffi::OsStr>) -> &mut Clob {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Clob
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// Leaves `--host` out (for `--sim` and missing-configuration tests).
    pub fn no_host(&mut self) -> &mut Clob {
        self.host = None;
        self
    }

    fn finish(&mut self) -> &mut Command {
        let mut args = self.args.clone();
        if let Some(host) = &self.host {
            args.push("--host".into());
            args.push(host.clone());
        }
        self.command.args(args)
    }

    /// The command as configured, for spawning it another way (e.g. in a pseudo-terminal).
    pub fn into_command(mut self) -> Command {
        self.finish();
        self.command
    }

    pub fn run(&mut self) -> Output {
        self.finish().output().expect("clobscript runs").into()
    }

    /// Runs the binary with `input` on its stdin (a pipe, not a terminal).
    pub fn run_with_input(&mut self, input: &str) -> Output {
        use std::io::Write as _;
        let mut child = self
            .finish()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("clobscript starts");
        child
            .stdin
            .take()
            .expect("stdin piped")
            .write_all(input.as_bytes())
            .expect("input written");
        child.wait_with_output().expect("clobscript ends").into()
    }

    /// Starts the binary and waits until it prints `line` on stdout (so a signal sent next
    /// reaches a running script).
    pub fn spawn_until(&mut self, line: &str) -> Child {
        let mut child = self
            .finish()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("clobscript starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut reader = BufReader::new(stdout);
        let mut text = String::new();
        loop {
            text.clear();
            let read = reader.read_line(&mut text).expect("reads stdout");
            assert!(read > 0, "clobscript ended before printing {line:?}");
            if text.trim() == line {
                break;
            }
        }
        child
    }
}

/// Ends a spawned run and collects what it printed on stderr.
pub fn wait(mut child: Child) -> Output {
    let status = child.wait().expect("clobscript ends");
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read as _;
        pipe.read_to_string(&mut stderr).expect("reads stderr");
    }
    Output {
        code: status.code(),
        stdout: String::new(),
        stderr,
    }
}

pub fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} failed");
}

// A small hand-made exchange whose every order's fate under each playbook is known.

pub const MARKET_A: &str = "0xaaaa000000000000000000000000000000000000000000000000000000000001";
pub const MARKET_B: &str = "0xbbbb000000000000000000000000000000000000000000000000000000000002";
/// Market A, "Yes": book 0.48 / 0.52, so the midpoint is 0.50.
pub const TOKEN_A_YES: &str =
    "11111111111111111111111111111111111111111111111111111111111111111111111111111";
/// Market A, "No": book 0.40 / 0.60, midpoint 0.50.
pub const TOKEN_A_NO: &str =
    "22222222222222222222222222222222222222222222222222222222222222222222222222222";
/// Market B: book 0.30 / 0.34; with our BUY at 0.31 the midpoint is 0.325.
pub const TOKEN_B: &str =
    "33333333333333333333333333333333333333333333333333333333333333333333333333333";

/// Orders of the primary account, named for what they are.
pub const OLD_A: &str = "0x0a01"; // A yes BUY 0.45, 2 h old, scoring
pub const OLD_B: &str = "0x0b01"; // B SELL 0.36, 3 h old, not scoring
pub const FRESH_A: &str = "0x0a02"; // A yes SELL 0.55, 5 min old, not scoring
pub const FRESH_B: &str = "0x0b02"; // B BUY 0.31, 1 min old, scoring
pub const FAR_BUY: &str = "0x0a03"; // A yes BUY 0.20, 11 min old, not scoring
pub const FAR_SELL: &str = "0x0a04"; // A no SELL 0.85, 15 min old, not scoring
pub const EDGE_BUY: &str = "0x0a05"; // A yes BUY 0.40: exactly 0.10 from the mid, 12 min, scoring
pub const JUST_OVER: &str = "0x0a06"; // A yes BUY 0.39: 0.11 from the mid, 8 min, not scoring
pub const GTD_SOON: &str = "0x0b03"; // B BUY 0.29, GTD expiring in 5 min, 20 min old, not scoring
pub const GTD_LATER: &str = "0x0b04"; // B BUY 0.28, GTD expiring in 2 h, 20 min old, scoring
pub const CANCELED_OLD: &str = "0x0a07"; // already canceled, 5 h old
pub const MATCHED_OLD: &str = "0x0b05"; // fully matched, 6 h old
/// The second account's order in market A: 5 h old, far from the mid, not scoring. No
/// playbook run with the primary key may touch it.
pub const OTHERS: &str = "0x0c01";

/// The primary account's open orders.
pub const OPEN: &[&str] = &[
    OLD_A, OLD_B, FRESH_A, FRESH_B, FAR_BUY, FAR_SELL, EDGE_BUY, JUST_OVER, GTD_SOON, GTD_LATER,
];

pub const RECENT_TRADE: &str = "trade-recent";
pub const OLD_TRADE: &str = "trade-old";

/// A fixture, and the time it was made relative to.
pub struct Book {
    pub now: i64,
    pub fixture: Value,
}

impl Book {
    pub fn fixture() -> Book {
        let now = unix_now();
        let primary = demo_credentials();
        let other = second_account();
        let account = |c: &Credentials| {
            json!({
                "api_key": c.api_key, "secret": c.secret.expose(),
                "passphrase": c.passphrase.expose(), "address": c.address,
            })
        };
        #[allow(clippy::too_many_arguments)]
        let order = |id: &str,
                     token: &str,
                     side: &str,
                     price: &str,
                     minutes_old: i64,
                     scoring: bool,
                     owner: &str| {
            json!({
                "id": id, "owner": owner, "asset_id": token, "side": side, "price": price,
                "original_size": "100", "created_at": now - minutes_old * 60,
                "scoring": scoring,
            })
        };
        let p = primary.api_key.as_str();
        let mut orders = vec![
            order(OLD_A, TOKEN_A_YES, "BUY", "0.45", 120, true, p),
            order(OLD_B, TOKEN_B, "SELL", "0.36", 180, false, p),
            order(FRESH_A, TOKEN_A_YES, "SELL", "0.55", 5, false, p),
            order(FRESH_B, TOKEN_B, "BUY", "0.31", 1, true, p),
            order(FAR_BUY, TOKEN_A_YES, "BUY", "0.2", 11, false, p),
            order(FAR_SELL, TOKEN_A_NO, "SELL", "0.85", 15, false, p),
            order(EDGE_BUY, TOKEN_A_YES, "BUY", "0.4", 12, true, p),
            order(JUST_OVER, TOKEN_A_YES, "BUY", "0.39", 8, false, p),
            order(GTD_SOON, TOKEN_B, "BUY", "0.29", 20, false, p),
            order(GTD_LATER, TOKEN_B, "BUY", "0.28", 20, true, p),
            order(CANCELED_OLD, TOKEN_A_YES, "BUY", "0.44", 300, false, p),
            order(MATCHED_OLD, TOKEN_B, "SELL", "0.33", 360, false, p),
            order(
                OTHERS,
                TOKEN_A_YES,
                "BUY",
                "0.1",
                300,
                false,
                &other.api_key,
            ),
        ];
        // OLD_A is partly filled: 40 of 100.
        orders[0]["size_matched"] = json!("40");
        for (index, expires_in) in [(8, 5 * 60), (9, 2 * 3600)] {
            orders[index]["order_type"] = json!("GTD");
            orders[index]["expiration"] = json!(now + expires_in);
        }
        orders[10]["status"] = json!("CANCELED");
        orders[11]["status"] = json!("MATCHED");
        orders[11]["size_matched"] = json!("100");
        let trade = |id: &str, hours_ago: i64, price: &str| {
            json!({
                "id": id, "taker_order_id": OLD_A, "market": MARKET_A, "asset_id": TOKEN_A_YES,
                "side": "BUY", "size": "40", "price": price, "fee_rate_bps": "0",
                "status": "CONFIRMED", "match_time": (now - hours_ago * 3600).to_string(),
                "last_update": (now - hours_ago * 3600).to_string(), "outcome": "Yes",
                "owner": p, "maker_address": primary.address, "transaction_hash": "0xfeed",
                "bucket_index": 0, "trader_side": "TAKER", "maker_orders": [],
            })
        };
        let fixture = json!({
            "accounts": [account(&primary), account(&other)],
            "markets": [
                {
                    "market": MARKET_A,
                    "tokens": [
                        {"token_id": TOKEN_A_YES, "outcome": "Yes",
                         "bids": [{"price": "0.48", "size": "500"}],
                         "asks": [{"price": "0.52", "size": "500"}]},
                        {"token_id": TOKEN_A_NO, "outcome": "No",
                         "bids": [{"price": "0.4", "size": "500"}],
                         "asks": [{"price": "0.6", "size": "500"}]},
                    ],
                },
                {
                    "market": MARKET_B,
                    "tokens": [
                        {"token_id": TOKEN_B, "outcome": "Yes",
                         "bids": [{"price": "0.3", "size": "500"}],
                         "asks": [{"price": "0.34", "size": "500"}]},
                    ],
                },
            ],
            "orders": orders,
            "trades": [trade(RECENT_TRADE, 1, "0.45"), trade(OLD_TRADE, 48, "0.47")],
        });
        Book { now, fixture }
    }
}

/// Asserts that exactly `canceled` (of every order in the fixture) changed to `CANCELED`, and
/// every other order kept the status it had.
pub fn assert_only_canceled(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    canceled: &[&str],
) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (id, was) in before {
        let now = &after[id];
        if canceled.contains(&id.as_str()) {
            assert_eq!(
                (id.as_str(), now.as_str()),
                (id.as_str(), "CANCELED"),
                "{id} should have been canceled (was {was})"
            );
            assert_eq!(was, "LIVE", "{id} was not live before");
        } else {
            assert_eq!(
                (id.as_str(), now.as_str()),
                (id.as_str(), was.as_str()),
                "{id} should not have changed"
            );
        }
    }
}

/// Ids in a JSON array, sorted.
pub fn ids(value: &Value) -> Vec<String> {
    let mut ids: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("id string").to_owned())
        .collect();
    ids.sort();
    ids
}

pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    ids.sort();
    ids
}
