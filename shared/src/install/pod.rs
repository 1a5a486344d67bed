//! The pod of an installed workload: the suite's image, the restricted security context (the
//! Pod Security Standard "restricted" profile), resources, and the workload's ServiceAccount.

use serde_json::{Value, json};

use super::Workload;

/// Where the suite's image lives; the tag is the suite's version.
pub const IMAGE_REPOSITORY: &str = "ghcr.io/labring/kubectl-sealos";

/// The image of this build: `ghcr.io/labring/kubectl-sealos:v<version>`, the tag the release
/// workflow pushes (the git tag, `v`-prefixed as krew wants it).
pub fn default_image() -> String {
    format!("{IMAGE_REPOSITORY}:v{}", env!("CARGO_PKG_VERSION"))
}

/// The image's user (distroless `nonroot`): numeric, so `runAsNonRoot` can be verified.
pub const RUN_AS_USER: u64 = 65532;

/// Requests and limits of the one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub cpu_request: String,
    pub memory_request: String,
    pub cpu_limit: String,
    pub memory_limit: String,
}

impl Default for Resources {
    /// Enough for one of the suite's binaries polling the API server and Prometheus.
    fn default() -> Self {
        Resources {
            cpu_request: "10m".into(),
            memory_request: "32Mi".into(),
            cpu_limit: "200m".into(),
            memory_limit: "128Mi".into(),
        }
    }
}

impl Resources {
    pub fn to_value(&self) -> Value {
        json!({
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        })
    }
}

/// The pod-level security context: non-root, seccomp RuntimeDefault.
pub fn pod_security_context() -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

/// The container's security context: read-only root, no privilege escalation, no capabilities.
pub fn container_security_context() -> Value {
    json!({
        "runAsNonRoot": true,
        "readOnlyRootFilesystem": true,
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

/// The one container: `program` (one of the suite's binaries) with `args`, environment `env`
/// (`EnvVar` objects: secrets by `secretKeyRef`, never by value), secured and bounded.
pub fn container(
    name: &str,
    image: &str,
    program: &str,
    args: &[String],
    env: Vec<Value>,
    resources: &Resources,
) -> Value {
    let mut c = json!({
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": [program],
        "args": args,
        "resources": resources.to_value(),
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    });
    if !env.is_empty() {
        c["env"] = json!(env);
    }
    c
}

/// The pod template of a Deployment or a Job: the workload's labels and ServiceAccount, the
/// security context, `restart_policy` (`Always` for a Deployment, `Never`/`OnFailure` for a Job).
pub fn pod_template(workload: &Workload, container: Value, restart_policy: &str) -> Value {
    json!({
        "metadata": {"labels": workload.labels()},
        "spec": {
            "serviceAccountName": workload.name,
            "automountServiceAccountToken": true,
            "restartPolicy": restart_policy,
            "securityContext": pod_security_context(),
            "containers": [container],
        }
    })
}

/// An `EnvVar` read from a Secret's key.
pub fn env_from_secret(name: &str, secret: &str, key: &str) -> Value {
    json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_is_restricted() {
        let w = Workload::new("mon", "health-monitor", "monitoring");
        let c = container(
            "monitor",
            &default_image(),
            "kubectl-sealos-health",
            &["monitor".to_string()],
            vec![env_from_secret("SLACK_WEBHOOK_URL", "slack", "url")],
            &Resources::default(),
        );
        let t = pod_template(&w, c, "Always");
        let spec = &t["spec"];
        assert_eq!(spec["serviceAccountName"], "mon");
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let sc = &spec["containers"][0]["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"][0], "ALL");
        assert_eq!(
            spec["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["key"],
            "url"
        );
        assert_eq!(
            default_image(),
            format!(
                "ghcr.io/labring/kubectl-sealos:v{}",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(
            t["metadata"]["labels"]["app.kubernetes.io/component"],
            "health-monitor"
        );
    }
}
