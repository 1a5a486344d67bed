//! Where Prometheus is: `--prometheus-url`, or by default the API server's service proxy to
//! `monitoring/prometheus:9090` (so it works from a laptop, where the in-cluster URL does not).
//! The one declaration of these flags: every command that asks Prometheus flattens it.

use std::time::Duration;

use clap::Args;

use crate::connection::Kube;
use crate::error::{Error, Result};
use crate::prometheus::Prometheus;

#[derive(Args, Debug, Clone)]
pub struct PrometheusFlags {
    /// Prometheus's URL (e.g. http://127.0.0.1:9090); default: through the API server's service proxy.
    // The URL may carry user:password@: --help must not show the environment's value.
    #[arg(
        long,
        value_name = "URL",
        env = "PROMETHEUS_URL",
        hide_env_values = true
    )]
    pub prometheus_url: Option<String>,
    /// The Prometheus Service the proxy path reaches, as NAMESPACE/NAME:PORT.
    #[arg(
        long,
        value_name = "NS/NAME:PORT",
        default_value = "monitoring/prometheus:9090"
    )]
    pub prometheus_service: String,
    /// How long one Prometheus query may take.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::number::positive_duration)]
    pub prometheus_timeout: Duration,
}

impl PrometheusFlags {
    /// Checks the flags without sending anything.
    pub fn validate(&self) -> Result<()> {
        if let Some(url) = &self.prometheus_url {
            Prometheus::direct(url, self.prometheus_timeout)
                .map_err(|e| Error::usage(format!("--prometheus-url: {e}")))?;
        }
        self.service_parts().map(|_| ())
    }

    fn service_parts(&self) -> Result<(&str, &str)> {
        match self.prometheus_service.split_once('/') {
            Some((ns, svc)) if !ns.is_empty() && !svc.is_empty() => Ok((ns, svc)),
            _ => Err(Error::usage(format!(
                "--prometheus-service {:?}: expected NAMESPACE/NAME:PORT, e.g. monitoring/prometheus:9090",
                self.prometheus_service
            ))),
        }
    }

    /// Whether Prometheus is reached through the cluster (no `--prometheus-url`).
    pub fn needs_cluster(&self) -> bool {
        self.prometheus_url.is_none()
    }

    /// The client: direct when a URL is given, else through the cluster's API server, each
    /// query bounded by the tighter of the two timeouts.
    pub fn client(&self, kube: Option<&Kube>) -> Result<Prometheus> {
        if let Some(url) = &self.prometheus_url {
            return Prometheus::direct(url, self.prometheus_timeout)
                .map_err(|e| Error::usage(format!("--prometheus-url: {e}")));
        }
        let (ns, svc) = self.service_parts()?;
        let kube = kube.ok_or_else(|| {
            Error::failed("no cluster to reach Prometheus through: give --prometheus-url")
        })?;
        Ok(Prometheus::service_proxy(kube.client.clone(), ns, svc).within(self.prometheus_timeout))
    }
}
