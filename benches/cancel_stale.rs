//! `scripts/cancel_stale.rhai` end to end against the simulator, the way an operator runs it:
//! the real `clobscript` binary in its own process, talking HTTP to a simulator on a loopback
//! port (in this process).
//!
//! ```text
//! cargo bench --bench cancel_stale                                  # 1k, 10k, 100k open orders
//! cargo bench --bench cancel_stale -- --sizes 10000 --runs 9
//! cargo bench --bench cancel_stale -- --python /path/to/venv/bin/python   # + py-clob-client-v2
//! ```
//!
//! For every size it reports the median wall time of several runs, the requests the simulator
//! served against the minimum (`ceil(open / 500)` page reads plus `ceil(canceled / 3000)`
//! cancels), CPU time and peak resident memory of the clobscript process. Then: process start
//! to first request, an empty script's whole run, and the time a script spends filtering
//! 100,000 orders. With `--python` the same job is done by Polymarket's official Python client
//! (`benches/py_cancel_stale.py`) against the same simulator.
//!
//! CPU and memory come from `getrusage(RUSAGE_CHILDREN)` in a small wrapper process (this
//! binary started with `--measure`), whose only child is the measured command.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clobscript::clob::Credentials;
use clobscript::sim::{SimConfig, SimServer};

const BIN: &str = env!("CARGO_BIN_EXE_clobscript");
const PAGE_SIZE: usize = 500;
const MAX_CANCEL_IDS: usize = 3000;
/// Private key 1: the simulator is started with its address so the Python client (which signs
/// with the address of its key) is accepted too.
const PRIVATE_KEY: &str = "0x0000000000000000000000000000000000000000000000000000000000000001";
const KEY_ADDRESS: &str = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";

/// One measured process.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    wall: Duration,
    cpu: Duration,
    max_rss_kb: u64,
    ok: bool,
}

struct Options {
    sizes: Vec<usize>,
    runs: Option<usize>,
    python: Option<PathBuf>,
    /// Also compare reading pages ahead with the sequential walk at this round trip.
    latency: Option<Duration>,
    /// Also measure peak memory of the large listings.
    memory: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--measure") {
        measure_child(&args[1..]);
        return;
    }
    if args.first().map(String::as_str) == Some("--floor-client") {
        floor::main();
        return;
    }
    let options = match parse_options(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("cancel_stale bench: {message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let state = tempfile::tempdir().expect("a temporary directory");
    let bench = Bench {
        runtime: &runtime,
        root,
        state: state.path(),
    };

    println!(
        "cancel_stale.rhai end to end (clobscript {} against the simulator, {} cores)",
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:>8} {:>5} {:>10} {:>10} {:>17} {:>9} {:>10}",
        "open", "runs", "wall", "canceled", "requests (min)", "cpu", "peak RSS"
    );
    for &size in &options.sizes {
        let runs = options.runs.unwrap_or(if size >= 100_000 { 3 } else { 7 });
        bench.compare_to_floor(size, runs);
    }

    // The same playbook with a field selection: orders as maps of `id` and `created_at`.
    let full = state.path().join("cancel_stale_lean_maps.rhai");
    let playbook =
        std::fs::read_to_string(root.join("scripts/cancel_stale.rhai")).expect("read the playbook");
    let with_fields = playbook.replace(
        "let query = #{};",
        "let query = #{ fields: [\"created_at\"] };",
    );
    assert_ne!(
        playbook, with_fields,
        "the playbook's query is where it was"
    );
    std::fs::write(&full, with_fields).expect("write the lean-map variant");
    println!("the same with lean maps (`open_orders(#{{ fields: [\"created_at\"] }})`):");
    for &size in &options.sizes {
        let runs = options.runs.unwrap_or(if size >= 100_000 { 3 } else { 7 });
        bench.cancel_stale(size, runs, Tool::Script(&full));
    }

    println!();
    bench.startup();
    bench.filter_cost(100_000);

    if let Some(latency) = options.latency {
        println!();
        bench.latency(20_000, latency, options.runs.unwrap_or(3));
    }
    if options.memory {
        println!();
        bench.memory();
    }

    if let Some(python) = &options.python {
        println!();
        println!("the same job with py-clob-client-v2 ({})", python.display());
        println!(
            "{:>8} {:>5} {:>10} {:>10} {:>17} {:>9} {:>10}",
            "open", "runs", "wall", "canceled", "requests (min)", "cpu", "peak RSS"
        );
        for &size in &options.sizes {
            let runs = options.runs.unwrap_or(if size >= 100_000 { 1 } else { 3 });
            bench.cancel_stale(size, runs, Tool::Python(python));
        }
    }
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        sizes: vec![1_000, 10_000, 100_000],
        runs: None,
        python: std::env::var_os("CLOBSCRIPT_BENCH_PYTHON").map(PathBuf::from),
        latency: None,
        memory: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            // cargo bench passes --bench; a filter argument is not meaningful here.
            "--bench" => {}
            "--sizes" => {
                options.sizes = value()?
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--sizes takes numbers such as 1000,10000 ({e})"))?;
            }
            "--runs" => {
                let runs = value()?
                    .parse::<usize>()
                    .map_err(|e| format!("--runs takes a number ({e})"))?;
                options.runs = Some(runs.max(1));
            }
            "--python" => options.python = Some(PathBuf::from(value()?)),
            "--latency-ms" => {
                let ms = value()?
                    .parse::<u64>()
                    .map_err(|e| format!("--latency-ms takes milliseconds ({e})"))?;
                options.latency = Some(Duration::from_millis(ms));
            }
            "--memory" => options.memory = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

/// The wrapper: runs the command, then reports its wall time and, from `RUSAGE_CHILDREN`,
/// its CPU time and peak RSS on one `MEASURE` line.
fn measure_child(command: &[String]) {
    let Some((program, args)) = command.split_first() else {
        eprintln!("--measure needs a command");
        std::process::exit(2);
    };
    let start = Instant::now();
    let status = Command::new(program).args(args).status();
    let wall = start.elapsed();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN);
    let (cpu, max_rss_kb) = match usage {
        Ok(usage) => {
            let secs = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(t.tv_sec().max(0) as u64)
                    + Duration::from_micros(t.tv_usec().max(0) as u64)
            };
            (
                secs(usage.user_time()) + secs(usage.system_time()),
                usage.max_rss().max(0) as u64,
            )
        }
        Err(_) => (Duration::ZERO, 0),
    };
    let ok = status.map(|s| s.success()).unwrap_or(false);
    println!(
        "MEASURE {} {} {} {}",
        wall.as_micros(),
        cpu.as_micros(),
        max_rss_kb,
        u8::from(ok)
    );
}

enum Tool<'a> {
    Clobscript,
    /// The minimal client in this binary (`--floor-client`).
    Floor,
    /// clobscript with the sequential page walk (`CLOBSCRIPT_PAGE_WINDOW=1`).
    Sequential,
    /// clobscript running another script (the playbook with full order maps).
    Script(&'a Path),
    Python(&'a Path),
}

struct Bench<'a> {
    runtime: &'a tokio::runtime::Runtime,
    root: &'a Path,
    state: &'a Path,
}

/// The medians of one measured configuration, for ratios.
#[derive(Clone, Debug, Default)]
struct Figures {
    wall: Duration,
    max_rss_kb: u64,
    /// The ids still open afterwards, from the last run.
    left_open: Vec<String>,
}

/// One tool's runs of one configuration.
#[derive(Default)]
struct Tally {
    usages: Vec<Usage>,
    requests: Vec<u64>,
    canceled: Vec<usize>,
    /// The sequential walk's minimum of requests, from the last run.
    minimum: usize,
    /// The ids still open after the last run.
    left_open: Vec<String>,
}

impl Tally {
    fn median(&self) -> Usage {
        let mut usages = self.usages.clone();
        usages.sort_by_key(|u| u.wall);
        usages[usages.len() / 2]
    }

    fn max_rss_kb(&self) -> u64 {
        self.usages.iter().map(|u| u.max_rss_kb).max().unwrap_or(0)
    }

    fn figures(&self) -> Figures {
        Figures {
            wall: self.median().wall,
            max_rss_kb: self.max_rss_kb(),
            left_open: self.left_open.clone(),
        }
    }

    fn print(&self, open: usize, runs: usize) {
        let requests = &self.requests;
        let minimum = self.minimum;
        let requests_text = if requests.iter().all(|&r| r == requests[0]) {
            format!("{} ({minimum})", requests[0])
        } else {
            format!("{requests:?} ({minimum})")
        };
        let median = self.median();
        println!(
            "{:>8} {:>5} {:>10} {:>10} {:>17} {:>9} {:>10}",
            open,
            runs,
            format_duration(median.wall),
            self.canceled[self.canceled.len() / 2],
            requests_text,
            format_duration(median.cpu),
            format!("{:.0} MB", self.max_rss_kb() as f64 / 1024.0),
        );
    }
}

impl Bench<'_> {
    fn start_sim(&self, open: usize) -> SimServer {
        self.start_sim_with(open, None)
    }

    fn start_sim_with(&self, open: usize, latency: Option<Duration>) -> SimServer {
        let config = SimConfig {
            open_orders: Some(open),
            latency,
            seed: 7,
            credentials: Credentials {
                address: KEY_ADDRESS.to_owned(),
                ..clobscript::sim::demo_credentials()
            },
            ..SimConfig::default()
        };
        self.runtime
            .block_on(SimServer::start(config))
            .expect("the simulator starts")
    }

    /// The command line, environment included, that points a tool at `sim`.
    fn command(&self, sim: &SimServer, program: &str, args: &[&str]) -> Command {
        let credentials = sim.credentials();
        let mut command = Command::new(std::env::current_exe().expect("the bench binary"));
        command
            .arg("--measure")
            .arg(program)
            .args(args)
            .current_dir(self.root)
            .env("CLOB_HOST", sim.url())
            .env("POLY_API_KEY", &credentials.api_key)
            .env("POLY_API_SECRET", credentials.secret.expose())
            .env("POLY_PASSPHRASE", credentials.passphrase.expose())
            .env("POLY_ADDRESS", &credentials.address)
            .env("BENCH_PRIVATE_KEY", PRIVATE_KEY)
            .env("XDG_STATE_HOME", self.state)
            .env("XDG_CONFIG_HOME", self.state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn measure(&self, mut command: Command) -> (Usage, String) {
        let output = command.output().expect("the wrapper runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let usage = stdout
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("MEASURE "))
            .and_then(|line| {
                let fields: Vec<u64> = line
                    .split_whitespace()
                    .filter_map(|f| f.parse().ok())
                    .collect();
                match fields[..] {
                    [wall, cpu, rss, ok] => Some(Usage {
                        wall: Duration::from_micros(wall),
                        cpu: Duration::from_micros(cpu),
                        max_rss_kb: rss,
                        ok: ok == 1,
                    }),
                    _ => None,
                }
            })
            .unwrap_or_default();
        (usage, stderr)
    }

    /// clobscript's cancel_stale and the floor client, alternating run by run.
    fn compare_to_floor(&self, open: usize, runs: usize) {
        let mut figures =
            self.interleaved(open, runs, &[&Tool::Clobscript, &Tool::Floor], None, true);
        let floor = figures.pop().expect("the floor's figures");
        let ours = figures.pop().expect("clobscript's figures");
        println!(
            "{:>8} {:>5} {:>10}   floor client; clobscript / floor = {:.2}x wall, {:.2}x peak RSS",
            "",
            runs,
            format_duration(floor.wall),
            ours.wall.as_secs_f64() / floor.wall.as_secs_f64().max(1e-9),
            ours.max_rss_kb as f64 / (floor.max_rss_kb.max(1)) as f64,
        );
    }

    /// Reading pages ahead against the sequential walk, at a round trip of `latency`.
    fn latency(&self, open: usize, latency: Duration, runs: usize) {
        println!(
            "{open} open orders, simulator latency {} per request (median of {runs}):",
            format_duration(latency)
        );
        let mut figures = self.interleaved(
            open,
            runs,
            &[&Tool::Clobscript, &Tool::Sequential, &Tool::Floor],
            Some(latency),
            false,
        );
        let floor = figures.pop().expect("the floor's figures");
        let sequential = figures.pop().expect("the sequential walk's figures");
        let ahead = figures.pop().expect("clobscript's figures");
        println!(
            "  pages read ahead {}, sequential walk {}, floor client (sequential) {}: ahead / sequential = {:.2}x; same orders left open: {}",
            format_duration(ahead.wall),
            format_duration(sequential.wall),
            format_duration(floor.wall),
            ahead.wall.as_secs_f64() / sequential.wall.as_secs_f64().max(1e-9),
            ahead.left_open == sequential.left_open,
        );
    }

    /// Peak memory (and wall time) of the large listings.
    fn memory(&self) {
        let scripts = self.state.join("memory");
        std::fs::create_dir_all(&scripts).expect("a scripts folder");
        let full = scripts.join("open_orders.rhai");
        std::fs::write(&full, "let orders = open_orders();\norders.len()\n").expect("write");
        let filtered = scripts.join("open_orders_filter.rhai");
        std::fs::write(
            &filtered,
            "let orders = open_orders();\nlet buys = orders.filter(|o| o.side == \"BUY\");\n[orders.len(), buys.len()]\n",
        )
        .expect("write");
        let report = self.root.join("scripts/report.rhai");
        for (label, script, open) in [
            ("open_orders(), whole orders", &full, 100_000),
            ("open_orders() then filter", &filtered, 100_000),
            ("scripts/report.rhai", &report, 100_000),
        ] {
            let sim = self.start_sim(open);
            let mut usages: Vec<Usage> = (0..3)
                .map(|_| {
                    let (usage, stderr) =
                        self.measure(self.command(&sim, BIN, &["run", &script.to_string_lossy()]));
                    if !usage.ok {
                        eprintln!("run failed:\n{stderr}");
                        std::process::exit(1);
                    }
                    usage
                })
                .collect();
            usages.sort_by_key(|u| u.wall);
            let median = usages[1];
            println!(
                "{label} at {open} orders (median of 3): {}, peak RSS {:.0} MB",
                format_duration(median.wall),
                median.max_rss_kb as f64 / 1024.0
            );
        }
        let size = 300_000;
        let figures = self.cancel_stale_quiet(size, 1, Tool::Clobscript, None);
        println!(
            "cancel_stale at {size} orders: {}, peak RSS {:.0} MB",
            format_duration(figures.wall),
            figures.max_rss_kb as f64 / 1024.0
        );
    }

    fn cancel_stale(&self, open: usize, runs: usize, tool: Tool) -> Figures {
        self.interleaved(open, runs, &[&tool], None, true).remove(0)
    }

    fn cancel_stale_quiet(
        &self,
        open: usize,
        runs: usize,
        tool: Tool,
        latency: Option<Duration>,
    ) -> Figures {
        self.interleaved(open, runs, &[&tool], latency, false)
            .remove(0)
    }

    /// `runs` runs of each tool, taking turns run by run (so that a machine that slows down or
    /// speeds up during the benchmark weighs on every tool alike), a fresh simulator for each
    /// run. With `print`, the first tool's row is printed.
    fn interleaved(
        &self,
        open: usize,
        runs: usize,
        tools: &[&Tool],
        latency: Option<Duration>,
        print: bool,
    ) -> Vec<Figures> {
        let mut tallies: Vec<Tally> = tools.iter().map(|_| Tally::default()).collect();
        for _ in 0..runs {
            for (tool, tally) in tools.iter().zip(&mut tallies) {
                self.one_run(open, tool, latency, tally);
            }
        }
        if print {
            tallies[0].print(open, runs);
        }
        tallies.iter().map(Tally::figures).collect()
    }

    fn one_run(&self, open: usize, tool: &Tool, latency: Option<Duration>, tally: &mut Tally) {
        let sim = self.start_sim_with(open, latency);
        let key = sim.credentials().api_key.clone();
        let before = sim.open_order_ids_of(&key).len();
        assert_eq!(before, open, "the simulator has the asked-for open orders");
        let command = match tool {
            Tool::Clobscript => self.command(
                &sim,
                BIN,
                &["run", "scripts/cancel_stale.rhai", "--arg", "minutes=30"],
            ),
            Tool::Script(script) => self.command(
                &sim,
                BIN,
                &["run", &script.to_string_lossy(), "--arg", "minutes=30"],
            ),
            Tool::Python(python) => self.command(
                &sim,
                &python.to_string_lossy(),
                &["benches/py_cancel_stale.py"],
            ),
            Tool::Floor => {
                let exe = std::env::current_exe().expect("the bench binary");
                self.command(&sim, &exe.to_string_lossy(), &["--floor-client"])
            }
            Tool::Sequential => {
                let mut command = self.command(
                    &sim,
                    BIN,
                    &["run", "scripts/cancel_stale.rhai", "--arg", "minutes=30"],
                );
                command.env("CLOBSCRIPT_PAGE_WINDOW", "1");
                command
            }
        };
        let (usage, stderr) = self.measure(command);
        if !usage.ok {
            eprintln!("run failed:\n{stderr}");
            std::process::exit(1);
        }
        let mut left_open = sim.open_order_ids_of(&key);
        left_open.sort();
        let canceled = before - left_open.len();
        tally.minimum = open.div_ceil(PAGE_SIZE) + canceled.div_ceil(MAX_CANCEL_IDS);
        tally.requests.push(sim.requests_served());
        tally.canceled.push(canceled);
        tally.usages.push(usage);
        tally.left_open = left_open;
    }

    /// Process start to the first request the simulator sees (a one-call script), and the
    /// whole run of an empty script.
    fn startup(&self) {
        let sim = self.start_sim(1_000);
        let scripts = self.state.join("startup");
        std::fs::create_dir_all(&scripts).expect("a scripts folder");
        let one_call = scripts.join("one_call.rhai");
        let empty = scripts.join("empty.rhai");
        std::fs::write(&one_call, "open_orders(#{ id: \"0x00\" }).len()\n").expect("write");
        std::fs::write(&empty, "\n").expect("write");

        let mut first_request = Vec::new();
        for _ in 0..15 {
            let sim = self.start_sim(10);
            let mut command = Command::new(BIN);
            command
                .args(["run", &one_call.to_string_lossy()])
                .env("CLOB_HOST", sim.url())
                .env("POLY_API_KEY", &sim.credentials().api_key)
                .env("POLY_API_SECRET", sim.credentials().secret.expose())
                .env("POLY_PASSPHRASE", sim.credentials().passphrase.expose())
                .env("POLY_ADDRESS", &sim.credentials().address)
                .env("XDG_STATE_HOME", self.state)
                .env("XDG_CONFIG_HOME", self.state)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let start = Instant::now();
            let status = command.status().expect("clobscript runs");
            if let (true, Some(at)) = (status.success(), sim.first_request_at()) {
                first_request.push(at.saturating_duration_since(start));
            }
        }
        first_request.sort();
        let mut empty_runs: Vec<Usage> = (0..15)
            .map(|_| {
                self.measure(self.command(&sim, BIN, &["run", &empty.to_string_lossy()]))
                    .0
            })
            .collect();
        empty_runs.sort_by_key(|u| u.wall);
        match first_request.get(first_request.len() / 2) {
            Some(median) => println!(
                "process start to first request (one-call script, median of {}): {}",
                first_request.len(),
                format_duration(*median)
            ),
            None => println!("process start to first request: no run reached the simulator"),
        }
        let median = empty_runs[empty_runs.len() / 2];
        println!(
            "empty script, whole process (median of {}): {}, peak RSS {:.0} MB",
            empty_runs.len(),
            format_duration(median.wall),
            median.max_rss_kb as f64 / 1024.0
        );
    }

    /// Time spent inside a script filtering `open` orders, full maps and lean ones.
    fn filter_cost(&self, open: usize) {
        let sim = self.start_sim(open);
        let script = self.state.join("filter.rhai");
        std::fs::write(
            &script,
            r#"let cutoff = now() - minutes(30);
let full = open_orders();
let t = timestamp();
let stale = full.filter(|o| o.created_at < cutoff);
let full_ms = t.elapsed * 1000.0;
full = ();
stale = ();
let lean = open_orders(#{ fields: ["created_at"] });
let t = timestamp();
let stale = lean.filter(|o| o.created_at < cutoff);
let lean_ms = t.elapsed * 1000.0;
let t = timestamp();
lean.retain(|o| o.created_at < cutoff);
let retain_ms = t.elapsed * 1000.0;
print(`FILTER ${full_ms} ${lean_ms} ${retain_ms}`);
"#,
        )
        .expect("write the filter script");
        let mut times = Vec::new();
        for _ in 0..3 {
            let mut command = self.command(&sim, BIN, &["run", &script.to_string_lossy()]);
            command.arg("--dry-run");
            let output = command.output().expect("the wrapper runs");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let line = stdout
                .lines()
                .chain(stderr.lines())
                .find_map(|l| l.trim().strip_prefix("FILTER ").map(str::to_owned));
            if let Some(line) = line {
                let ms: Vec<f64> = line
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect();
                times.push(ms);
            }
        }
        times.sort_by(|a, b| a[0].total_cmp(&b[0]));
        match times.get(times.len() / 2) {
            Some(ms) if ms.len() == 3 => println!(
                "filtering {open} orders in a script (median of {}): filter {:.0} ms on whole orders (records), {:.0} ms on lean maps (fields: [\"created_at\"]), retain {:.0} ms on lean maps",
                times.len(),
                ms[0],
                ms[1],
                ms[2]
            ),
            _ => println!("filtering {open} orders: the script did not report its timings"),
        }
    }
}

fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// The floor client (`--floor-client`).
#[path = "support/floor.rs"]
mod floor;
