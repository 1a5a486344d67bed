//! kubectl's identity flags: who the requests act as (`--as`, `--as-group`, `--as-uid`: the
//! `Impersonate-*` headers), and the credentials and trust that override the kubeconfig's
//! (`--token`, `--certificate-authority`, `--insecure-skip-tls-verify`). Same meanings and the
//! same refusals as kubectl 1.32, checked before any request.

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use clap::Args;
use kube::Config;

use crate::error::{Error, Result};

/// Identity and trust flags, part of the connection flags of every plugin.
#[derive(Args, Debug, Clone, Default)]
pub struct IdentityFlags {
    /// Username to impersonate for the operation: a user, or a ServiceAccount as
    /// system:serviceaccount:NAMESPACE:NAME.
    #[arg(long = "as", value_name = "USER", global = true)]
    pub as_user: Option<String>,
    /// Group to impersonate for the operation; repeat for several groups.
    #[arg(long = "as-group", value_name = "GROUP", global = true)]
    pub as_group: Vec<String>,
    /// UID to impersonate for the operation.
    #[arg(long = "as-uid", value_name = "UID", global = true)]
    pub as_uid: Option<String>,
    /// Bearer token for authentication to the API server (replaces the kubeconfig user's
    /// credentials; never printed).
    #[arg(long, value_name = "TOKEN", global = true, value_parser = Token::parse)]
    pub token: Option<Token>,
    /// Path to a cert file for the certificate authority (replaces the kubeconfig cluster's).
    #[arg(long, value_name = "PATH", global = true)]
    pub certificate_authority: Option<PathBuf>,
    /// If true, the server's certificate will not be checked for validity. This will make your
    /// HTTPS connections insecure.
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,
}

/// A bearer token from the command line: its `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    fn parse(text: &str) -> std::result::Result<Token, std::convert::Infallible> {
        Ok(Token(text.to_string()))
    }

    /// The token itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Token {
    fn from(text: &str) -> Token {
        Token(text.to_string())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The user `--as` names in this process, for wording a 403 (see [`acting_as`]).
static ACTING_AS: OnceLock<String> = OnceLock::new();

/// The user the commands of this process act as through `--as`, if any: a refusal is then the
/// impersonated user's, and the hint says so rather than blaming the kubeconfig's user.
pub fn acting_as() -> Option<&'static str> {
    ACTING_AS.get().map(String::as_str)
}

impl IdentityFlags {
    /// Checks the combination as kubectl does, before anything is loaded or sent.
    pub fn validate(&self) -> Result<()> {
        if self.insecure_skip_tls_verify && self.certificate_authority.is_some() {
            // kubectl's own words (clientcmd's validation).
            return Err(Error::Config(
                "specifying a root certificates file with the insecure flag is not allowed".into(),
            ));
        }
        if self.as_user.as_deref().is_none_or(str::is_empty)
            && (!self.as_group.is_empty() || self.as_uid.is_some())
        {
            return Err(Error::Config(
                "requesting uid or groups without impersonating a user: add --as USER".into(),
            ));
        }
        Ok(())
    }

    /// Applies the flags over what the kubeconfig gave.
    pub fn apply(&self, config: &mut Config) -> Result<()> {
        self.validate()?;
        if let Some(token) = &self.token {
            // kubectl: a token given on the command line is the credential; the kubeconfig
            // user's other ways of getting one (token file, exec plugin, basic auth) give way.
            let auth = &mut config.auth_info;
            auth.token = Some(token.expose().to_string().into());
            auth.token_file = None;
            auth.exec = None;
            auth.auth_provider = None;
            auth.username = None;
            auth.password = None;
        }
        if let Some(path) = &self.certificate_authority {
            let pem = std::fs::read(path).map_err(|e| {
                Error::Config(format!(
                    "unable to read certificate-authority {}: {e}",
                    path.display()
                ))
            })?;
            let ders = pem_certificates(&pem).ok_or_else(|| {
                Error::Config(format!(
                    "certificate-authority {}: no PEM certificate in the file",
                    path.display()
                ))
            })?;
            config.root_cert = Some(ders);
            config.accept_invalid_certs = false;
        }
        if self.insecure_skip_tls_verify {
            // As kubectl: the flag drops the kubeconfig's CA rather than being refused with it.
            config.root_cert = None;
            config.accept_invalid_certs = true;
        }
        if let Some(user) = self.as_user.as_deref().filter(|u| !u.is_empty()) {
            let auth = &mut config.auth_info;
            auth.impersonate = Some(user.to_string());
            auth.impersonate_groups = (!self.as_group.is_empty()).then(|| self.as_group.clone());
            auth.impersonate_uid = self.as_uid.clone();
            let _ = ACTING_AS.set(user.to_string());
        }
        Ok(())
    }
}

/// The DER bodies of the `CERTIFICATE` blocks of a PEM file, or `None` when it has none.
fn pem_certificates(pem: &[u8]) -> Option<Vec<Vec<u8>>> {
    let certs: Vec<Vec<u8>> = x509_parser::pem::Pem::iter_from_buffer(pem)
        .filter_map(|block| block.ok())
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| block.contents)
        .collect();
    (!certs.is_empty()).then_some(certs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        identity: IdentityFlags,
    }

    fn parse(args: &[&str]) -> IdentityFlags {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .identity
    }

    #[test]
    fn flags_parse_like_kubectl() {
        let flags = parse(&[
            "--as",
            "system:serviceaccount:ns:sa",
            "--as-group",
            "a",
            "--as-group",
            "b",
            "--as-uid",
            "42",
        ]);
        assert_eq!(
            flags.as_user.as_deref(),
            Some("system:serviceaccount:ns:sa")
        );
        assert_eq!(flags.as_group, ["a", "b"]);
        assert_eq!(flags.as_uid.as_deref(), Some("42"));
        flags.validate().unwrap();
    }

    #[test]
    fn the_token_never_shows() {
        let flags = parse(&["--token", "s3cr3t-token"]);
        let debug = format!("{flags:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert_eq!(flags.token.as_ref().unwrap().expose(), "s3cr3t-token");
        assert_eq!(flags.token.unwrap().to_string(), "<redacted>");
    }

    #[test]
    fn kubectl_refusals() {
        let err = parse(&[
            "--insecure-skip-tls-verify",
            "--certificate-authority",
            "/x",
        ])
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "specifying a root certificates file with the insecure flag is not allowed"
        );
        for args in [&["--as-group", "g"][..], &["--as-uid", "1"][..]] {
            let err = parse(args).validate().unwrap_err();
            assert!(
                err.to_string().contains("without impersonating a user"),
                "{err}"
            );
            assert_eq!(err.exit().code(), 2);
        }
    }

    #[test]
    fn overrides_reach_the_config() {
        let mut config = Config::new("https://127.0.0.1:6443".parse().unwrap());
        config.auth_info.token_file = Some("/var/run/token".into());
        parse(&[
            "--token",
            "t",
            "--insecure-skip-tls-verify",
            "--as",
            "alice",
            "--as-group",
            "devs",
        ])
        .apply(&mut config)
        .unwrap();
        assert!(config.auth_info.token.is_some());
        assert!(config.auth_info.token_file.is_none());
        assert!(config.accept_invalid_certs);
        assert_eq!(config.auth_info.impersonate.as_deref(), Some("alice"));
        assert_eq!(
            config.auth_info.impersonate_groups.as_deref(),
            Some(&["devs".to_string()][..])
        );
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let mut config = Config::new("https://127.0.0.1:6443".parse().unwrap());
        let err = parse(&["--certificate-authority", "/nonexistent/ca.pem"])
            .apply(&mut config)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unable to read certificate-authority /nonexistent/ca.pem: "),
            "{err}"
        );
    }
}
