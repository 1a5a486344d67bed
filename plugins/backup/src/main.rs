use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = kubectl_sealos_backup::Args::parse();
    let global = args.global.clone();
    sealos_shared::cli::main(&global, kubectl_sealos_backup::run(args))
}
