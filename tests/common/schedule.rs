//! Helpers for the scheduler tests: the binary in a cleared environment with a private state
//! folder, a simulator served by its own runtime, and a started process whose output goes to
//! files (a safety-net limit against a hang, never a measurement).
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Output, isolated_command, isolated_in};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary to completion with a private state folder.
pub fn clobscript(state: &Path, args: &[&str]) -> Output {
    isolated_command(state, &state.join("config"), state)
        .args(args)
        .output()
        .expect("the binary runs")
        .into()
}

/// A folder with a trivial playbook in it.
pub fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("noop.rhai"), "let x = 1;\n").expect("script");
    dir
}

/// A simulator on a loopback port, served by its own runtime for the test's lifetime.
pub struct Exchange {
    pub sim: clobscript::sim::SimServer,
    _runtime: tokio::runtime::Runtime,
}

impl Exchange {
    pub fn start(config: clobscript::sim::SimConfig) -> Exchange {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = runtime
            .block_on(clobscript::sim::SimServer::start(config))
            .expect("simulator starts");
        Exchange {
            sim,
            _runtime: runtime,
        }
    }

    /// A simulator with `orders` open-or-not orders and no other twist.
    pub fn with_orders(orders: usize) -> Exchange {
        Exchange::start(clobscript::sim::SimConfig {
            orders,
            ..Default::default()
        })
    }

    pub fn open_orders(&self) -> Vec<String> {
        self.sim.open_order_ids()
    }

    pub fn api_key(&self) -> &str {
        &self.sim.credentials().api_key
    }

    /// `clobscript ARGS` pointed at this exchange with its credentials in the environment, state
    /// and output in `dir`.
    pub fn clobscript(&self, dir: &Path, args: &[&str]) -> Command {
        let c = self.sim.credentials();
        let mut cmd = isolated_in(dir);
        cmd.args(args)
            .args(["--host", self.sim.url()])
            .current_dir(dir)
            .env("POLY_API_KEY", &c.api_key)
            .env("POLY_API_SECRET", c.secret.expose())
            .env("POLY_PASSPHRASE", c.passphrase.expose())
            .env("POLY_ADDRESS", &c.address);
        cmd
    }
}

/// A started clobscript process, its output going to files in its folder.
pub struct Running {
    pub child: Child,
    pub dir: PathBuf,
}

/// Only a safety net against a hung process, never a measurement.
pub const HANG_LIMIT: Duration = Duration::from_secs(60);

impl Running {
    pub fn spawn(mut cmd: Command, dir: &Path) -> Running {
        let stdout = std::fs::File::create(dir.join("stdout.txt")).expect("stdout file");
        let stderr = std::fs::File::create(dir.join("stderr.txt")).expect("stderr file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("the binary starts");
        Running {
            child,
            dir: dir.to_owned(),
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn finish(mut self) -> Output {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > HANG_LIMIT {
                let _ = self.child.kill();
                panic!(
                    "clobscript did not exit: {}",
                    read(&self.dir.join("stderr.txt"))
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            code: status.code(),
            stdout: read(&self.dir.join("stdout.txt")),
            stderr: read(&self.dir.join("stderr.txt")),
        }
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Polls `condition` until it holds (a safety-net limit, not a measurement).
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < HANG_LIMIT, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The run log's records.
pub fn run_log(path: &Path) -> Vec<serde_json::Value> {
    read(path)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// Records of runs that happened (not skipped starts).
pub fn runs(records: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    records.iter().filter(|r| !r["run"].is_null()).collect()
}

/// A folder with the given playbooks in it.
pub fn playbooks(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("playbook");
    }
    dir
}

/// Cancels the first open order and prints its id.
pub const CANCEL_ONE: &str = "let orders = open_orders();\n\
                          if orders.len() > 0 { cancel(orders[0].id); print(orders[0].id); }\n";
