//! Building and packing the release archives.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::manifest;

pub const PLUGINS: [&str; 6] = ["health", "rollout", "cert", "diag", "backup", "bench"];

/// The front door (`kubectl sealos VERB`); its archive carries the six plugins beside it, so one
/// krew install brings the suite.
pub const UMBRELLA: &str = "kubectl-sealos";

#[derive(clap::Args)]
pub struct Options {
    /// Cargo profile to build with.
    #[arg(long, default_value = "release")]
    profile: String,
    /// Rust target triple (default: the host). Needs that target's toolchain installed.
    #[arg(long)]
    target: Option<String>,
    /// Where the archives go.
    #[arg(long, default_value = "dist")]
    out: PathBuf,
    /// The krew manifests to update.
    #[arg(long, default_value = "krew-manifests")]
    manifests: PathBuf,
    /// Cargo target directory (default: the workspace's).
    #[arg(long)]
    target_dir: Option<PathBuf>,
    /// Pack the binaries already built in the target directory (the tests build them once).
    #[arg(long)]
    no_build: bool,
}

pub fn run(options: &Options, root: &Path) -> Result<()> {
    let (os, arch, triple) = platform(options.target.as_deref())?;
    let version = env!("CARGO_PKG_VERSION");
    let target_dir = options
        .target_dir
        .clone()
        .unwrap_or_else(|| root.join("target"));
    if !options.no_build {
        build(root, options, &target_dir)?;
    }
    let profile_dir = if options.profile == "dev" {
        "debug"
    } else {
        options.profile.as_str()
    };
    let bin_dir = match &triple {
        Some(triple) => target_dir.join(triple).join(profile_dir),
        None => target_dir.join(profile_dir),
    };
    let out = root.join(&options.out);
    std::fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;
    let exe = if os == "windows" { ".exe" } else { "" };
    let platform = format!("v{version}_{os}_{arch}");
    let mut suite = vec![format!("{UMBRELLA}{exe}")];
    for plugin in PLUGINS {
        let bin = format!("kubectl-sealos-{plugin}{exe}");
        let archive = out.join(format!("kubectl-sealos-{plugin}_{platform}.tar.gz"));
        pack(&archive, &bin_dir, std::slice::from_ref(&bin), root)?;
        record(
            &archive,
            &root
                .join(&options.manifests)
                .join(format!("sealos-{plugin}.yaml")),
        )?;
        suite.push(bin);
    }
    let archive = out.join(format!("{UMBRELLA}_{platform}.tar.gz"));
    pack(&archive, &bin_dir, &suite, root)?;
    record(&archive, &root.join(&options.manifests).join("sealos.yaml"))
}

/// Records the sha256 of each archive of `manifest_path` that is present in `dist`; how many.
pub fn record_present(manifest_path: &Path, dist: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("read {}", manifest_path.display()))?;
    let archives: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.trim_start().trim_start_matches("- ").strip_prefix("uri:"))
        .filter_map(|uri| {
            uri.trim()
                .trim_matches('"')
                .rsplit('/')
                .next()
                .map(str::to_string)
        })
        .filter(|name| !name.is_empty() && !name.contains(".."))
        .map(|name| dist.join(name))
        .filter(|path| path.is_file())
        .collect();
    for archive in &archives {
        record(archive, manifest_path)?;
    }
    Ok(archives.len())
}

/// Writes the archive's sha256 into its platform entry of the manifest.
fn record(archive: &Path, manifest_path: &Path) -> Result<()> {
    let sha = sha256_file(archive)?;
    let archive_name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .context("archive name")?;
    let text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("read {}", manifest_path.display()))?;
    let updated = manifest::set_sha256(&text, archive_name, &sha)
        .with_context(|| format!("update {}", manifest_path.display()))?;
    write_atomically(manifest_path, updated.as_bytes())?;
    println!("{}  {sha}", archive.display());
    Ok(())
}

/// (krew os, krew arch, explicit triple) for the host or a given target.
fn platform(target: Option<&str>) -> Result<(&'static str, &'static str, Option<String>)> {
    let triple = target.map(str::to_string);
    let (os, arch) = match target {
        None => (std::env::consts::OS, std::env::consts::ARCH),
        Some(t) => {
            let os = if t.contains("linux") {
                "linux"
            } else if t.contains("apple-darwin") {
                "macos"
            } else if t.contains("windows") {
                "windows"
            } else {
                bail!("unsupported target {t}")
            };
            (
                os,
                if t.starts_with("aarch64") {
                    "aarch64"
                } else {
                    "x86_64"
                },
            )
        }
    };
    let os = match os {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "windows",
        other => bail!("unsupported OS {other}"),
    };
    let arch = match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => bail!("unsupported architecture {other}"),
    };
    Ok((os, arch, triple))
}

fn build(root: &Path, options: &Options, target_dir: &Path) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--locked", "--profile", &options.profile]);
    command.arg("--target-dir").arg(target_dir);
    if let Some(target) = &options.target {
        command.args(["--target", target]);
    }
    for plugin in PLUGINS {
        command.args(["-p", &format!("kubectl-sealos-{plugin}")]);
    }
    command.args(["-p", UMBRELLA]);
    let status = command.status().context("run cargo build")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    Ok(())
}

/// Writes `archive` with the binaries named `bins` from `bin_dir` (mode 0755), LICENSE and
/// README.md, at fixed mtimes so the same binaries pack to the same bytes.
fn pack(archive: &Path, bin_dir: &Path, bins: &[String], root: &Path) -> Result<()> {
    let partial = archive.with_extension("partial");
    let file = File::create(&partial).with_context(|| format!("create {}", partial.display()))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::best()));
    for bin in bins {
        append(&mut tar, &bin_dir.join(bin), bin, 0o755)?;
    }
    for doc in ["LICENSE", "README.md"] {
        append(&mut tar, &root.join(doc), doc, 0o644)?;
    }
    let gz = tar.into_inner().context("finish tar")?;
    gz.finish()
        .context("finish gzip")?
        .sync_all()
        .context("sync archive")?;
    std::fs::rename(&partial, archive).with_context(|| format!("rename to {}", archive.display()))
}

fn append<W: Write>(tar: &mut tar::Builder<W>, path: &Path, name: &str, mode: u32) -> Result<()> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .with_context(|| format!("read {}", path.display()))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, data.as_slice())
        .with_context(|| format!("pack {name}"))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("hash {}", path.display()))?;
    Ok(hex::encode(hasher.finalize()))
}

fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let partial = path.with_extension("yaml.partial");
    std::fs::write(&partial, data).with_context(|| format!("write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("rename to {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn platforms_use_krew_names() {
        assert_eq!(
            platform(Some("x86_64-unknown-linux-gnu")).unwrap().0,
            "linux"
        );
        assert_eq!(platform(Some("aarch64-apple-darwin")).unwrap().0, "darwin");
        let (os, arch, _) = platform(Some("x86_64-pc-windows-msvc")).unwrap();
        assert_eq!((os, arch), ("windows", "amd64"));
        let (_, arch, _) = platform(Some("aarch64-unknown-linux-gnu")).unwrap();
        assert_eq!(arch, "arm64");
        assert!(platform(Some("riscv64gc-unknown-none-elf")).is_err());
    }

    #[test]
    fn packing_is_deterministic_and_holds_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("LICENSE"), "license").unwrap();
        std::fs::write(root.join("README.md"), "readme").unwrap();
        std::fs::write(root.join("kubectl-sealos-x"), "binary").unwrap();
        let a = root.join("a.tar.gz");
        let b = root.join("b.tar.gz");
        let bins = ["kubectl-sealos-x".to_string()];
        pack(&a, root, &bins, root).unwrap();
        pack(&b, root, &bins, root).unwrap();
        assert_eq!(sha256_file(&a).unwrap(), sha256_file(&b).unwrap());
        let mut names = Vec::new();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(File::open(&a).unwrap()));
        for entry in archive.entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, ["kubectl-sealos-x", "LICENSE", "README.md"]);
    }
}
