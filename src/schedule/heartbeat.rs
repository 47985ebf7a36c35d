//! The exchange heartbeat: while the scheduler (or `clobscript heartbeat`) lives, it posts a
//! heartbeat every few seconds, each carrying the `heartbeat_id` the previous reply returned.
//! If the process dies or hangs, the heartbeats stop and the exchange's dead-man's switch
//! cancels every open order of the key. A failed heartbeat is logged loudly and retried soon.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clob::types::messages;
use crate::clob::{Client, ClobError, HeartbeatResponse};

/// The official clients' cadence; the exchange cancels after about 10 s of silence.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The request timeout of each heartbeat unless told otherwise: the client's own default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Why one heartbeat failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeatError {
    pub message: String,
    /// The exchange does not hold the id sent (`400 Invalid Heartbeat ID`): a new chain, from
    /// no id, is the only way on.
    pub unknown_id: bool,
}

impl From<String> for BeatError {
    fn from(message: String) -> BeatError {
        BeatError {
            message,
            unknown_id: false,
        }
    }
}

impl From<&str> for BeatError {
    fn from(message: &str) -> BeatError {
        BeatError::from(message.to_owned())
    }
}

/// One heartbeat request as the loop sees it.
pub type HeartbeatFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HeartbeatResponse, BeatError>> + Send + 'a>>;

/// Posts one heartbeat carrying `heartbeat_id` (`None` starts a new chain).
pub trait HeartbeatSender: Send + Sync {
    fn send(&self, heartbeat_id: Option<String>) -> HeartbeatFuture<'_>;
}

impl HeartbeatSender for Client {
    fn send(&self, heartbeat_id: Option<String>) -> HeartbeatFuture<'_> {
        Box::pin(async move {
            self.heartbeat(heartbeat_id.as_deref()).await.map_err(|e| {
                let unknown_id = matches!(
                    &e,
                    ClobError::Rejected { status: 400, message, .. }
                        if message
                            .to_ascii_lowercase()
                            .contains(&messages::INVALID_HEARTBEAT_ID.to_ascii_lowercase())
                );
                BeatError {
                    message: e.to_string(),
                    unknown_id,
                }
            })
        })
    }
}

/// The first heartbeat did not get through, so the dead-man's switch is not armed.
#[derive(Debug, thiserror::Error)]
#[error("the first heartbeat failed: {0}; check the credentials and the exchange host")]
pub struct HeartbeatError(pub String);

/// Cadence of the heartbeat loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// Time between heartbeats.
    pub interval: Duration,
    /// Time before retrying a failed one.
    pub retry_after: Duration,
    /// A heartbeat that gets no answer within this long counts as failed. Independent of the
    /// interval: a slow exchange that answers is not a failed heartbeat, and beats never
    /// overlap (the next one waits for the answer to the last).
    pub request_timeout: Duration,
    /// Log every acknowledged heartbeat (`-v`); by default only the first.
    pub log_each: bool,
}

impl HeartbeatConfig {
    /// Retries come five times as often as heartbeats (at most every second); each request
    /// may take [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn every(interval: Duration) -> HeartbeatConfig {
        HeartbeatConfig {
            interval,
            retry_after: (interval / 5).clamp(Duration::from_millis(50), Duration::from_secs(1)),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            log_each: false,
        }
    }

    /// The same cadence with another per-request timeout (`--request-timeout`).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> HeartbeatConfig {
        self.request_timeout = timeout;
        self
    }

    /// The same cadence, logging every acknowledged heartbeat when `on`.
    #[must_use]
    pub fn logging_each(mut self, on: bool) -> HeartbeatConfig {
        self.log_each = on;
        self
    }
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig::every(DEFAULT_INTERVAL)
    }
}

/// What the loop did, for the final log line and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeartbeatStats {
    pub sent: u64,
    pub failed: u64,
}

/// The heartbeat chain: the id to send next and the counters.
#[derive(Debug)]
pub struct Heartbeat<S> {
    sender: S,
    config: HeartbeatConfig,
    heartbeat_id: Option<String>,
    consecutive_failures: u64,
    stats: HeartbeatStats,
}

/// The first heartbeat may take this long (it also opens the connection).
const FIRST_TIMEOUT: Duration = Duration::from_secs(10);

/// After this many failures in a row the chain restarts without an id, in case the exchange
/// forgot the one we hold.
const RESTART_CHAIN_AFTER: u64 = 2;

impl<S: HeartbeatSender> Heartbeat<S> {
    /// Sends the first heartbeat; it must succeed, so a wrong key or host fails fast.
    pub async fn start(sender: S, config: HeartbeatConfig) -> Result<Heartbeat<S>, HeartbeatError> {
        let mut hb = Heartbeat {
            sender,
            config,
            heartbeat_id: None,
            consecutive_failures: 0,
            stats: HeartbeatStats::default(),
        };
        // The first request also connects, and a slow start is no danger yet: more time.
        let first_timeout = config.request_timeout.max(FIRST_TIMEOUT);
        let first = tokio::time::timeout(first_timeout, hb.sender.send(None)).await;
        // A failed first beat is not retried: the caller reports it and stops.
        match hb.settle(first.map_err(|_| first_timeout), false) {
            Ok(()) => {
                tracing::info!(
                    interval_ms = config.interval.as_millis() as u64,
                    "first heartbeat acknowledged; heartbeats every {} (each logged with -v); if \
                     they stop, the exchange cancels this key's open orders",
                    humantime::format_duration(config.interval)
                );
                Ok(hb)
            }
            Err(e) => Err(HeartbeatError(e.message)),
        }
    }

    /// The id the last reply returned.
    pub fn heartbeat_id(&self) -> Option<&str> {
        self.heartbeat_id.as_deref()
    }

    pub fn stats(&self) -> HeartbeatStats {
        self.stats
    }

    /// Sends one heartbeat with the current id and updates the chain.
    async fn beat(&mut self) -> Result<(), BeatError> {
        let timeout = self.config.request_timeout;
        let sent = self.sender.send(self.heartbeat_id.clone());
        let answer = tokio::time::timeout(timeout, sent).await;
        self.settle(answer.map_err(|_| timeout), true)
    }

    /// Takes in one heartbeat's answer (or the time it went unanswered): the new id, the
    /// counters, and (when the beat will be `retried`) a loud log line on failure.
    fn settle(
        &mut self,
        answer: Result<Result<HeartbeatResponse, BeatError>, Duration>,
        retried: bool,
    ) -> Result<(), BeatError> {
        let result = match answer {
            Ok(Ok(reply)) => match reply.error {
                None if !reply.heartbeat_id.is_empty() => {
                    self.heartbeat_id = Some(reply.heartbeat_id);
                    Ok(())
                }
                None => Err("the exchange returned no heartbeat_id".into()),
                Some(error) => {
                    if !reply.heartbeat_id.is_empty() {
                        self.heartbeat_id = Some(reply.heartbeat_id);
                    }
                    Err(error.into())
                }
            },
            Ok(Err(e)) => Err(e),
            Err(waited) => Err(format!(
                "no answer within {} (allow more with --request-timeout)",
                humantime::format_duration(waited)
            )
            .into()),
        };
        match &result {
            Ok(()) => {
                self.stats.sent += 1;
                if self.consecutive_failures > 0 {
                    tracing::warn!(
                        "heartbeat recovered after {} failed attempt(s)",
                        self.consecutive_failures
                    );
                }
                self.consecutive_failures = 0;
                if self.config.log_each {
                    tracing::info!(sent = self.stats.sent, "heartbeat acknowledged");
                } else {
                    tracing::debug!(sent = self.stats.sent, "heartbeat acknowledged");
                }
            }
            Err(e) if e.unknown_id => {
                // The exchange forgot the chain (e.g. the switch fired): start a new one at once.
                self.stats.failed += 1;
                self.heartbeat_id = None;
                tracing::warn!(
                    "the exchange does not know the heartbeat id ({}); starting a new heartbeat \
                     chain",
                    e.message
                );
            }
            Err(e) => {
                self.stats.failed += 1;
                self.consecutive_failures += 1;
                if self.consecutive_failures >= RESTART_CHAIN_AFTER {
                    self.heartbeat_id = None;
                }
                if !retried {
                    return result;
                }
                tracing::error!(
                    consecutive_failures = self.consecutive_failures,
                    "HEARTBEAT FAILED ({}); retrying in {}. If no heartbeat gets through for \
                     about 10 s, the exchange cancels every open order of this key",
                    e.message,
                    humantime::format_duration(self.config.retry_after)
                );
            }
        }
        result
    }

    /// Keeps beating until `stop` is cancelled: on the interval after a success, sooner after a
    /// failure. Never gives up by itself.
    pub async fn keep_alive(mut self, stop: CancellationToken) -> HeartbeatStats {
        let mut next = Instant::now() + self.config.interval;
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(next) => {}
            }
            let sent_at = Instant::now();
            let result = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                result = self.beat() => result,
            };
            next = match result {
                Ok(()) => sent_at + self.config.interval,
                Err(e) if e.unknown_id => Instant::now(),
                Err(_) => Instant::now() + self.config.retry_after,
            };
        }
        tracing::info!(
            sent = self.stats.sent,
            failed = self.stats.failed,
            "heartbeats stopped; the exchange cancels this key's open orders soon unless another \
             process keeps them alive"
        );
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Answers from a script of replies and remembers every id it was sent.
    #[derive(Clone, Debug, Default)]
    struct Scripted {
        replies: Arc<Mutex<VecDeque<Result<HeartbeatResponse, BeatError>>>>,
        seen: Arc<Mutex<Vec<Option<String>>>>,
    }

    fn ok(id: &str) -> Result<HeartbeatResponse, BeatError> {
        Ok(HeartbeatResponse {
            heartbeat_id: id.to_owned(),
            error: None,
        })
    }

    impl Scripted {
        fn new(replies: Vec<Result<HeartbeatResponse, BeatError>>) -> Scripted {
            Scripted {
                replies: Arc::new(Mutex::new(replies.into())),
                seen: Arc::default(),
            }
        }
        fn seen(&self) -> Vec<Option<String>> {
            self.seen.lock().expect("lock").clone()
        }
    }

    impl HeartbeatSender for Scripted {
        fn send(&self, heartbeat_id: Option<String>) -> HeartbeatFuture<'_> {
            self.seen.lock().expect("lock").push(heartbeat_id);
            let reply = self.replies.lock().expect("lock").pop_front();
            Box::pin(async move {
                match reply {
                    Some(reply) => reply,
                    // Out of script: hang, as a dead connection would.
                    None => std::future::pending().await,
                }
            })
        }
    }

    fn config() -> HeartbeatConfig {
        HeartbeatConfig::every(Duration::from_secs(5))
    }

    /// Keeps `hb` alive for `millis` of (paused) time, then stops it.
    async fn keep_alive_for(hb: Heartbeat<Scripted>, millis: u64) -> HeartbeatStats {
        let stop = CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            stopper.cancel();
        });
        hb.keep_alive(stop).await
    }

    #[tokio::test(start_paused = true)]
    async fn each_heartbeat_carries_the_id_of_the_previous_reply() {
        let sender = Scripted::new(vec![ok("a"), ok("b"), ok("c")]);
        let hb = Heartbeat::start(sender.clone(), config())
            .await
            .expect("first ok");
        assert_eq!(hb.heartbeat_id(), Some("a"));
        let stats = keep_alive_for(hb, 10_500).await;
        assert_eq!(stats, HeartbeatStats { sent: 3, failed: 0 });
        assert_eq!(sender.seen(), [None, Some("a".into()), Some("b".into())]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_heartbeat_is_retried_soon_and_the_chain_restarts_after_two() {
        let sender = Scripted::new(vec![
            ok("a"),
            Err("503 Service Unavailable".into()),
            Err("connection reset".into()),
            ok("fresh"),
            ok("next"),
        ]);
        let hb = Heartbeat::start(sender.clone(), config())
            .await
            .expect("first ok");
        // 5 s: fails; 6 s: fails; 7 s: ok; 12 s: ok.
        let stats = keep_alive_for(hb, 12_500).await;
        assert_eq!(stats, HeartbeatStats { sent: 3, failed: 2 });
        assert_eq!(
            sender.seen(),
            [
                None,
                Some("a".into()),
                Some("a".into()),
                None,
                Some("fresh".into())
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_heartbeat_without_answer_times_out_and_is_retried() {
        // After "a" the script runs out: every later request hangs.
        let sender = Scripted::new(vec![ok("a")]);
        let hb = Heartbeat::start(
            sender.clone(),
            config().with_request_timeout(Duration::from_secs(5)),
        )
        .await
        .expect("first ok");
        // 5 s: send, times out at 10 s; retry at 11 s, times out at 16 s.
        let stats = keep_alive_for(hb, 16_500).await;
        assert_eq!(stats, HeartbeatStats { sent: 1, failed: 2 });
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_first_heartbeat_is_an_error_naming_the_cause() {
        let sender = Scripted::new(vec![Err("401 Unauthorized/Invalid api key".into())]);
        let err = Heartbeat::start(sender, config()).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("first heartbeat failed"), "{msg}");
        assert!(msg.contains("401 Unauthorized"), "{msg}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reply_with_an_error_field_is_a_failure() {
        let sender = Scripted::new(vec![Ok(HeartbeatResponse {
            heartbeat_id: String::new(),
            error: Some("invalid heartbeat id".into()),
        })]);
        let err = Heartbeat::start(sender, config()).await.unwrap_err();
        assert!(err.to_string().contains("invalid heartbeat id"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_heartbeat_id_restarts_the_chain_at_once() {
        let sender = Scripted::new(vec![
            ok("a"),
            Err(BeatError {
                message: "400 Invalid Heartbeat ID".into(),
                unknown_id: true,
            }),
            ok("fresh"),
        ]);
        let hb = Heartbeat::start(sender.clone(), config())
            .await
            .expect("first ok");
        let stats = keep_alive_for(hb, 5_500).await;
        assert_eq!(stats, HeartbeatStats { sent: 2, failed: 1 });
        assert_eq!(sender.seen(), [None, Some("a".into()), None]);
    }

    #[test]
    fn the_request_timeout_does_not_follow_the_interval() {
        let fast = HeartbeatConfig::every(Duration::from_secs(1));
        assert_eq!(fast.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        let told = fast.with_request_timeout(Duration::from_secs(3));
        assert_eq!(told.request_timeout, Duration::from_secs(3));
        assert_eq!(told.interval, Duration::from_secs(1));
    }

    #[test]
    fn retries_come_sooner_than_heartbeats() {
        let c = HeartbeatConfig::every(Duration::from_secs(5));
        assert_eq!(c.retry_after, Duration::from_secs(1));
        let fast = HeartbeatConfig::every(Duration::from_millis(200));
        assert!(fast.retry_after < fast.interval);
    }
}
