//! Every krew manifest is complete and names its binary; archives built by `cargo xtask package`
//! carry the binary and match the sha256 written into the manifest.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::path::Path;
use std::process::Command;

use sealos_e2e::{PLUGINS, run, workspace_root};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PLATFORMS: [(&str, &str); 5] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
];

fn manifest(dir: &Path, plugin: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(format!("sealos-{plugin}.yaml"))).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn sha256(path: &Path) -> String {
    let mut hasher = Sha256::new();
    std::io::copy(&mut File::open(path).unwrap(), &mut hasher).unwrap();
    hex::encode(hasher.finalize())
}

fn archive_entries(path: &Path) -> Vec<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(File::open(path).unwrap()));
    archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

/// Checks one manifest; with `dist`, also the archives found there.
fn check(manifest: &Value, plugin: &str, dist: Option<&Path>) -> usize {
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(manifest["metadata"]["name"], format!("sealos-{plugin}"));
    let spec = &manifest["spec"];
    let version = spec["version"].as_str().unwrap();
    assert_eq!(
        version,
        format!("v{}", env!("CARGO_PKG_VERSION")),
        "manifest version follows the crate"
    );
    for field in ["homepage", "shortDescription", "description", "caveats"] {
        assert!(
            spec[field].as_str().is_some_and(|s| !s.trim().is_empty()),
            "{plugin}: {field} missing"
        );
    }
    assert!(
        spec["shortDescription"].as_str().unwrap().len() <= 60,
        "{plugin}: krew wants a short shortDescription"
    );
    assert!(
        spec["caveats"].as_str().unwrap().contains("RBAC"),
        "{plugin}: caveats name the RBAC"
    );
    let platforms = spec["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), PLATFORMS.len());
    let mut verified = 0;
    for (os, arch) in PLATFORMS {
        let entry = platforms
            .iter()
            .find(|p| {
                p["selector"]["matchLabels"]["os"] == os
                    && p["selector"]["matchLabels"]["arch"] == arch
            })
            .unwrap_or_else(|| panic!("{plugin}: no {os}/{arch} platform"));
        let exe = if os == "windows" { ".exe" } else { "" };
        assert_eq!(
            entry["bin"],
            format!("kubectl-sealos-{plugin}{exe}"),
            "{plugin}: name and binary agree"
        );
        let uri = entry["uri"].as_str().unwrap();
        let archive_name = format!("kubectl-sealos-{plugin}_{version}_{os}_{arch}.tar.gz");
        assert!(
            uri.starts_with("https://") && uri.ends_with(&format!("/{version}/{archive_name}")),
            "{uri}"
        );
        let sha = entry["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{plugin}: sha256 {sha:?}"
        );
        if let Some(archive) = dist.map(|d| d.join(&archive_name)).filter(|a| a.exists()) {
            assert_eq!(
                sha256(&archive),
                sha,
                "{plugin}: {archive_name} does not match its manifest"
            );
            assert!(archive_entries(&archive).contains(&format!("kubectl-sealos-{plugin}{exe}")));
            verified += 1;
        }
    }
    verified
}

#[test]
fn committed_manifests_are_complete_and_match_any_built_archive() {
    let root = workspace_root();
    for plugin in PLUGINS {
        check(
            &manifest(&root.join("krew-manifests"), plugin),
            plugin,
            Some(&root.join("dist")),
        );
    }
}

#[test]
fn packaging_writes_archives_whose_sha256_lands_in_the_manifests() {
    let root = workspace_root();
    let work = tempfile::tempdir().unwrap();
    let manifests = work.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let names = PLUGINS
        .iter()
        .map(|plugin| format!("sealos-{plugin}.yaml"))
        .chain(["sealos.yaml".to_string()]);
    for name in names {
        std::fs::copy(
            root.join("krew-manifests").join(&name),
            manifests.join(&name),
        )
        .unwrap();
    }
    let dist = work.path().join("dist");
    // The dev profile keeps the test fast; the release command differs only by --profile. The
    // xtask binary and the plugins are those this test process built (`cargo xtask` would resolve
    // xtask's dependencies on its own and compile a second copy of the workspace).
    let target_dir = sealos_e2e::bin_dir().parent().unwrap().to_path_buf();
    let xtask = sealos_e2e::bin_dir().join("xtask");
    let out = run(Command::new(&xtask)
        .current_dir(&root)
        .args(["package", "--profile", "dev", "--no-build"])
        .args([
            "--out".as_ref(),
            dist.as_os_str(),
            "--manifests".as_ref(),
            manifests.as_os_str(),
            "--target-dir".as_ref(),
            target_dir.as_os_str(),
        ]));
    out.expect_code(0);
    for plugin in PLUGINS {
        let verified = check(&manifest(&manifests, plugin), plugin, Some(&dist));
        assert_eq!(
            verified, 1,
            "{plugin}: the host platform's archive was built and verified\n{out}"
        );
    }

    // The suite's archive holds the front door and the six plugins beside it.
    let suite: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(manifests.join("sealos.yaml")).unwrap())
            .unwrap();
    let host = suite["spec"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|p| {
            let file = p["uri"].as_str()?.rsplit('/').next()?;
            dist.join(file).exists().then(|| dist.join(file))
        })
        .expect("the host platform's suite archive");
    let entries = archive_entries(&host);
    assert!(
        entries.contains(&"kubectl-sealos".to_string()),
        "{entries:?}"
    );
    for plugin in PLUGINS {
        assert!(
            entries.contains(&format!("kubectl-sealos-{plugin}")),
            "{entries:?}"
        );
    }

    // krew's own rules over every manifest, with the archives just built.
    let check_manifests = |dist: &Path| {
        run(Command::new(&xtask)
            .current_dir(&root)
            .arg("check-manifests")
            .args([
                "--manifests".as_ref(),
                manifests.as_os_str(),
                "--dist".as_ref(),
                dist.as_os_str(),
            ]))
    };
    check_manifests(&dist).expect_code(0);
    // An archive changed after its sha256 was recorded is caught, by name.
    let mut bytes = std::fs::read(&host).unwrap();
    bytes.push(0);
    std::fs::write(&host, bytes).unwrap();
    let tampered = check_manifests(&dist);
    tampered.expect_code(1);
    assert!(
        tampered.stdout.contains("sealos.yaml: spec.platforms[")
            && tampered.stdout.contains("the manifest says"),
        "{tampered}"
    );
}
