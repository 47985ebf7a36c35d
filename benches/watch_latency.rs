//! How fast `clobscript watch` reacts: the time from a fill to its cancel being answered, on
//! loopback, the way an operator runs it (the real binary in its own process, the simulator
//! in this one).
//!
//! ```text
//! cargo bench --bench watch_latency                          # 0 and 5 ms of latency, 200 fills
//! cargo bench --bench watch_latency -- --fills 500 --latency 0,2,10
//! ```
//!
//! The simulator fills one of the account's orders every `--interval` (other traders taking
//! liquidity). The watched playbook cancels the filled order in its `on_fill` handler and then
//! prints the trade id. This process listens on the same user channel: a fill's time is when
//! its `MATCHED` event arrives here, and its cancel is answered when the handler's line arrives
//! on the binary's stdout (written right after `cancel` returned). The difference covers the
//! channel to the watch, handing the trade to the handler, the signed `DELETE /order` with the
//! simulator's configured latency, and the answer. Reported: median and p99, in total and
//! beyond the configured latency (the target is under 10 ms median beyond it).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clobscript::sim::{SimConfig, SimServer};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_clobscript");

const PLAYBOOK: &str = r"
on_fill(|trade| {
    cancel(trade.maker_orders[0].order_id);
    print(`answered ${trade.id}`);
});
";

struct Options {
    fills: usize,
    interval: Duration,
    latencies: Vec<Duration>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        fills: 200,
        interval: Duration::from_millis(30),
        latencies: vec![Duration::ZERO, Duration::from_millis(5)],
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--bench" => {}
            "--fills" => {
                options.fills = value()?.parse().map_err(|e| format!("--fills: {e}"))?;
            }
            "--interval" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--interval (ms): {e}"))?;
                options.interval = Duration::from_millis(ms.max(1));
            }
            "--latency" => {
                options.latencies = value()?
                    .split(',')
                    .map(|ms| ms.trim().parse::<u64>().map(Duration::from_millis))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--latency (ms, comma-separated): {e}"))?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("watch_latency bench: {message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let playbook = scratch.path().join("cancel_filled.rhai");
    std::fs::write(&playbook, PLAYBOOK).expect("write the playbook");
    println!(
        "clobscript watch: fill -> cancel answered, loopback ({} fills every {} ms, {} cores)",
        options.fills,
        options.interval.as_millis(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:>9} {:>7} {:>10} {:>10} {:>17} {:>14}",
        "latency", "fills", "median", "p99", "median beyond", "p99 beyond"
    );
    for &latency in &options.latencies {
        let samples = measure(&runtime, &playbook, scratch.path(), latency, &options);
        report(latency, &samples);
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn report(latency: Duration, samples: &[Duration]) {
    if samples.is_empty() {
        println!("{:>9} no fill was answered", ms(latency));
        return;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let (median, p99) = (at(0.5), at(0.99));
    println!(
        "{:>9} {:>7} {:>10} {:>10} {:>17} {:>14}",
        ms(latency),
        sorted.len(),
        ms(median),
        ms(p99),
        ms(median.saturating_sub(latency)),
        ms(p99.saturating_sub(latency)),
    );
}

/// One watch against a fresh simulator: the fill-to-answer time of each of `options.fills`.
fn measure(
    runtime: &tokio::runtime::Runtime,
    playbook: &std::path::Path,
    state: &std::path::Path,
    latency: Duration,
    options: &Options,
) -> Vec<Duration> {
    let sim = runtime
        .block_on(SimServer::start(SimConfig {
            orders: 3000,
            latency: (!latency.is_zero()).then_some(latency),
            fills: Some(options.interval),
            trade_failure_rate: 0.0,
            ..SimConfig::default()
        }))
        .expect("the simulator starts");
    // This process's own subscription: when each fill's MATCHED event arrives.
    let (fill_times, fills) = mpsc::channel::<(String, Instant)>();
    let credentials = sim.credentials().clone();
    let ws_url = sim.ws_url();
    runtime.spawn(async move {
        let (mut socket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .expect("the bench subscribes");
        let subscription = serde_json::json!({
            "auth": {"apiKey": credentials.api_key, "secret": credentials.secret.expose(),
                     "passphrase": credentials.passphrase.expose()},
            "markets": [], "type": "user",
        });
        socket
            .send(Message::Text(subscription.to_string().into()))
            .await
            .expect("subscription sent");
        while let Some(Ok(message)) = socket.next().await {
            let arrived = Instant::now();
            let Message::Text(text) = message else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if event["event_type"] == "trade" && event["status"] == "MATCHED" {
                let id = event["id"].as_str().unwrap_or_default().to_owned();
                if fill_times.send((id, arrived)).is_err() {
                    return;
                }
            }
        }
    });
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state)
        .env("HOME", state)
        .env("POLY_API_KEY", &sim.credentials().api_key)
        .env("POLY_API_SECRET", sim.credentials().secret.expose())
        .env("POLY_PASSPHRASE", sim.credentials().passphrase.expose())
        .env("POLY_ADDRESS", &sim.credentials().address)
        .args([
            "watch",
            &playbook.display().to_string(),
            "--host",
            sim.url(),
        ])
        .args(["--ws-url", &sim.ws_url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("clobscript starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut fill_at: HashMap<String, Instant> = HashMap::new();
    let mut samples = Vec::with_capacity(options.fills);
    for line in BufReader::new(stdout).lines() {
        let arrived = Instant::now();
        let Ok(line) = line else { break };
        let Some(id) = line.strip_prefix("answered ") else {
            continue;
        };
        fill_at.extend(fills.try_iter());
        if let Some(filled) = fill_at.remove(id.trim()) {
            samples.push(arrived.saturating_duration_since(filled));
        }
        if samples.len() >= options.fills {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    runtime.block_on(sim.shutdown());
    samples
}
