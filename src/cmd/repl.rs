//! `clobscript repl`.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use super::session::Session;
use super::{CommandError, CommandResult, exec, signals};
use crate::cli::{GlobalArgs, ReplArgs};
use crate::exit::Exit;
use crate::repl::Repl;
use crate::script::Host;

/// `clobscript repl`: a host with the shared flags, connected once, then the session.
pub fn repl(global: &GlobalArgs, args: &ReplArgs) -> CommandResult {
    let interactive = std::io::stdin().is_terminal();
    let mut options = exec::run_options(PathBuf::new(), &args.exec);
    options.progress = interactive && std::io::stderr().is_terminal();
    let host = Host::new(options.host_options()?).map_err(|e| CommandError::new(Exit::Usage, e))?;
    let session = Session::connect(global, &args.exec)?;
    host.connect(session.backend());
    host.begin_run("<repl>")
        .map_err(|e| CommandError::new(Exit::Usage, e))?;
    let mut repl = Repl::new(host, args.exec.timeout, interactive);
    signals::repl(&session.handle(), repl.interrupt_hook());
    let exchange = match session.sim() {
        Some(sim) => {
            let open = sim.open_order_ids_of(&sim.credentials().api_key).len();
            format!("simulator at {} with {open} open orders", sim.url())
        }
        None => session.host().to_owned(),
    };
    let exit = repl.run(&exchange);
    session.shutdown();
    Ok(exit)
}
