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
}

pub fn run(options: &Options, root: &Path) -> Result<()> {
    let (os, arch, triple) = platform(options.target.as_deref())?;
    let version = env!("CARGO_PKG_VERSION");
    let target_dir = options
        .target_dir
        .clone()
        .unwrap_or_else(|| root.join("target"));
    build(root, options, &target_dir)?;
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
    for plugin in PLUGINS {
        let bin = format!("kubectl-sealos-{plugin}{exe}");
        let archive_name = format!("kubectl-sealos-{plugin}_v{version}_{os}_{arch}.tar.gz");
        let archive = out.join(&archive_name);
        pack(&archive, &bin_dir.join(&bin), &bin, root)?;
        let sha = sha256_file(&archive)?;
        let manifest_path = root
            .join(&options.manifests)
            .join(format!("sealos-{plugin}.yaml"));
        let text = std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("read {}", manifest_path.display()))?;
        let updated = manifest::set_sha256(&text, &archive_name, &sha)
            .with_context(|| format!("update {}", manifest_path.display()))?;
        write_atomically(&manifest_path, updated.as_bytes())?;
        println!("{}  {sha}", archive.display());
    }
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
    let status = command.status().context("run cargo build")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    Ok(())
}

/// Writes `archive` with the binary (mode 0755), LICENSE and README.md, at fixed mtimes so the
/// same binary packs to the same bytes.
fn pack(archive: &Path, binary: &Path, bin_name: &str, root: &Path) -> Result<()> {
    let partial = archive.with_extension("partial");
    let file = File::create(&partial).with_context(|| format!("create {}", partial.display()))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::best()));
    append(&mut tar, binary, bin_name, 0o755)?;
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
        std::fs::write(root.join("bin"), "binary").unwrap();
        let a = root.join("a.tar.gz");
        let b = root.join("b.tar.gz");
        pack(&a, &root.join("bin"), "kubectl-sealos-x", root).unwrap();
        pack(&b, &root.join("bin"), "kubectl-sealos-x", root).unwrap();
        assert_eq!(sha256_file(&a).unwrap(), sha256_file(&b).unwrap());
        let mut names = Vec::new();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(File::open(&a).unwrap()));
        for entry in archive.entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, ["kubectl-sealos-x", "LICENSE", "README.md"]);
    }
}
