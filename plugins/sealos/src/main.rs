fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_default();
    kubectl_sealos::main(program, args.collect())
}
