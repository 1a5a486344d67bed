//! `--version`: the crate version and the git revision it was built from.

/// For clap's `#[command(version = ...)]`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SEALOS_GIT_REV"), ")");

/// The git revision alone, for JSON reports and backup indexes.
pub const GIT_REVISION: &str = env!("SEALOS_GIT_REV");

#[cfg(test)]
mod tests {
    #[test]
    fn version_names_crate_and_revision() {
        assert!(super::VERSION.starts_with(env!("CARGO_PKG_VERSION")));
        assert!(super::VERSION.ends_with(')'));
        assert!(!super::GIT_REVISION.is_empty());
    }
}
