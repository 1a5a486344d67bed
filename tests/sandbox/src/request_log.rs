//! Every request the server answered, for tests to assert on (e.g. a dry run wrote nothing).

use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string ("" when none).
    pub query: String,
    /// The request's Content-Type ("" when none).
    pub content_type: String,
    pub accept: String,
    pub status: u16,
    /// Time from receiving the request to its answer's head (a watch's stream then goes on).
    pub elapsed: std::time::Duration,
    /// The user the request acted as ("" when unauthenticated): the impersonated one under
    /// `Impersonate-User`.
    pub user: String,
    /// The token's own user when the request impersonated another.
    pub impersonator: Option<String>,
}

impl RequestRecord {
    /// A write: anything but GET, HEAD, and the review POSTs that only ask questions.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD") && !self.path.contains("/selfsubject")
    }

    pub fn is_dry_run(&self) -> bool {
        self.query.split('&').any(|p| p == "dryRun=All")
    }
}

/// Shared, append-only while the server runs; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<RequestRecord>>>);

impl RequestLog {
    pub fn push(&self, r: RequestRecord) {
        match self.0.lock() {
            Ok(mut g) => g.push(r),
            Err(p) => p.into_inner().push(r),
        }
    }

    pub fn entries(&self) -> Vec<RequestRecord> {
        match self.0.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// How many entries there are now: pass it to `since` to see what one command did.
    pub fn len(&self) -> usize {
        match self.0.lock() {
            Ok(g) => g.len(),
            Err(p) => p.into_inner().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn since(&self, mark: usize) -> Vec<RequestRecord> {
        self.entries().into_iter().skip(mark).collect()
    }

    pub fn clear(&self) {
        match self.0.lock() {
            Ok(mut g) => g.clear(),
            Err(p) => p.into_inner().clear(),
        }
    }
}
