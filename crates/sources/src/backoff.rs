//! Reconnect delays as pure policy types: no clock, no I/O, so every rule is unit-tested and the
//! clients only ask "how long now?" and sleep through `tokio::time` (pausable in tests).

use std::time::Duration;

/// A delay that grows linearly by `step` per attempt up to `max` (X: network errors, 250 ms
/// steps to 16 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    step: Duration,
    max: Duration,
    attempts: u32,
}

impl Linear {
    /// Starts at `step` for the first attempt.
    pub fn new(step: Duration, max: Duration) -> Linear {
        Linear {
            step,
            max,
            attempts: 0,
        }
    }

    /// The delay before the next attempt; each call counts one attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.attempts = self.attempts.saturating_add(1);
        self.step.saturating_mul(self.attempts).min(self.max)
    }

    /// Whether the last delay handed out was the cap (X asks for an alert then).
    pub fn at_cap(&self) -> bool {
        self.attempts > 0 && self.step.saturating_mul(self.attempts) >= self.max
    }

    /// Forgets past failures.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

/// A delay that starts at `initial` and doubles per attempt up to `max` (X: HTTP errors 5 s to
/// 320 s, 429 from 60 s; Mastodon and Jetstream: 1 s to 60 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exponential {
    initial: Duration,
    max: Duration,
    next: Option<Duration>,
}

impl Exponential {
    /// The first delay is `initial`.
    pub fn new(initial: Duration, max: Duration) -> Exponential {
        Exponential {
            initial,
            max,
            next: None,
        }
    }

    /// The delay before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next.unwrap_or(self.initial).min(self.max);
        self.next = Some(d.saturating_mul(2).min(self.max));
        d
    }

    /// Whether the last delay handed out was the cap.
    pub fn at_cap(&self) -> bool {
        self.next.is_some_and(|n| n >= self.max)
    }

    /// Forgets past failures.
    pub fn reset(&mut self) {
        self.next = None;
    }
}

/// How long a connection must have been up before its drop counts as a fresh start: the first
/// reconnect after a healthy connection is immediate, a connection that keeps dropping sooner
/// backs off as a network error, so a flapping server is never hammered.
pub const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// X's official reconnect guidance [PROTOCOLS.md 1.8] in one state machine:
/// a dropped established connection reconnects at once (once); network errors back off
/// linearly (+250 ms, cap 16 s); HTTP errors exponentially (5 s doubling, cap 320 s); 429
/// exponentially from 60 s, and never before `x-rate-limit-reset`.
#[derive(Debug, Clone)]
pub struct XBackoff {
    network: Linear,
    http: Exponential,
    rate: Exponential,
}

/// The 429 delay cap: a rate window is 15 minutes, waiting longer helps nothing.
pub const X_RATE_MAX: Duration = Duration::from_secs(960);

impl Default for XBackoff {
    fn default() -> Self {
        XBackoff {
            network: Linear::new(Duration::from_millis(250), Duration::from_secs(16)),
            http: Exponential::new(Duration::from_secs(5), Duration::from_secs(320)),
            rate: Exponential::new(Duration::from_secs(60), X_RATE_MAX),
        }
    }
}

impl XBackoff {
    /// A stream answered 200: HTTP and rate-limit backoffs start over.
    pub fn connected(&mut self) {
        self.http.reset();
        self.rate.reset();
    }

    /// An established stream ended (closed, stalled, operational disconnect) after being up
    /// for `up`: immediately if it had been healthy, else as a network error.
    pub fn dropped(&mut self, up: Duration) -> Duration {
        if up >= HEALTHY_AFTER {
            self.network.reset();
            Duration::ZERO
        } else {
            self.network.next_delay()
        }
    }

    /// A connection could not be made or broke before the response (TCP, TLS, DNS).
    pub fn network_error(&mut self) -> Duration {
        self.network.next_delay()
    }

    /// An HTTP error status other than 429 (409, 5xx, ...).
    pub fn http_error(&mut self) -> Duration {
        self.http.next_delay()
    }

    /// A 429; `reset_in` is the time until `x-rate-limit-reset`, when the server sent one.
    pub fn rate_limited(&mut self, reset_in: Option<Duration>) -> Duration {
        let d = self.rate.next_delay();
        reset_in.map_or(d, |r| d.max(r))
    }

    /// Whether some backoff reached its cap (X asks for an alert then).
    pub fn at_cap(&self) -> bool {
        self.network.at_cap() || self.http.at_cap() || self.rate.at_cap()
    }
}

/// The policy of sources without official numbers (Mastodon, Jetstream): exponential 1 s to
/// 60 s for every failure, immediate after a healthy connection dropped.
#[derive(Debug, Clone)]
pub struct StreamBackoff {
    exp: Exponential,
}

impl Default for StreamBackoff {
    fn default() -> Self {
        StreamBackoff {
            exp: Exponential::new(Duration::from_secs(1), Duration::from_secs(60)),
        }
    }
}

impl StreamBackoff {
    /// An established connection ended after being up for `up`.
    pub fn dropped(&mut self, up: Duration) -> Duration {
        if up >= HEALTHY_AFTER {
            self.exp.reset();
            Duration::ZERO
        } else {
            self.exp.next_delay()
        }
    }

    /// A connection attempt failed.
    pub fn failed(&mut self) -> Duration {
        self.exp.next_delay()
    }

    /// A rate limit: the usual delay, but never before the server's reset time.
    pub fn rate_limited(&mut self, reset_in: Option<Duration>) -> Duration {
        let d = self.exp.next_delay();
        reset_in.map_or(d, |r| d.max(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn x_network_errors_are_linear_250ms_to_16s() {
        let mut b = XBackoff::default();
        let got: Vec<_> = (0..70).map(|_| b.network_error()).collect();
        assert_eq!(&got[..4], &[ms(250), ms(500), ms(750), ms(1000)]);
        assert_eq!(got[63], ms(16_000));
        assert_eq!(got[69], ms(16_000));
        assert!(got.windows(2).all(|w| w[0] <= w[1]));
        assert!(b.at_cap());
    }

    #[test]
    fn x_http_errors_double_from_5s_to_320s() {
        let mut b = XBackoff::default();
        let got: Vec<_> = (0..9).map(|_| b.http_error().as_secs()).collect();
        assert_eq!(got, [5, 10, 20, 40, 80, 160, 320, 320, 320]);
        b.connected();
        assert_eq!(b.http_error().as_secs(), 5);
    }

    #[test]
    fn x_429_starts_at_60s_and_honours_the_reset_header() {
        let mut b = XBackoff::default();
        assert_eq!(b.rate_limited(None).as_secs(), 60);
        assert_eq!(b.rate_limited(Some(Duration::from_secs(30))).as_secs(), 120);
        assert_eq!(
            b.rate_limited(Some(Duration::from_secs(900))).as_secs(),
            900
        );
        assert_eq!(b.rate_limited(None).as_secs(), 480);
        assert_eq!(b.rate_limited(None), X_RATE_MAX);
        b.connected();
        assert_eq!(b.rate_limited(None).as_secs(), 60);
    }

    #[test]
    fn a_healthy_drop_reconnects_at_once_a_flapping_one_backs_off() {
        let mut b = XBackoff::default();
        assert_eq!(b.dropped(Duration::from_secs(3600)), Duration::ZERO);
        assert_eq!(b.dropped(ms(100)), ms(250));
        assert_eq!(b.dropped(ms(100)), ms(500));
        assert_eq!(b.network_error(), ms(750));
        assert_eq!(b.dropped(HEALTHY_AFTER), Duration::ZERO);
        assert_eq!(b.network_error(), ms(250));
    }

    #[test]
    fn stream_backoff_doubles_from_1s_to_60s() {
        let mut b = StreamBackoff::default();
        let got: Vec<_> = (0..8).map(|_| b.failed().as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.dropped(Duration::from_secs(60)), Duration::ZERO);
        assert_eq!(b.failed().as_secs(), 1);
        assert_eq!(b.rate_limited(Some(Duration::from_secs(90))).as_secs(), 90);
    }
}
