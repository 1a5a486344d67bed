//! `sealos-sandbox serve`: run the emulated cluster until SIGINT/SIGTERM.

use clap::{Parser, Subcommand};
use sealos_sandbox::{Sandbox, SandboxOptions, Scenario};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "sealos-sandbox",
    version,
    about = "An emulated Kubernetes API server seeded with a Sealos + Istio cluster"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sandbox cluster until interrupted.
    Serve {
        /// A built-in scenario (`sealos`, `empty`) or YAML/JSON files to load.
        #[arg(long, num_args = 1.., default_value = "sealos")]
        scenario: Vec<String>,
        /// Where to write the kubeconfig (default: a file in a temporary directory).
        #[arg(long)]
        kubeconfig_out: Option<PathBuf>,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        /// Default namespace of the kubeconfig's context.
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Seconds a Deployment rollout takes.
        #[arg(long, default_value_t = 3.0)]
        rollout_seconds: f64,
        /// A YAML file of faults to inject (see the README's "Faults").
        #[arg(long)]
        faults: Option<PathBuf>,
        /// A YAML file of restricted tokens to accept besides the kubeconfig's (see the README).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Generated objects to add, e.g. `pods=20000,configmaps=20000,secrets=5000`
        /// (kinds: pods, configmaps, secrets, services, virtualservices, certificates).
        #[arg(long)]
        scale: Option<String>,
        /// Run pods whose image matches PATTERN (`*`, `?` globs) as local processes, their
        /// programs found in DIR (repeatable), e.g. `ghcr.io/labring/kubectl-sealos:*=target/debug`.
        #[arg(long = "run-image", value_name = "PATTERN=DIR")]
        run_image: Vec<String>,
        /// How much faster than real time cron schedules, deadlines, TTLs and back-offs run.
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
    },
}

async fn wait_for_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Command::Serve {
        scenario,
        kubeconfig_out,
        addr,
        namespace,
        rollout_seconds,
        faults,
        token_file,
        scale,
        run_image,
        time_scale,
    } = args.command;
    if !(time_scale.is_finite() && time_scale > 0.0) {
        eprintln!("error: --time-scale must be a positive number, got {time_scale}");
        return ExitCode::from(2);
    }
    let run_images = match run_image
        .iter()
        .map(|s| s.parse::<sealos_sandbox::kubelet::RunImage>())
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let scale = match scale.as_deref().map(sealos_sandbox::scale::parse) {
        None => vec![],
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let tokens = match token_file {
        None => vec![],
        Some(path) => match std::fs::read_to_string(&path)
            .map_err(|e| format!("read {}: {e}", path.display()))
            .and_then(|t| sealos_sandbox::auth::parse_token_file(&t))
        {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let faults = match faults {
        None => vec![],
        Some(path) => match std::fs::read_to_string(&path)
            .map_err(|e| format!("read {}: {e}", path.display()))
            .and_then(|t| sealos_sandbox::faults::parse_file(&t))
        {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let scenario = match scenario.as_slice() {
        [one] if sealos_sandbox::scenario::BUILTIN_NAMES.contains(&one.as_str()) => {
            Scenario::Builtin(one.clone())
        }
        files => Scenario::Files(files.iter().map(PathBuf::from).collect()),
    };
    let rollout = Duration::try_from_secs_f64(rollout_seconds).unwrap_or(Duration::from_secs(3));
    let opts = SandboxOptions {
        scenario,
        addr,
        kubeconfig_out,
        namespace,
        rollout,
        run_images,
        time_scale,
        ..Default::default()
    };
    let sandbox = match Sandbox::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: start sandbox: {e}");
            return ExitCode::from(2);
        }
    };
    for f in faults {
        sandbox.add_fault(f);
    }
    for t in tokens {
        sandbox.add_token(&t.token, &t.user, t.rules);
    }
    if let Err(e) = sandbox.add_generated(&scale) {
        eprintln!("error: generate objects: {}", e.message);
        return ExitCode::from(2);
    }
    println!(
        "sealos-sandbox ready: url={} kubeconfig={}",
        sandbox.url(),
        sandbox.kubeconfig_path().display()
    );
    wait_for_signal().await;
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}
