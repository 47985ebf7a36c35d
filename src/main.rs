fn main() -> std::process::ExitCode {
    clobscript::cmd::main().into()
}
