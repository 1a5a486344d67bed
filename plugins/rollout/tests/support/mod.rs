//! Test support shared by the test binaries.
pub mod prometheus;
pub mod slack;
