//! Shared by the end-to-end tests: finding (or building) the real binaries and running commands
//! so that a failing assertion shows the command, its exit code, stdout and stderr.

pub mod bins;
pub mod run;

pub use bins::{PLUGINS, bin_dir, plugin_bin, workspace_root};
pub use run::{Output, run};
