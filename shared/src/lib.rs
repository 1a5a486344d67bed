//! What two or more kubectl-sealos plugins need, one module per concern.
//!
//! Plugins depend on this crate; it knows no plugin.

pub mod audit;
pub mod cli;
pub mod connection;
pub mod error;
pub mod exit;
pub mod output;
pub mod progress;
pub mod resources;
pub mod retry;
pub mod version;

pub use error::{Error, Result};
pub use exit::Exit;
