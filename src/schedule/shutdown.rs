//! Stopping: the first stop request (SIGINT/SIGTERM, through the command layer's signal
//! policy) stops new runs and gives runs in flight their grace period; a second one (or the
//! end of the grace) interrupts them.

use tokio_util::sync::CancellationToken;

/// The scheduler's two stop levels, shared by every job and the heartbeat.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    stop: CancellationToken,
    interrupt: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// No new runs; runs in flight get their grace period.
    pub fn request_stop(&self) {
        self.stop.cancel();
    }

    /// Interrupt runs in flight now (implies stop).
    pub fn request_interrupt(&self) {
        self.stop.cancel();
        self.interrupt.cancel();
    }

    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Resolves once a stop has been requested.
    pub async fn stopping(&self) {
        self.stop.cancelled().await;
    }

    /// A token cancelled when a stop is requested (for loops that take one, like heartbeats).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Resolves once runs must be interrupted without further grace.
    pub async fn interrupting(&self) {
        self.interrupt.cancelled().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn stop_does_not_interrupt_but_interrupt_also_stops() {
        let s = Shutdown::new();
        assert!(!s.is_stopping());
        s.request_stop();
        assert!(s.is_stopping());
        assert_eq!(s.interrupting().now_or_never(), None);
        s.request_interrupt();
        assert_eq!(s.interrupting().now_or_never(), Some(()));
        let t = Shutdown::new();
        t.request_interrupt();
        assert_eq!(t.stopping().now_or_never(), Some(()));
    }

    #[test]
    fn clones_share_the_same_state() {
        let s = Shutdown::new();
        let seen_by_job = s.clone();
        s.request_stop();
        assert!(seen_by_job.is_stopping());
    }
}
