//! What two or more kubectl-sealos plugins need, one module per concern.
//!
//! Plugins depend on this crate; it knows no plugin.

pub mod alert;
pub mod archive;
pub mod audit;
pub mod certs;
pub mod cli;
pub mod connection;
pub mod deadline;
pub mod error;
pub mod exit;
pub mod flags;
pub mod install;
pub mod list;
pub mod number;
pub mod output;
pub mod progress;
pub mod prometheus;
pub mod prometheus_flags;
pub mod quantity;
pub mod resources;
pub mod retry;
pub mod s3;
#[cfg(any(test, feature = "test-server"))]
pub mod test_server;
pub mod traffic;
pub mod traffic_shift;
pub mod version;

pub use error::{Error, Result};
pub use exit::Exit;
