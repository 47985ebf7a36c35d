//! `clobscript completions SHELL` and `clobscript man`: both generated from the clap
//! definitions in [`crate::cli`], so they never drift from the flags the binary accepts.

use std::io::Write as _;

use clap::CommandFactory as _;

use super::{CommandError, CommandResult};
use crate::cli::{Cli, CompletionsArgs, Shell};
use crate::exit::Exit;

/// `clobscript completions SHELL`: the completion script on stdout.
pub fn completions(args: &CompletionsArgs) -> CommandResult {
    let mut command = Cli::command();
    let mut text = Vec::new();
    let name = command.get_name().to_owned();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut command, name, &mut text);
    write_stdout(&text, "the completion script")
}

/// `clobscript man`: the manual page (roff) on stdout, every subcommand included.
pub fn man() -> CommandResult {
    let command = Cli::command();
    let mut text = Vec::new();
    let render = |out: &mut Vec<u8>| -> std::io::Result<()> {
        let man = clap_mangen::Man::new(command.clone());
        man.render_title(out)?;
        man.render_name_section(out)?;
        man.render_synopsis_section(out)?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
        man.render_subcommands_section(out)?;
        render_subcommands(out, &command, "clobscript")?;
        man.render_version_section(out)?;
        Ok(())
    };
    render(&mut text).map_err(|e| {
        CommandError::new(
            Exit::Usage,
            format_args!("cannot render the manual page: {e}"),
        )
    })?;
    write_stdout(&text, "the manual page")
}

/// A section for every visible subcommand of `parent`, and theirs in turn (`auth delete`).
fn render_subcommands(
    out: &mut Vec<u8>,
    parent: &clap::Command,
    path: &str,
) -> std::io::Result<()> {
    for sub in parent
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let path = format!("{path} {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", path.to_uppercase())?;
        let sub = sub.clone().bin_name(&path);
        let man = clap_mangen::Man::new(sub.clone());
        man.render_synopsis_section(out)?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
        render_subcommands(out, &sub, &path)?;
    }
    Ok(())
}

fn write_stdout(bytes: &[u8], what: &str) -> CommandResult {
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => Ok(Exit::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(CommandError::new(
            Exit::Usage,
            format_args!("cannot write {what}: {e}"),
        )),
    }
}
