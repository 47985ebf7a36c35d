fn main() -> std::process::ExitCode {
    clobscript::cli::main().into()
}
