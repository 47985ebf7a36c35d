//! The floor: the least a client can do for this job, with no scripting. It walks the pages
//! one after another parsing only `id` and `created_at`, keeps the orders placed more than 30
//! minutes ago, and cancels them in batches of 3000 ids, four at once (what clobscript sends
//! on a server without rate-limit headers). Run as `cancel_stale --floor-client` with the
//! environment the other tools get.

use std::time::{SystemTime, UNIX_EPOCH};

use clobscript::clob::{Secret, SigningKey};
use serde::Deserialize;

#[derive(Deserialize)]
struct Row {
    id: String,
    created_at: i64,
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Row>,
    next_cursor: String,
}

struct Floor {
    http: reqwest::Client,
    host: String,
    key: SigningKey,
    address: String,
    api_key: String,
    passphrase: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("floor client: {name} is not set");
        std::process::exit(2);
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Floor {
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> reqwest::RequestBuilder {
        let timestamp = now();
        let signature = self
            .key
            .sign(timestamp, method.as_str(), path, body.as_deref());
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.host))
            .header("POLY_ADDRESS", &self.address)
            .header("POLY_API_KEY", &self.api_key)
            .header("POLY_PASSPHRASE", &self.passphrase)
            .header("POLY_TIMESTAMP", timestamp.to_string())
            .header("POLY_SIGNATURE", signature);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        request
    }
}

async fn run() -> Result<(usize, usize), String> {
    let floor = Floor {
        http: reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?,
        host: env("CLOB_HOST").trim_end_matches('/').to_owned(),
        key: SigningKey::from_secret(&Secret::new(env("POLY_API_SECRET")))
            .map_err(|e| e.to_string())?,
        address: env("POLY_ADDRESS"),
        api_key: env("POLY_API_KEY"),
        passphrase: env("POLY_PASSPHRASE"),
    };
    let cutoff = now() - 30 * 60;
    let mut stale = Vec::new();
    let mut open = 0;
    let mut cursor = "MA==".to_owned();
    loop {
        let answer = floor
            .request(reqwest::Method::GET, "/data/orders", None)
            .query(&[("next_cursor", &cursor)])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        let page: Page = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
        open += page.data.len();
        stale.extend(
            page.data
                .into_iter()
                .filter(|row| row.created_at < cutoff)
                .map(|row| row.id),
        );
        if page.next_cursor == "LTE=" || page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    let mut batches = tokio::task::JoinSet::new();
    let mut canceled = 0;
    for chunk in stale.chunks(3000) {
        if batches.len() >= 4
            && let Some(done) = batches.join_next().await
        {
            canceled += done.map_err(|e| e.to_string())??;
        }
        let body = serde_json::to_string(chunk).map_err(|e| e.to_string())?;
        let request = floor.request(reqwest::Method::DELETE, "/orders", Some(body));
        batches.spawn(async move {
            let answer = request.send().await.map_err(|e| e.to_string())?;
            let value: serde_json::Value = answer.json().await.map_err(|e| e.to_string())?;
            Ok::<usize, String>(value["canceled"].as_array().map_or(0, Vec::len))
        });
    }
    while let Some(done) = batches.join_next().await {
        canceled += done.map_err(|e| e.to_string())??;
    }
    Ok((open, canceled))
}

pub fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run()) {
        Ok((open, canceled)) => println!("{{\"open\":{open},\"canceled\":{canceled}}}"),
        Err(message) => {
            eprintln!("floor client: {message}");
            std::process::exit(1);
        }
    }
}
