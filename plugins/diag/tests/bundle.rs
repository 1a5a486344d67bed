//! `bundle` with the real binary against the sandbox: what the archive holds, that no Secret
//! value is in it unless asked, its mode, the size budget, and the path printed.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use support::*;

fn read_archive(path: &Path) -> BTreeMap<String, String> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        out.insert(name, text);
    }
    out
}

/// Every Secret value stored in the cluster's namespaces the bundle covers.
fn secret_values(sandbox: &sealos_sandbox::Sandbox, namespaces: &[&str]) -> Vec<String> {
    namespaces
        .iter()
        .flat_map(|ns| sandbox.objects("", "secrets", Some(ns)))
        .flat_map(|s| {
            s["data"]
                .as_object()
                .map(|d| {
                    d.iter()
                        // Certificates are public (CertificateRequests carry them too): the
                        // keys, tokens and passwords are what must not leak.
                        .filter(|(k, _)| !k.contains("crt") && !k.contains("cert"))
                        .filter_map(|(_, v)| v.as_str().map(String::from))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        // Short values (an empty key, "true") could appear by chance.
        .filter(|v| v.len() > 16)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_holds_what_it_says_and_no_secret_values() {
    let sandbox = start(seeded()).await;
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diag.tar.gz");
    let file_arg = file.display().to_string();
    let args = [
        "bundle",
        "--to",
        &file_arg,
        "-n",
        "ns-bob",
        "--since",
        "2h",
        "--envoy-timeout",
        "2s",
    ];
    let output = binary(&sandbox, home.path(), &args);
    let what = describe(&args, &output);
    assert_eq!(output.status.code(), Some(0), "{what}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&file_arg) && stdout.contains("redacted"),
        "{what}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Written under a temporary name, renamed: nothing else is left.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let archive = read_archive(&file);
    let names: Vec<&String> = archive.keys().collect();
    for expected in [
        "summary.json",
        "resources/istio/gateways.yaml",
        "resources/istio/virtualservices.yaml",
        "resources/istio/destinationrules.yaml",
        "resources/istio/peerauthentications.yaml",
        "resources/cert-manager/certificates.yaml",
        "resources/cert-manager/clusterissuers.yaml",
        "resources/sealos-system/deployments.yaml",
        "resources/ns-bob/pods.yaml",
        "resources/ns-bob/secrets.yaml",
        "resources/ns-bob/poddisruptionbudgets.yaml",
        "resources/istio-system/configmaps.yaml",
        "events/ns-bob.yaml",
    ] {
        assert!(
            archive.contains_key(expected),
            "{expected} missing: {names:?}"
        );
    }
    let has = |prefix: &str| names.iter().any(|n| n.starts_with(prefix));
    assert!(has("logs/istio-system/istiod-"), "{names:?}");
    assert!(has("logs/istio-system/istio-ingressgateway-"), "{names:?}");
    assert!(has("logs/sealos-system/terminal-controller-"), "{names:?}");
    assert!(has("logs/cert-manager/cert-manager-"), "{names:?}");
    let istiod_log = archive
        .iter()
        .find(|(n, _)| n.starts_with("logs/istio-system/istiod-"))
        .unwrap()
        .1;
    assert!(istiod_log.contains("ACK ERROR"), "{istiod_log}");
    assert!(archive["resources/istio/virtualservices.yaml"].contains("app-test.cloud.sealos.io"));
    assert!(archive["resources/ns-bob/secrets.yaml"].contains("app-test-tls"));
    assert!(archive["resources/ns-bob/secrets.yaml"].contains("<redacted"));

    let summary: Value = serde_json::from_str(&archive["summary.json"]).unwrap();
    assert_eq!(summary["secrets_redacted"], true);
    assert_eq!(summary["namespaces"][3], "ns-bob");
    // The files listed, summary.json and README.md.
    assert_eq!(
        summary["files"].as_array().unwrap().len() + 2,
        archive.len()
    );
    // No pod's admin port is forwarded to a real server here: the dumps are noted as unreachable.
    assert_eq!(summary["envoy_dumps"], 0);
    assert!(
        summary["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("config dump")),
        "{summary:#}"
    );

    let secrets = secret_values(
        &sandbox,
        &["istio-system", "sealos-system", "cert-manager", "ns-bob"],
    );
    assert!(secrets.len() > 5, "the scenario has TLS keys to hide");
    for (name, text) in &archive {
        for value in &secrets {
            assert!(
                !text.contains(value.as_str()),
                "a Secret value is in {name}"
            );
        }
    }

    // Asked for, the values are kept; a tiny size budget skips what does not fit.
    let full = dir.path().join("full.tar.gz");
    let full_arg = full.display().to_string();
    let args = [
        "bundle",
        "--to",
        &full_arg,
        "--include-secrets",
        "--max-envoy-pods",
        "0",
    ];
    let output = binary(&sandbox, home.path(), &args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&args, &output)
    );
    let archive = read_archive(&full);
    let istio_secrets = secret_values(&sandbox, &["istio-system"]);
    assert!(archive["resources/istio-system/secrets.yaml"].contains(istio_secrets[0].as_str()));

    let small = dir.path().join("small.tar.gz");
    let small_arg = small.display().to_string();
    let args = [
        "bundle",
        "--to",
        &small_arg,
        "--max-size",
        "4Ki",
        "--max-envoy-pods",
        "0",
    ];
    let output = binary(&sandbox, home.path(), &args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&args, &output)
    );
    let archive = read_archive(&small);
    let summary: Value = serde_json::from_str(&archive["summary.json"]).unwrap();
    assert!(summary["bytes"].as_u64().unwrap() <= 4096, "{summary:#}");
    assert!(!summary["skipped"].as_array().unwrap().is_empty());

    // Bad input is refused before anything is read, with the reason.
    for (args, message) in [
        (&["bundle", "--max-size", "huge"][..], "--max-size"),
        (
            &["bundle", "--since", "1e20"][..],
            "too long: the longest is",
        ),
        (
            &["bundle", "--since", "NaN"][..],
            "not a finite number of seconds",
        ),
        (
            &["bundle", "--envoy-timeout", "0"][..],
            "must be more than 0",
        ),
        (
            &["bundle", "--log-limit", "0"][..],
            "--log-limit must be more than 0",
        ),
        // -o is the format, as everywhere: the old `-o FILE` is refused with the new flag.
        (
            &["bundle", "-o", "/tmp/diag.tar.gz"][..],
            "\"/tmp/diag.tar.gz\": -o is the output format; the bundle file is --to FILE",
        ),
    ] {
        let output = binary(&sandbox, home.path(), args);
        let what = describe(args, &output);
        assert_eq!(output.status.code(), Some(2), "{what}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(message),
            "{message}\n{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_config_dumps_come_through_the_port_forward() {
    let sandbox = start(seeded()).await;
    let (addr, _) = envoy_admin(blog_clusters(&["HEALTHY"])).await;
    forward_admin_port(&sandbox, "ns-carol", "blog-", &addr.to_string());
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("envoy.tar.gz");
    let file_arg = file.display().to_string();
    let args = [
        "bundle",
        "--to",
        &file_arg,
        "-n",
        "ns-carol",
        "--envoy-timeout",
        "5s",
    ];
    let output = binary(&sandbox, home.path(), &args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&args, &output)
    );
    let archive = read_archive(&file);
    let dump = archive
        .iter()
        .find(|(n, _)| n.starts_with("envoy/ns-carol/blog-") && n.ends_with("/config_dump.json"))
        .unwrap_or_else(|| panic!("no dump: {:?}", archive.keys().collect::<Vec<_>>()));
    assert!(dump.1.contains("BootstrapConfigDump"), "{}", dump.1);
    let summary: Value = serde_json::from_str(&archive["summary.json"]).unwrap();
    assert_eq!(summary["envoy_dumps"], 1, "{summary:#}");
}

/// What a vendor would see: the seeded cluster plus a Deployment with a literal `DB_PASSWORD`, a
/// ConfigMap key `password` and a Secret, all made by the real `kubectl apply` (so each carries
/// the last-applied annotation that repeats its values), and a controller logging credentials.
/// Unpacked, no file of the bundle holds any of those values, in clear or in base64.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_for_a_vendor_holds_no_credential_anywhere() {
    let sandbox = start(seeded()).await;
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let unique = format!("{:016x}", fastrand_u64());
    let env_value = format!("envpw-{unique}");
    let cm_value = format!("cmpw-{unique}");
    let secret_value = format!("secretpw-{unique}");
    let string_data_value = format!("stringpw-{unique}");
    let url_password = format!("urlpw-{unique}");
    let log_password = format!("logpw-{unique}");
    let log_token = format!("logtoken-{unique}");
    let manifest = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: vault-test
  namespace: ns-bob
spec:
  replicas: 1
  selector:
    matchLabels: {{app: vault-test}}
  template:
    metadata:
      labels: {{app: vault-test}}
    spec:
      initContainers:
      - name: migrate
        image: app:1
        env:
        - {{name: DB_PASSWORD, value: "{env_value}"}}
      containers:
      - name: app
        image: app:1
        env:
        - {{name: DB_PASSWORD, value: "{env_value}"}}
        - {{name: LOG_LEVEL, value: debug}}
        - {{name: DATABASE_URL, value: "postgres://app:{url_password}@db:5432/app"}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: vault-config
  namespace: ns-bob
data:
  password: "{cm_value}"
  replicas: "3"
---
apiVersion: v1
kind: Secret
metadata:
  name: vault-secret
  namespace: ns-bob
type: Opaque
data:
  db-password: "{}"
stringData:
  api: "{string_data_value}"
"#,
        b64(&secret_value)
    );
    let file = dir.path().join("vault.yaml");
    std::fs::write(&file, manifest).unwrap();
    let applied = std::process::Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(sandbox.kubeconfig_path())
        .arg("apply")
        .arg("-f")
        .arg(&file)
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        applied.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let secret = sandbox
        .object("", "secrets", "ns-bob", "vault-secret")
        .unwrap();
    let last_applied =
        secret["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    assert!(
        last_applied.contains(&b64(&secret_value)),
        "kubectl apply keeps the values in the annotation: {secret}"
    );
    // The Deployment's pod carries the env too: wait for the sandbox's controllers to make it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sandbox
        .objects("", "pods", Some("ns-bob"))
        .iter()
        .any(|p| p["metadata"]["labels"]["app"] == "vault-test")
    {
        assert!(std::time::Instant::now() < deadline, "no vault-test pod");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A controller that logs what it should not.
    let controller = sandbox
        .objects("", "pods", Some("sealos-system"))
        .into_iter()
        .find(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("terminal-controller-")
        })
        .unwrap();
    let name = controller["metadata"]["name"].as_str().unwrap().to_string();
    let container = controller["spec"]["containers"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let now = jiff::Timestamp::now();
    let log = format!(
        "{now} INFO connecting to postgres://app:{url_password}@db:5432/app\n\
         {now} DEBUG env DB_PASSWORD={log_password} LOG_LEVEL=debug\n\
         {now} DEBUG request {{\"user\": \"bob\", \"token\": \"{log_token}\"}}\n"
    );
    sandbox
        .modify("", "pods", "sealos-system", &name, |p| {
            p["metadata"]["annotations"]["sandbox.sealos.io/logs"] =
                serde_json::json!({ container.as_str(): log })
                    .to_string()
                    .into();
        })
        .unwrap();

    let bundle = dir.path().join("vendor.tar.gz");
    let bundle_arg = bundle.display().to_string();
    let args = [
        "bundle",
        "--to",
        &bundle_arg,
        "-n",
        "ns-bob",
        "--max-envoy-pods",
        "0",
    ];
    let output = binary(&sandbox, home.path(), &args);
    let what = describe(&args, &output);
    assert_eq!(output.status.code(), Some(0), "{what}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("redacted (rules in its README.md)"),
        "{what}"
    );
    let archive = read_archive(&bundle);
    let secrets = [
        env_value.as_str(),
        cm_value.as_str(),
        secret_value.as_str(),
        string_data_value.as_str(),
        url_password.as_str(),
        log_password.as_str(),
        log_token.as_str(),
    ];
    let mut forbidden: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    forbidden.extend(secrets.iter().map(|s| b64(s)));
    // The unique part alone catches any other encoding that keeps it readable.
    forbidden.push(unique.clone());
    for (file, text) in &archive {
        for value in &forbidden {
            assert!(!text.contains(value.as_str()), "{value:?} is in {file}");
        }
    }
    // What was redacted is still there by name, and what is not a credential is kept.
    let deployments = &archive["resources/ns-bob/deployments.yaml"];
    assert!(deployments.contains("DB_PASSWORD"), "{deployments}");
    assert!(deployments.contains("LOG_LEVEL") && deployments.contains("debug"));
    assert!(deployments.contains("postgres://app:<redacted>@db:5432/app"));
    let pods = &archive["resources/ns-bob/pods.yaml"];
    assert!(
        pods.contains("vault-test") && pods.contains("DB_PASSWORD"),
        "pods: no vault-test"
    );
    let configmaps = &archive["resources/ns-bob/configmaps.yaml"];
    assert!(configmaps.contains("vault-config") && configmaps.contains("replicas"));
    let log = archive
        .iter()
        .find(|(n, _)| n.starts_with(&format!("logs/sealos-system/{name}/")))
        .unwrap()
        .1;
    assert!(
        log.contains("DB_PASSWORD=<redacted> LOG_LEVEL=debug"),
        "{log}"
    );
    assert!(log.contains("\"user\": \"bob\""), "{log}");
    let readme = &archive["README.md"];
    for rule in [
        "password",
        "`key`",
        "last-applied-configuration",
        "limitBytes",
        "user:password@",
    ] {
        assert!(readme.contains(rule), "README lacks {rule}:\n{readme}");
    }
    let summary: Value = serde_json::from_str(&archive["summary.json"]).unwrap();
    let counts = &summary["redaction"]["counts"];
    assert_eq!(summary["redaction"]["enabled"], true);
    assert!(counts["env_values"].as_u64().unwrap() >= 4, "{counts}");
    assert!(
        counts["configmap_values"].as_u64().unwrap() >= 1,
        "{counts}"
    );
    assert!(counts["last_applied"].as_u64().unwrap() >= 3, "{counts}");

    // Logs are read with limitBytes: the server cut them.
    let asked = sandbox
        .request_log()
        .entries()
        .iter()
        .filter(|r| r.path.ends_with("/log"))
        .all(|r| r.query.contains("limitBytes="));
    assert!(asked, "a log was read without limitBytes");

    // --redact adds a pattern; --no-redact keeps everything and says so loudly.
    let plain = dir.path().join("plain.tar.gz");
    let plain_arg = plain.display().to_string();
    let args = [
        "bundle",
        "--to",
        &plain_arg,
        "-n",
        "ns-bob",
        "--max-envoy-pods",
        "0",
        "--no-redact",
    ];
    let output = binary(&sandbox, home.path(), &args);
    let what = describe(&args, &output);
    assert_eq!(output.status.code(), Some(0), "{what}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("NOTHING REDACTED (--no-redact)"),
        "{what}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("NOTHING WAS REDACTED"),
        "{what}"
    );
    let archive = read_archive(&plain);
    assert!(archive["README.md"].contains("NOTHING WAS REDACTED"));
    assert!(archive["resources/ns-bob/deployments.yaml"].contains(&env_value));
    let summary: Value = serde_json::from_str(&archive["summary.json"]).unwrap();
    assert_eq!(summary["redaction"]["enabled"], false);
    assert_eq!(summary["secrets_redacted"], false);

    let args = ["bundle", "--redact", "", "--max-envoy-pods", "0"];
    let output = binary(&sandbox, home.path(), &args);
    let what = describe(&args, &output);
    assert_eq!(output.status.code(), Some(2), "{what}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--redact needs a non-empty name pattern"),
        "{what}"
    );
}

/// A value no other test or seed could produce.
fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}
