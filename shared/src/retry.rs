//! Retries for API calls: reads retry on 429 (honouring Retry-After), 5xx and broken
//! connections, with capped exponential backoff and full jitter. Writes retry only where they are
//! idempotent, or on a 409 conflict after a fresh read (the caller's closure re-reads).

use std::future::Future;
use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// Attempts in all, the first included.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
            attempts: 5,
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (0-based): a random share (`jitter` in 0..1) of the
    /// capped exponential, so a crowd of clients does not retry in step.
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let exp = self.base.saturating_mul(2u32.saturating_pow(retry.min(16)));
        exp.min(self.cap).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// What to do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Stop,
    /// Retry, after the server's `Retry-After` if it gave one.
    Retry(Option<Duration>),
}

/// Whether a failed read may be retried.
pub fn classify(err: &kube::Error) -> Verdict {
    match err {
        kube::Error::Api(status) => match status.code {
            429 => Verdict::Retry(
                status
                    .details
                    .as_ref()
                    .map(|d| d.retry_after_seconds)
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(u64::from(s))),
            ),
            500..=599 => Verdict::Retry(None),
            _ => Verdict::Stop,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => Verdict::Retry(None),
        _ => Verdict::Stop,
    }
}

/// Runs a read, retrying what `classify` allows.
pub async fn read<T, F, Fut>(backoff: Backoff, mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut retry = 0;
    let mut throttled = 0;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) => {
                let Verdict::Retry(after) = classify(&err) else {
                    return Err(err);
                };
                // A 429 is the server asking for patience, not a failure: like client-go, it gets
                // a budget of its own, so a throttled but healthy server does not end the command.
                let count = if is_throttled(&err) {
                    &mut throttled
                } else {
                    &mut retry
                };
                let limit = if is_throttled(&err) {
                    THROTTLED_ATTEMPTS.max(backoff.attempts)
                } else {
                    backoff.attempts
                };
                if *count + 1 >= limit {
                    return Err(err);
                }
                let wait = after
                    .unwrap_or_else(|| backoff.delay(*count, fastrand::f64()))
                    .min(backoff.cap);
                *count += 1;
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Attempts a read may make while the server answers 429 (client-go allows 10).
pub const THROTTLED_ATTEMPTS: u32 = 10;

fn is_throttled(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 429)
}

/// Runs a read-modify-write: on 409 the closure runs again (and so reads afresh), up to the
/// attempt limit. Other errors are returned at once: a write is not blindly repeated.
pub async fn on_conflict<T, F, Fut>(backoff: Backoff, mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut retry = 0;
    loop {
        match op().await {
            Err(kube::Error::Api(status)) if status.code == 409 && retry + 1 < backoff.attempts => {
                tokio::time::sleep(backoff.delay(retry, fastrand::f64())).await;
                retry += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kube::core::{Status, response::StatusDetails};
    use std::sync::atomic::{AtomicU32, Ordering};

    fn api(code: u16, retry_after: i32) -> kube::Error {
        let mut status = Status::failure("x", "y");
        status.code = code;
        if retry_after > 0 {
            let details: StatusDetails =
                serde_json::from_value(serde_json::json!({"retryAfterSeconds": retry_after}))
                    .unwrap();
            status.details = Some(details);
        }
        kube::Error::Api(status.boxed())
    }

    const FAST: Backoff = Backoff {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        attempts: 4,
    };

    #[test]
    fn delay_grows_and_is_capped() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            attempts: 9,
        };
        assert_eq!(b.delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay(2, 1.0), Duration::from_millis(400));
        assert_eq!(b.delay(8, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(400));
        assert_eq!(b.delay(40, 1.0), Duration::from_secs(1));
    }

    #[test]
    fn classification_follows_the_rules() {
        assert_eq!(
            classify(&api(429, 3)),
            Verdict::Retry(Some(Duration::from_secs(3)))
        );
        assert_eq!(classify(&api(429, 0)), Verdict::Retry(None));
        assert_eq!(classify(&api(503, 0)), Verdict::Retry(None));
        assert_eq!(classify(&api(404, 0)), Verdict::Stop);
        assert_eq!(classify(&api(409, 0)), Verdict::Stop);
    }

    #[tokio::test]
    async fn reads_retry_until_success() {
        let calls = AtomicU32::new(0);
        let got = read(FAST, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(api(500, 0)),
                1 => Err(api(429, 0)),
                _ => Ok(7),
            }
        })
        .await
        .unwrap();
        assert_eq!(got, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn reads_give_up_after_the_limit_and_at_once_on_404() {
        let calls = AtomicU32::new(0);
        let err = read(FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(api(503, 0))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, kube::Error::Api(s) if s.code == 503));
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        let calls = AtomicU32::new(0);
        read(FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(api(404, 0))
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn throttling_has_a_budget_of_its_own() {
        // FAST allows 4 attempts; a server that answers 429 nine times then succeeds is waited for.
        let calls = AtomicU32::new(0);
        let got = read(FAST, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < THROTTLED_ATTEMPTS - 1 {
                Err(api(429, 0))
            } else {
                Ok("listed")
            }
        })
        .await
        .unwrap();
        assert_eq!(got, "listed");
        assert_eq!(calls.load(Ordering::SeqCst), THROTTLED_ATTEMPTS);

        // ...but not for ever.
        let calls = AtomicU32::new(0);
        let err = read(FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(api(429, 0))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, kube::Error::Api(s) if s.code == 429));
        assert_eq!(calls.load(Ordering::SeqCst), THROTTLED_ATTEMPTS);
    }

    #[tokio::test]
    async fn conflicts_rerun_the_read_modify_write_but_errors_do_not() {
        let calls = AtomicU32::new(0);
        let got = on_conflict(FAST, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(api(409, 0))
            } else {
                Ok("written")
            }
        })
        .await
        .unwrap();
        assert_eq!(got, "written");
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        on_conflict(FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(api(500, 0))
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
