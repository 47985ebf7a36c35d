//! `--jitter`: each run starts a random amount after its scheduled time, so many schedulers on
//! the same cron line do not all hit the exchange in the same second.

use std::time::Duration;

use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// A random delay of at most `max` per fire.
#[derive(Debug)]
pub struct Jitter {
    max: Duration,
    rng: StdRng,
}

impl Jitter {
    /// No delay at all.
    pub fn none() -> Jitter {
        Jitter::up_to(Duration::ZERO)
    }

    /// Up to `max`, from an unpredictable seed.
    pub fn up_to(max: Duration) -> Jitter {
        Jitter::seeded(max, rand::random())
    }

    /// Up to `max`, reproducibly (tests).
    pub fn seeded(max: Duration, seed: u64) -> Jitter {
        Jitter {
            max,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The largest delay.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay for the next fire, uniform in `[0, max]`.
    pub fn sample(&mut self) -> Duration {
        let max_ns = u64::try_from(self.max.as_nanos()).unwrap_or(u64::MAX);
        if max_ns == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.rng.random_range(0..=max_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_jitter_never_delays() {
        let mut j = Jitter::none();
        assert!((0..100).all(|_| j.sample().is_zero()));
    }

    #[test]
    fn jitter_stays_within_its_bound_and_varies() {
        let max = Duration::from_secs(10);
        let mut j = Jitter::seeded(max, 7);
        let samples: Vec<Duration> = (0..200).map(|_| j.sample()).collect();
        assert!(samples.iter().all(|d| *d <= max));
        let distinct: std::collections::BTreeSet<_> = samples.iter().collect();
        assert!(distinct.len() > 100, "samples should spread out");
    }

    #[test]
    fn same_seed_gives_the_same_delays() {
        let mut a = Jitter::seeded(Duration::from_secs(1), 42);
        let mut b = Jitter::seeded(Duration::from_secs(1), 42);
        assert!((0..20).all(|_| a.sample() == b.sample()));
    }
}
