//! kubectl-compatible connection flags and the client they build.
//!
//! Same precedence as kubectl: `--kubeconfig`, else `KUBECONFIG` (several files, merged), else
//! `~/.kube/config`, else the in-cluster service account. TLS verification stays on unless the
//! kubeconfig itself says otherwise.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::deadline::DeadlineLayer;
use crate::error::{Error, Result};
use crate::identity::IdentityFlags;

/// The flags kubectl users expect on every command that talks to a cluster.
#[derive(Args, Debug, Clone)]
pub struct KubeFlags {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "PATH", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,
    /// The kubeconfig cluster to use.
    #[arg(long, value_name = "NAME", global = true)]
    pub cluster: Option<String>,
    /// The kubeconfig user to use.
    #[arg(long, value_name = "NAME", global = true)]
    pub user: Option<String>,
    /// The namespace (default: the context's namespace, else "default").
    #[arg(short = 'n', long, value_name = "NS", global = true)]
    pub namespace: Option<String>,
    /// Act across all namespaces.
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// How long one API request may take, answer and body (0 waits for ever; watches and log
    /// follows keep their own bounds): "30s", "1m", or seconds.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::number::duration_or_zero, global = true)]
    pub request_timeout: Duration,
    /// `--as`, `--as-group`, `--as-uid`, `--token`, `--certificate-authority`,
    /// `--insecure-skip-tls-verify`.
    #[command(flatten)]
    pub identity: IdentityFlags,
}

/// The default of `--request-timeout`: long enough for a slow list page, short enough that a
/// server that stopped answering ends the command instead of hanging it.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for KubeFlags {
    /// What the command line gives when no flag is set.
    fn default() -> Self {
        KubeFlags {
            kubeconfig: None,
            context: None,
            cluster: None,
            user: None,
            namespace: None,
            all_namespaces: false,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            identity: IdentityFlags::default(),
        }
    }
}

/// A connected client and what it was built from (the audit log names context and user).
#[derive(Clone)]
pub struct Kube {
    pub client: Client,
    /// The namespace commands default to: `-n`, else the context's, else "default".
    pub namespace: String,
    /// `-n` as given: commands that act on every namespace unless told one read it.
    pub requested_namespace: Option<String>,
    pub all_namespaces: bool,
    pub context: String,
    pub user: String,
    pub server: String,
}

impl Kube {
    /// `None` with `-A`, otherwise the namespace to act in.
    pub fn scope(&self) -> Option<&str> {
        if self.all_namespaces {
            None
        } else {
            Some(&self.namespace)
        }
    }

    /// The namespace `-n` named (not with `-A`), else `None`: the scope of commands that look
    /// at every namespace unless told one.
    pub fn requested_scope(&self) -> Option<&str> {
        self.requested_namespace
            .as_deref()
            .filter(|_| !self.all_namespaces)
    }

    /// The client of the kubeconfig at `path` (its current context), built as the flags build it:
    /// what a test hands to a command in place of the dispatcher's.
    pub async fn from_kubeconfig(path: &std::path::Path) -> Result<Kube> {
        KubeFlags {
            kubeconfig: Some(path.to_path_buf()),
            ..KubeFlags::default()
        }
        .connect()
        .await
    }
}

impl KubeFlags {
    /// What [`Kube::requested_scope`] will be, before connecting.
    pub fn requested_scope(&self) -> Option<&str> {
        self.namespace.as_deref().filter(|_| !self.all_namespaces)
    }

    /// Loads the configuration and builds a client. Sends no request.
    pub async fn connect(&self) -> Result<Kube> {
        let (config, context, user) = self.config().await?;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let server = config.cluster_url.to_string();
        let builder = ClientBuilder::try_from(config)
            .map_err(|e| Error::Config(format!("build the API client: {e}")))?;
        let client = if self.request_timeout.is_zero() {
            builder.build()
        } else {
            builder
                .with_layer(&DeadlineLayer {
                    limit: self.request_timeout,
                })
                .build()
        };
        Ok(Kube {
            client,
            namespace,
            requested_namespace: self.namespace.clone(),
            all_namespaces: self.all_namespaces,
            context,
            user,
            server,
        })
    }

    async fn config(&self) -> Result<(Config, String, String)> {
        // Refused flag combinations fail before any file is read.
        self.identity.validate()?;
        let options = KubeConfigOptions {
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
        };
        let mut config = match self.load_kubeconfig()? {
            Some(kubeconfig) => {
                let context = options
                    .context
                    .clone()
                    .or_else(|| kubeconfig.current_context.clone());
                let user = options.user.clone().or_else(|| {
                    let name = context.as_deref()?;
                    let ctx = kubeconfig.contexts.iter().find(|c| c.name == name)?;
                    ctx.context
                        .as_ref()
                        .map(|c| c.user.clone().unwrap_or_default())
                });
                let config = Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| Error::Config(format!("load kubeconfig: {e}")))?;
                (
                    config,
                    context.unwrap_or_default(),
                    user.unwrap_or_default(),
                )
            }
            None => {
                let config = Config::incluster().map_err(|e| {
                    Error::Config(format!(
                        "no kubeconfig found (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a cluster: {e}"
                    ))
                })?;
                (
                    config,
                    "in-cluster".to_string(),
                    "serviceaccount".to_string(),
                )
            }
        };
        // kube retries 429/503/504 itself, up to 15 times with delays growing to minutes: a
        // Service proxy answering 503 (Prometheus with no endpoints) held `health monitor --once`
        // for minutes. Reads retry through `retry::read`, bounded by its Backoff.
        config.0.default_retry = false;
        self.identity.apply(&mut config.0)?;
        // The request deadline (deadline.rs) bounds answers; a socket read timeout would also cut
        // a quiet watch, so only the connect is bounded here.
        if !self.request_timeout.is_zero() {
            config.0.connect_timeout = Some(self.request_timeout);
        }
        Ok(config)
    }

    pub(crate) fn load_kubeconfig(&self) -> Result<Option<Kubeconfig>> {
        let read = |path: &PathBuf| {
            Kubeconfig::read_from(path)
                .map_err(|e| Error::Config(format!("read kubeconfig {}: {e}", path.display())))
        };
        if let Some(path) = &self.kubeconfig {
            return read(path).map(Some);
        }
        // KUBECONFIG may list several files; kube merges them as kubectl does.
        if let Some(merged) = Kubeconfig::from_env()
            .map_err(|e| Error::Config(format!("read kubeconfig from KUBECONFIG: {e}")))?
        {
            return Ok(Some(merged));
        }
        match std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".kube").join("config"))
        {
            Some(path) if path.exists() => read(&path).map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        kube: KubeFlags,
    }

    const KUBECONFIG_A: &str = r#"
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: ca
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: ua
  user: {token: secret-a}
contexts:
- name: a
  context: {cluster: ca, user: ua, namespace: team-a}
"#;
    const KUBECONFIG_B: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: cb
  cluster: {server: "https://127.0.0.2:6443", insecure-skip-tls-verify: true}
users:
- name: ub
  user: {token: secret-b}
contexts:
- name: b
  context: {cluster: cb, user: ub}
"#;

    #[test]
    fn request_timeout_takes_kubectl_forms() {
        let timeout = |value: &str| {
            Cli::try_parse_from(["x", "--request-timeout", value]).map(|c| c.kube.request_timeout)
        };
        assert_eq!(timeout("0").unwrap(), Duration::ZERO);
        assert_eq!(timeout("15").unwrap(), Duration::from_secs(15));
        assert_eq!(timeout("1m").unwrap(), Duration::from_secs(60));
        let why = timeout("soon").unwrap_err().to_string();
        assert!(why.contains("not a duration"), "{why}");
        // What would overflow a deadline, or is no number at all, is refused, not a panic later.
        for bad in ["10000000000000000000", "1e20", "NaN", "inf", "-5"] {
            let err = timeout(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}: {err}");
        }
    }

    #[test]
    fn flags_parse_like_kubectl() {
        let cli = Cli::try_parse_from([
            "x",
            "-n",
            "sealos-system",
            "--context",
            "b",
            "--request-timeout",
            "5s",
        ])
        .unwrap();
        assert_eq!(cli.kube.namespace.as_deref(), Some("sealos-system"));
        assert_eq!(cli.kube.context.as_deref(), Some("b"));
        assert_eq!(cli.kube.request_timeout, Duration::from_secs(5));
        let cli = Cli::try_parse_from(["x", "-A"]).unwrap();
        assert!(cli.kube.all_namespaces);
    }

    #[tokio::test]
    async fn explicit_kubeconfig_gives_context_namespace_and_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, KUBECONFIG_A).unwrap();
        let flags = KubeFlags {
            kubeconfig: Some(path),
            ..Default::default()
        };
        let kube = flags.connect().await.unwrap();
        assert_eq!(kube.namespace, "team-a");
        assert_eq!(kube.context, "a");
        assert_eq!(kube.user, "ua");
        assert_eq!(kube.scope(), Some("team-a"));
        assert!(kube.server.starts_with("https://127.0.0.1:6443"));
        // Retries are ours (retry::read), not kube's unbounded-looking default.
        assert!(!flags.config().await.unwrap().0.default_retry);
    }

    #[tokio::test]
    async fn namespace_flag_wins_and_context_can_be_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, KUBECONFIG_A).unwrap();
        std::fs::write(&b, KUBECONFIG_B).unwrap();
        // Several files as KUBECONFIG would give them, merged in order.
        let merged = Kubeconfig::read_from(&a)
            .unwrap()
            .merge(Kubeconfig::read_from(&b).unwrap())
            .unwrap();
        let merged_path = dir.path().join("merged.yaml");
        std::fs::write(&merged_path, serde_saphyr::to_string(&merged).unwrap()).unwrap();
        let flags = KubeFlags {
            kubeconfig: Some(merged_path),
            context: Some("b".into()),
            namespace: Some("ns-x".into()),
            ..Default::default()
        };
        let kube = flags.connect().await.unwrap();
        assert_eq!(kube.namespace, "ns-x");
        assert_eq!(kube.context, "b");
        assert_eq!(kube.user, "ub");
        assert!(kube.server.starts_with("https://127.0.0.2:6443"));
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_is_a_config_error() {
        let flags = KubeFlags {
            kubeconfig: Some("/nonexistent/kubeconfig".into()),
            ..Default::default()
        };
        let err = flags.connect().await.err().unwrap();
        assert!(matches!(err, Error::Config(_)));
        assert!(err.to_string().contains("/nonexistent/kubeconfig"), "{err}");
    }
}
