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
        "-o",
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
    assert_eq!(
        summary["files"].as_array().unwrap().len() + 1,
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
        "-o",
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
        "-o",
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

    // Bad input is refused before anything is read.
    let args = ["bundle", "--max-size", "huge"];
    let output = binary(&sandbox, home.path(), &args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&args, &output)
    );
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
        "-o",
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
