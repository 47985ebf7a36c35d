//! A hand-rolled signed client for the simulator tests that talk HTTP to a `SimServer`
//! started in the test: it signs `timestamp + METHOD + path + body` with an account's key, as
//! the protocol says, and nothing of the library's client is involved.

use clobscript::clob::types::{CancelResponse, ErrorBody, Page};
use clobscript::clob::{Credentials, SigningKey};
use clobscript::sim::{SimConfig, SimServer};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::unix_now;

pub fn config(orders: usize) -> SimConfig {
    SimConfig {
        orders,
        ..SimConfig::default()
    }
}

pub async fn start(config: SimConfig) -> SimServer {
    SimServer::start(config).await.expect("simulator starts")
}

/// A hand-rolled L2 client: signs `timestamp + METHOD + path + body` and sends it.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub credentials: Credentials,
    pub key: SigningKey,
}

impl Api {
    pub fn new(server: &SimServer, credentials: &Credentials) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: server.url().to_owned(),
            credentials: credentials.clone(),
            key: SigningKey::from_secret(&credentials.secret).expect("valid secret"),
        }
    }

    pub fn primary(server: &SimServer) -> Api {
        Api::new(server, server.credentials())
    }

    pub fn headers(
        &self,
        timestamp: i64,
        method: &Method,
        path: &str,
        body: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("POLY_ADDRESS", self.credentials.address.clone()),
            ("POLY_API_KEY", self.credentials.api_key.clone()),
            (
                "POLY_PASSPHRASE",
                self.credentials.passphrase.expose().to_owned(),
            ),
            ("POLY_TIMESTAMP", timestamp.to_string()),
            (
                "POLY_SIGNATURE",
                self.key.sign(timestamp, method.as_str(), path, body),
            ),
        ]
    }

    /// Sends `headers` as given (tests tamper with them).
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<String>,
        headers: Vec<(&'static str, String)>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .query(query);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        request.send().await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> reqwest::Response {
        let headers = self.headers(unix_now(), &method, path, body.as_deref());
        self.send_with(method, path, query, body, headers)
            .await
            .expect("request sent")
    }

    pub async fn ok<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> T {
        let response = self.send(method.clone(), path, query, body).await;
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> T {
        self.ok(Method::GET, path, query, None).await
    }

    pub async fn cancel(&self, path: &str, body: serde_json::Value) -> CancelResponse {
        self.ok(Method::DELETE, path, &[], Some(body.to_string()))
            .await
    }

    /// Every page of a listing, following `next_cursor` from no cursor at all.
    pub async fn all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: &[(&str, &str)],
    ) -> Vec<T> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let mut query = filters.to_vec();
            if let Some(cursor) = &cursor {
                query.push(("next_cursor", cursor));
            }
            let page: Page<T> = self.get(path, &query).await;
            assert_eq!(page.count as usize, page.data.len());
            rows.extend(page.data);
            if page.next_cursor == "LTE=" {
                return rows;
            }
            cursor = Some(page.next_cursor);
        }
        panic!("{path}: pagination never ended");
    }
}

pub async fn public<T: DeserializeOwned>(
    server: &SimServer,
    path: &str,
    query: &[(&str, &str)],
) -> T {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.url()))
        .query(query)
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.expect("json")
}

pub async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: ErrorBody = response.json().await.expect("error body");
    (status, body.error)
}

pub fn decimal(text: &str) -> f64 {
    text.parse().expect("decimal string")
}
