//! `clobscript schedule` and `clobscript heartbeat`.

use super::session::Session;
use super::{CommandError, CommandResult, exec, signals};
use crate::cli::{GlobalArgs, HeartbeatArgs, ScheduleArgs};
use crate::exit::Exit;
use crate::schedule::heartbeat::{self, Heartbeat, HeartbeatConfig};
use crate::schedule::jobs::{self, JobDefaults, JobError, RunSettings};
use crate::schedule::runlog::{self, RunLog};
use crate::schedule::shutdown::Shutdown;
use crate::schedule::trigger::Trigger;
use crate::schedule::{self, DEFAULT_GRACE, SchedulePlan, SetupError, script_job};

/// The flags that act as defaults for every job of a jobs file (and are the whole definition
/// of a single `schedule SCRIPT`).
pub fn job_defaults(args: &ScheduleArgs) -> JobDefaults {
    JobDefaults {
        jitter: args.jitter,
        run_now: !args.no_run_now,
        max_runs: args.max_runs,
        max_failures: args.max_failures,
        run: RunSettings {
            args: args.exec.args.clone(),
            dry_run: args.exec.dry_run,
            max_cancels: args.exec.max_cancels,
            timeout: args.exec.timeout,
        },
    }
}

/// Checks the flags (and jobs file): every job, duration, expression and limit. Flags win
/// over the jobs file's settings.
pub fn plan(args: &ScheduleArgs) -> Result<SchedulePlan, SetupError> {
    let defaults = job_defaults(args);
    let (jobs, file) = match (&args.jobs, &args.script) {
        (Some(path), _) => {
            if args.every.is_some() || args.cron.is_some() || args.tz.is_some() {
                return Err(JobError::FlagsWithJobsFile.into());
            }
            let file = jobs::load(path, &defaults)?;
            (file.jobs, file.settings)
        }
        (None, Some(script)) => {
            let trigger = Trigger::from_parts(args.every, args.cron.as_deref(), args.tz.as_deref())
                .map_err(JobError::from)?;
            (
                vec![jobs::from_flags(script, trigger, &defaults)?],
                Default::default(),
            )
        }
        (None, None) => return Err(JobError::MissingTrigger.into()),
    };
    let heartbeat_on = args.heartbeat || file.heartbeat.unwrap_or(false);
    let interval = args
        .heartbeat_interval
        .or(file.heartbeat_interval)
        .unwrap_or(heartbeat::DEFAULT_INTERVAL);
    if interval.is_zero() {
        return Err(SetupError::ZeroHeartbeatInterval);
    }
    if heartbeat_on {
        schedule::warn_if_heartbeat_too_slow("a heartbeat interval", interval);
    }
    Ok(SchedulePlan {
        jobs,
        run_log: args
            .run_log
            .clone()
            .or(file.run_log)
            .unwrap_or_else(runlog::default_path),
        heartbeat: heartbeat_on.then(|| HeartbeatConfig::every(interval)),
        grace: args.grace.or(file.grace).unwrap_or(DEFAULT_GRACE),
    })
}

/// `clobscript schedule`: checks everything, connects once, then runs the jobs until they are
/// done, one fails too often, or a signal stops them.
pub fn schedule(global: &GlobalArgs, args: &ScheduleArgs) -> CommandResult {
    let mut plan = plan(args).map_err(|e| CommandError::new(Exit::Usage, e))?;
    plan.heartbeat = plan
        .heartbeat
        .map(|config| heartbeat_config(global, config));
    let mut shared = exec::run_options(Default::default(), &args.exec);
    shared.json_lines = if crate::logging::json_lines() {
        crate::script::StderrLines::Json
    } else {
        crate::script::StderrLines::Text
    };
    let mut options = Vec::with_capacity(plan.jobs.len());
    for job in &plan.jobs {
        let prepared = script_job::preflight(job, &shared).map_err(|e| {
            CommandError::new(
                e.exit(),
                format_args!("job `{}` cannot run:\n{}", job.name, e.rendered()),
            )
        })?;
        options.push(prepared);
    }
    let log = RunLog::open(&plan.run_log).map_err(|e| CommandError::new(Exit::Usage, e))?;
    let session = Session::connect(global, &args.exec)?;
    let backend = session.backend();
    let client = session.client().clone();
    let served = session.block_on(async move {
        let shutdown = Shutdown::new();
        // Before the first run or heartbeat, so a SIGTERM during either is a clean stop.
        let listener = listen(&shutdown, signals::Stopping::Runs)?;
        let served = schedule::serve(plan, options, backend, client, log, shutdown).await;
        listener.abort();
        served.map_err(|e| CommandError::new(Exit::Api, e))
    });
    let (exit, abandoned) = match served {
        Ok(end) => end,
        Err(error) => {
            session.shutdown();
            return Err(error);
        }
    };
    if abandoned > 0 {
        // A run ignored its interrupt; waiting for its thread could hang the exit.
        tracing::warn!("{abandoned} run(s) did not stop; exiting without waiting for them");
        std::mem::forget(session);
    } else {
        session.shutdown();
    }
    Ok(exit)
}

/// The scheduler's signal policy on `shutdown` (inside the runtime, before any work).
fn listen(
    shutdown: &Shutdown,
    stopping: signals::Stopping,
) -> Result<tokio::task::JoinHandle<()>, CommandError> {
    signals::scheduler(shutdown.clone(), stopping).map_err(|e| {
        CommandError::new(
            Exit::Usage,
            format_args!("cannot listen for SIGINT/SIGTERM: {e}"),
        )
    })
}

/// `clobscript heartbeat`: keeps the exchange heartbeat alive until SIGINT/SIGTERM (exit 0).
pub fn heartbeat(global: &GlobalArgs, args: &HeartbeatArgs) -> CommandResult {
    if args.interval.is_zero() {
        return Err(CommandError::new(
            Exit::Usage,
            SetupError::ZeroHeartbeatInterval,
        ));
    }
    schedule::warn_if_heartbeat_too_slow("an interval", args.interval);
    let session = Session::connect_with(global, args.sim.as_deref())?;
    let client = session.client().clone();
    let config = heartbeat_config(global, HeartbeatConfig::every(args.interval));
    let result = session.block_on(async move {
        let shutdown = Shutdown::new();
        let listener = listen(&shutdown, signals::Stopping::Heartbeats)?;
        let result = match Heartbeat::start(client, config).await {
            Ok(hb) => {
                hb.keep_alive(shutdown.stop_token()).await;
                Ok(Exit::Success)
            }
            Err(e) => Err(CommandError::new(Exit::Api, e)),
        };
        listener.abort();
        result
    });
    session.shutdown();
    result
}

/// The global flags' part of a heartbeat's configuration: `--request-timeout` and `-v`.
fn heartbeat_config(global: &GlobalArgs, config: HeartbeatConfig) -> HeartbeatConfig {
    let config = config.logging_each(global.verbose > 0);
    match global.request_timeout {
        Some(timeout) => config.with_request_timeout(timeout),
        None => config,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn schedule_args(argv: &[&str]) -> ScheduleArgs {
        let cli = Cli::try_parse_from(["clobscript", "schedule"].iter().chain(argv))
            .expect("valid command line");
        match cli.command {
            Command::Schedule(args) => args,
            other => panic!("not schedule: {other:?}"),
        }
    }

    fn jobs_dir(settings: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.rhai"), "").expect("script");
        let text = format!("{settings}\n[jobs.a]\nscript = \"a.rhai\"\nevery = \"1m\"\n");
        std::fs::write(dir.path().join("jobs.toml"), text).expect("jobs file");
        dir
    }

    #[test]
    fn without_settings_the_defaults_apply() {
        let dir = jobs_dir("");
        let jobs = dir.path().join("jobs.toml");
        let plan = plan(&schedule_args(&["--jobs", jobs.to_str().expect("utf-8")])).expect("ok");
        assert_eq!(plan.grace, DEFAULT_GRACE);
        assert_eq!(plan.heartbeat, None);
        assert_eq!(plan.run_log, runlog::default_path());
    }

    #[test]
    fn jobs_file_settings_apply_and_command_line_flags_win() {
        let dir = jobs_dir(
            "grace = \"1m\"\nheartbeat = true\nheartbeat_interval = \"2s\"\nrun_log = \"r.jsonl\"",
        );
        let jobs = dir.path().join("jobs.toml");
        let jobs = jobs.to_str().expect("utf-8");
        let from_file = plan(&schedule_args(&["--jobs", jobs])).expect("ok");
        assert_eq!(from_file.grace, Duration::from_secs(60));
        assert_eq!(
            from_file.heartbeat,
            Some(HeartbeatConfig::every(Duration::from_secs(2)))
        );
        assert_eq!(from_file.run_log, dir.path().join("r.jsonl"));

        let flags = plan(&schedule_args(&[
            "--jobs",
            jobs,
            "--grace",
            "5s",
            "--heartbeat-interval",
            "300ms",
            "--run-log",
            "mine.jsonl",
        ]))
        .expect("ok");
        assert_eq!(flags.grace, Duration::from_secs(5));
        assert_eq!(
            flags.heartbeat,
            Some(HeartbeatConfig::every(Duration::from_millis(300)))
        );
        assert_eq!(flags.run_log, PathBuf::from("mine.jsonl"));
    }

    #[test]
    fn a_zero_heartbeat_interval_is_refused() {
        let dir = jobs_dir("");
        let script = dir.path().join("a.rhai");
        let err = plan(&schedule_args(&[
            script.to_str().expect("utf-8"),
            "--every",
            "1m",
            "--heartbeat",
            "--heartbeat-interval",
            "0s",
        ]))
        .unwrap_err();
        assert!(matches!(err, SetupError::ZeroHeartbeatInterval), "{err}");
    }
}
