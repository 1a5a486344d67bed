use clap::Parser;

fn main() -> std::process::ExitCode {
    // `kubectl_complete-sealos-backup` (kubectl's plugin completion) or `__complete`.
    if let Some(code) = sealos_shared::complete::intercept::<kubectl_sealos_backup::Args>(
        kubectl_sealos_backup::completion_sources,
    ) {
        return code;
    }
    let args = kubectl_sealos_backup::Args::parse();
    let global = args.global.clone();
    sealos_shared::cli::main(&global, kubectl_sealos_backup::run(args))
}
