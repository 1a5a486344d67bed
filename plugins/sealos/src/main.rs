fn main() -> std::process::ExitCode {
    kubectl_sealos::main(std::env::args_os().skip(1).collect())
}
