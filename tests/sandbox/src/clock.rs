//! Wall-clock time as the API writes it (RFC 3339, whole seconds, UTC).

use jiff::Timestamp;

pub fn now() -> Timestamp {
    Timestamp::now()
}

/// `2026-11-25T10:00:00Z`: Kubernetes timestamps carry whole seconds.
pub fn rfc3339(t: Timestamp) -> String {
    let secs = t.as_second();
    match Timestamp::from_second(secs) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => t.to_string(),
    }
}

pub fn now_rfc3339() -> String {
    rfc3339(now())
}

pub fn parse(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// The clock the controllers' timers run on: real time at the sandbox's start, then `scale`
/// times as fast (1.0 is real time). Cron schedules, `startingDeadlineSeconds`,
/// `activeDeadlineSeconds`, `ttlSecondsAfterFinished` and the back-offs of Jobs and containers
/// are measured on it, so a test can run a schedule of minutes in seconds.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    origin: Timestamp,
    started: std::time::Instant,
    scale: f64,
}

impl SimClock {
    /// A clock `scale` times as fast as real time (values that are not finite and positive
    /// mean real time).
    pub fn new(scale: f64) -> Self {
        SimClock {
            origin: now(),
            started: std::time::Instant::now(),
            scale: if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                1.0
            },
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn now(&self) -> Timestamp {
        let elapsed = self.started.elapsed().as_secs_f64() * self.scale;
        let d = std::time::Duration::try_from_secs_f64(elapsed).unwrap_or_default();
        self.origin
            .checked_add(jiff::SignedDuration::try_from(d).unwrap_or_default())
            .unwrap_or(self.origin)
    }

    /// The real time a simulated span takes.
    pub fn real(&self, simulated: std::time::Duration) -> std::time::Duration {
        simulated.div_f64(self.scale)
    }

    /// The real instant at which this clock shows `t` (now, when `t` is past).
    pub fn instant_at(&self, t: Timestamp) -> tokio::time::Instant {
        let ahead = t.duration_since(self.now());
        let ahead = std::time::Duration::try_from(ahead).unwrap_or_default();
        tokio::time::Instant::now() + self.real(ahead)
    }
}

impl Default for SimClock {
    fn default() -> Self {
        SimClock::new(1.0)
    }
}
