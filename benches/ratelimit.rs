//! Cancelling under the exchange's rate limits: `scripts/cancel_stale.rhai` (every order
//! stale) run by the real binary against the simulator with the per-signer buckets enforced,
//! per tier, against the physical limit `max(0, N − burst) / rate` of the cancel bucket.
//!
//! ```text
//! cargo bench --bench ratelimit
//! cargo bench --bench ratelimit -- --tiers standard,gold --orders 3000
//! ```
//!
//! For every tier it reports the open orders N, the wall time of the whole run (start-up and
//! the listing included), the limit, the ratio, the cancel requests refused (`429`), and the
//! time the run spent waiting for the bucket. The target: within 10 % of the limit, 0 refused.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clobscript::sim::{RateLimitMode, SimConfig, SimServer, Tier};

const BIN: &str = env!("CARGO_BIN_EXE_clobscript");

fn main() {
    let mut tiers = vec![
        (Tier::Standard, 2_000),
        (Tier::Silver, 5_000),
        (Tier::Elite, 10_000),
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut fixed = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--bench" => {}
            "--orders" => fixed = iter.next().and_then(|n| n.parse::<usize>().ok()),
            "--tiers" => {
                let names = iter.next().cloned().unwrap_or_default();
                tiers = names
                    .split(',')
                    .filter_map(|name| name.parse::<Tier>().ok())
                    .map(|tier| (tier, 0))
                    .collect();
            }
            other => {
                eprintln!("ratelimit bench: unknown argument `{other}`");
                std::process::exit(2);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let state = tempfile::tempdir().expect("a temporary directory");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("cancel_stale.rhai under the exchange's cancel rate limits (simulator, --rate-limit)");
    println!(
        "{:>9} {:>7} {:>9} {:>9} {:>7} {:>8} {:>9}",
        "tier", "orders", "wall", "limit", "ratio", "refused", "waiting"
    );
    for (tier, default_orders) in tiers {
        let orders = fixed.unwrap_or(if default_orders == 0 {
            2_000
        } else {
            default_orders
        });
        let sim = runtime
            .block_on(SimServer::start(SimConfig {
                open_orders: Some(orders),
                rate_limit: Some(RateLimitMode::Enforce),
                tier,
                ..SimConfig::default()
            }))
            .expect("the simulator starts");
        let key = sim.credentials().api_key.clone();
        let open = sim.open_order_ids_of(&key).len();
        let credentials = sim.credentials().clone();
        let started = Instant::now();
        let output = Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("XDG_STATE_HOME", state.path())
            .env("XDG_CONFIG_HOME", state.path())
            .env("HOME", state.path())
            .env("POLY_API_KEY", &credentials.api_key)
            .env("POLY_API_SECRET", credentials.secret.expose())
            .env("POLY_PASSPHRASE", credentials.passphrase.expose())
            .env("POLY_ADDRESS", &credentials.address)
            .arg("run")
            .arg(root.join("scripts/cancel_stale.rhai"))
            .args(["--arg", "minutes=0", "--host", sim.url()])
            .output()
            .expect("clobscript runs");
        let wall = started.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let left = sim.open_order_ids_of(&key).len();
        runtime.block_on(sim.shutdown());
        if !output.status.success() || left != 0 {
            eprintln!("{tier}: the run failed ({left} orders left):\n{stderr}");
            std::process::exit(1);
        }
        let limits = tier.cancel();
        let limit = Duration::from_secs_f64(
            open.saturating_sub(limits.burst as usize) as f64 / limits.rate_per_sec,
        );
        let summary = stderr.lines().last().unwrap_or_default();
        let refused = number_before(summary, " request refused")
            .or_else(|| number_before(summary, " requests refused"))
            .unwrap_or(0.0);
        let waiting = number_before(summary, "s waiting").unwrap_or(0.0);
        println!(
            "{:>9} {:>7} {:>8.2}s {:>8.2}s {:>7.3} {:>8} {:>8.1}s",
            tier.name(),
            open,
            wall.as_secs_f64(),
            limit.as_secs_f64(),
            wall.as_secs_f64() / limit.as_secs_f64().max(1e-9),
            refused,
            waiting
        );
    }
}

/// The number just before `marker` in `text`.
fn number_before(text: &str, marker: &str) -> Option<f64> {
    let end = text.find(marker)?;
    let start = text[..end]
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |i| i + 1);
    text[start..end].parse().ok()
}
