//! The flags `run`, `repl` and `schedule` share, as the script host's options.

use std::path::PathBuf;

use crate::cli::ExecArgs;
use crate::script::{AuditTarget, RunOptions};

/// The one mapping of the shared flags (`--arg`, `--dry-run`, `--max-cancels`, `--timeout`,
/// `--audit`) for `script`.
pub fn run_options(script: PathBuf, exec: &ExecArgs) -> RunOptions {
    RunOptions {
        script,
        args: exec.args.clone(),
        dry_run: exec.dry_run,
        max_cancels: exec.max_cancels,
        timeout: exec.timeout,
        audit: exec
            .audit
            .clone()
            .map_or(AuditTarget::Default, AuditTarget::File),
        print_to_stderr: false,
        progress: false,
        json_lines: crate::script::StderrLines::Text,
        afterwards: crate::script::Afterwards::Free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_flags_become_host_options() {
        let given = ["minutes=5"];
        let exec = ExecArgs {
            args: given.map(String::from).to_vec(),
            dry_run: true,
            max_cancels: Some(3),
            ..ExecArgs::default()
        };
        let options = run_options(PathBuf::new(), &exec)
            .host_options()
            .expect("valid");
        assert_eq!(options.args.raw("minutes"), Some("5"));
        assert!(options.dry_run);
        assert_eq!(options.max_cancels, Some(3));
        assert_eq!(options.audit, AuditTarget::Default);
        let bad = ExecArgs {
            args: vec!["minutes".into()],
            ..ExecArgs::default()
        };
        assert_eq!(
            run_options(PathBuf::new(), &bad)
                .host_options()
                .unwrap_err()
                .exit(),
            crate::exit::Exit::Usage
        );
    }
}
