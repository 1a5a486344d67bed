//! Certificates as cert-manager and Istio use them: the X.509 chain in a TLS Secret, whether its
//! key matches, the expiry verdict (from the certificate itself, cross-checked with the
//! Certificate's status), and cmctl-style renewal with a wait. Used by `cert` and by `diag`'s
//! certificate runbook.

pub mod judge;
pub mod keys;
pub mod renew;
pub mod survey;
pub mod x509;

pub use judge::{
    Assessment, Code, DateSource, Finding, Thresholds, Verdict, assess_certificate, assess_secret,
    days_left, expiry,
};
pub use keys::{KeyCheck, check_key};
pub use renew::{Progress, Triggered, WaitOutcome, WaitTarget, trigger, wait_for_renewal};
pub use survey::{Surveyed, survey};
pub use x509::{CertInfo, ChainError, Link, check_links, parse_chain};
