//! The kubeconfig the sandbox writes: CA data, server URL, bearer token, context `sandbox`.

use base64::Engine;
use std::path::Path;

/// YAML text of a kubeconfig pointing at the sandbox.
pub fn render(server_url: &str, ca_pem: &str, token: &str, namespace: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: {server_url}
    certificate-authority-data: {ca}
users:
- name: sandbox
  user:
    token: {token}
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox
    namespace: {namespace}
current-context: sandbox
preferences: {{}}
"
    )
}

/// Write it with owner-only permissions: it holds a token.
pub fn write(path: &Path, yaml: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, yaml)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
