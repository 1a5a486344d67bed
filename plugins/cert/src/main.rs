use clap::Parser;

fn main() -> std::process::ExitCode {
    // `kubectl_complete-sealos-cert` (kubectl's plugin completion) or `__complete`.
    if let Some(code) = sealos_shared::complete::intercept::<kubectl_sealos_cert::Args>(
        kubectl_sealos_cert::completion_sources,
    ) {
        return code;
    }
    let args = kubectl_sealos_cert::Args::parse();
    let global = args.global.clone();
    sealos_shared::cli::main(&global, kubectl_sealos_cert::run(args))
}
