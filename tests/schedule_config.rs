//! `clobscript schedule` refusing bad input before anything runs, and the deployment examples
//! in `examples/deploy/` checked against the real binary and a simulator started here.

use std::path::Path;

use clap::Parser;
use clobscript::cli::{Cli, Command as Subcommand};
use clobscript::logging::LogFormat;

#[path = "common/mod.rs"]
mod support;
use support::Output;
use support::schedule::*;

mod bad_input {
    use super::*;

    fn refused(args: &[&str]) -> String {
        let dir = workdir();
        let script = dir.path().join("noop.rhai");
        let mut full = vec!["schedule", script.to_str().expect("utf-8 path")];
        full.extend_from_slice(args);
        let out = clobscript(dir.path(), &full);
        out.status(2);
        assert!(
            !dir.path().join("clobscript").join("runs.jsonl").exists(),
            "nothing may run"
        );
        out.stderr
    }

    #[test]
    fn a_bad_duration_is_refused_with_the_accepted_forms() {
        let msg = refused(&["--every", "5 minutes-ish"]);
        assert!(msg.contains("`5 minutes-ish` is not a duration"), "{msg}");
        assert!(msg.contains("`1h 30m`"), "{msg}");
    }

    #[test]
    fn a_bad_cron_expression_is_refused_naming_the_field() {
        let msg = refused(&["--cron", "0 25 * * *"]);
        assert!(msg.contains("hour field `25`"), "{msg}");
        let msg = refused(&["--cron", "*/5 * * * * *"]);
        assert!(msg.contains("five fields"), "{msg}");
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        let msg = refused(&["--cron", "0 9 * * *", "--tz", "Mars/Olympus"]);
        assert!(msg.contains("`Mars/Olympus` is not a time zone"), "{msg}");
    }

    #[test]
    fn a_schedule_needs_every_or_cron() {
        let msg = refused(&[]);
        assert!(msg.contains("--every DURATION"), "{msg}");
        let msg = refused(&["--every", "5m", "--cron", "* * * * *"]);
        assert!(msg.contains("cannot be used with"), "{msg}");
    }

    #[test]
    fn zero_limits_and_a_jitter_as_long_as_the_interval_are_refused() {
        let msg = refused(&["--every", "1m", "--max-runs", "0"]);
        assert!(msg.contains("max-runs must be at least 1"), "{msg}");
        let msg = refused(&["--every", "1m", "--jitter", "1m"]);
        assert!(msg.contains("jitter (1m) must be shorter"), "{msg}");
    }

    #[test]
    fn a_missing_script_is_refused() {
        let dir = workdir();
        let out = clobscript(dir.path(), &["schedule", "absent.rhai", "--every", "1m"]);
        out.status(2).stderr_has("absent.rhai");
    }

    fn jobs_file_refused(text: &str) -> String {
        let dir = workdir();
        let jobs = dir.path().join("jobs.toml");
        std::fs::write(&jobs, text).expect("jobs file");
        let out = clobscript(
            dir.path(),
            &["schedule", "--jobs", jobs.to_str().expect("utf-8")],
        );
        out.status(2);
        assert!(!dir.path().join("clobscript").join("runs.jsonl").exists());
        out.stderr
    }

    #[test]
    fn an_invalid_jobs_file_is_refused_before_anything_runs() {
        // The first job is fine; the second is not, so nothing may start at all.
        let msg = jobs_file_refused(
            "[jobs.a]\nscript = \"noop.rhai\"\nevery = \"1s\"\n\
             [jobs.b]\nscript = \"noop.rhai\"\ncron = \"* * * *\"\n",
        );
        assert!(msg.contains("job `b`"), "{msg}");
        assert!(msg.contains("five fields"), "{msg}");
    }

    #[test]
    fn a_jobs_file_with_a_typo_points_at_the_line() {
        let msg =
            jobs_file_refused("[jobs.a]\nscript = \"noop.rhai\"\nevery = \"1m\"\nmax_run = 3\n");
        assert!(msg.contains("line 4"), "{msg}");
        assert!(msg.contains("unknown field `max_run`"), "{msg}");
    }

    #[test]
    fn a_jobs_file_with_every_on_the_command_line_is_refused() {
        let dir = workdir();
        let jobs = dir.path().join("jobs.toml");
        std::fs::write(&jobs, "[jobs.a]\nscript = \"noop.rhai\"\nevery = \"1m\"\n").expect("file");
        let out = clobscript(
            dir.path(),
            &[
                "schedule",
                "--jobs",
                jobs.to_str().expect("utf-8"),
                "--every",
                "1m",
            ],
        );
        out.status(2).stderr_has("belong in the jobs file");
    }
}

mod deploy_examples {
    use super::*;
    use yaml_rust2::{Yaml, YamlLoader};

    fn deploy(file: &str) -> String {
        std::fs::read_to_string(repo().join("examples/deploy").join(file)).expect("example file")
    }

    fn yaml(file: &str) -> Yaml {
        let mut docs = YamlLoader::load_from_str(&deploy(file)).expect("valid YAML");
        assert_eq!(docs.len(), 1, "{file}: one document");
        docs.remove(0)
    }

    /// The sections of a systemd unit file: (section, key, value), in order.
    fn unit(file: &str) -> Vec<(String, String, String)> {
        let mut section = String::new();
        let mut entries = Vec::new();
        for line in deploy(file).lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{file}: `{line}` is not KEY=VALUE"));
            assert!(!section.is_empty(), "{file}: `{line}` outside a section");
            entries.push((section.clone(), key.to_owned(), value.to_owned()));
        }
        entries
    }

    fn value(entries: &[(String, String, String)], section: &str, key: &str) -> String {
        entries
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.clone())
            .unwrap_or_else(|| panic!("no {key}= in [{section}]"))
    }

    /// Runs an example's command line for real against a simulator: the playbook path is
    /// mapped from its deployed folder to the repository's `scripts/`, and the host and
    /// credentials come from the simulator. Returns the stale orders before, the exchange, and
    /// how the run went.
    fn run_for_real(argv: &[String], deployed_folder: &str) -> (Vec<String>, Exchange, Output) {
        let exchange = Exchange::with_orders(200);
        let cutoff = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64
            - 30 * 60;
        let stale = stale_orders(&exchange, cutoff);
        assert!(
            !stale.is_empty(),
            "the simulator has stale orders to cancel"
        );
        let args: Vec<String> = argv[1..]
            .iter()
            .map(|a| match a.strip_prefix(deployed_folder) {
                Some(file) => repo().join("scripts").join(file).display().to_string(),
                None => a.clone(),
            })
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let cmd = exchange.clobscript(dir.path(), &args);
        let done = Running::spawn(cmd, dir.path()).finish();
        (stale, exchange, done)
    }

    fn stale_orders(exchange: &Exchange, cutoff: i64) -> Vec<String> {
        exchange
            .sim
            .orders_of(exchange.api_key())
            .into_iter()
            .filter(|o| o.status == "LIVE" && o.created_at < cutoff)
            .map(|o| o.id)
            .collect()
    }

    /// The example's run did its job: exit 0, JSON log lines, every stale order canceled.
    fn assert_stale_orders_canceled(stale: &[String], exchange: &Exchange, done: &Output) {
        done.status(0);
        let json_lines = done
            .stderr
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
            .count();
        assert!(
            json_lines > 0,
            "--log-format json logs JSON lines: {}",
            done.stderr
        );
        for id in stale {
            assert_eq!(
                exchange.sim.order_status(id).as_deref(),
                Some("CANCELED"),
                "{id}"
            );
        }
    }

    /// Parses an argument vector the way the binary does.
    fn accepted(argv: &[String]) -> Cli {
        assert!(
            argv.first().is_some_and(|p| p.ends_with("clobscript")),
            "runs clobscript: {argv:?}"
        );
        Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?} is refused: {e}"))
    }

    #[test]
    fn the_systemd_timer_starts_a_one_shot_run_with_json_logs() {
        let service = unit("systemd/clobscript-cancel-stale.service");
        assert_eq!(value(&service, "Service", "Type"), "oneshot");
        assert!(value(&service, "Service", "EnvironmentFile").starts_with('/'));
        let argv: Vec<String> = value(&service, "Service", "ExecStart")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let cli = accepted(&argv);
        assert_eq!(cli.global.log_format, LogFormat::Json);
        let Subcommand::Run(run) = cli.command else {
            panic!("the service runs `clobscript run`: {argv:?}");
        };
        assert!(run.exec.timeout.is_some() && run.exec.max_cancels.is_some());

        let (stale, exchange, done) = run_for_real(&argv, "/etc/clobscript/playbooks/");
        assert_stale_orders_canceled(&stale, &exchange, &done);

        let timer = unit("systemd/clobscript-cancel-stale.timer");
        assert!(!value(&timer, "Timer", "OnCalendar").is_empty());
        assert_eq!(value(&timer, "Install", "WantedBy"), "timers.target");
    }

    #[test]
    fn the_systemd_scheduler_service_runs_the_example_jobs_file_with_heartbeats() {
        let service = unit("systemd/clobscript-scheduler.service");
        assert_eq!(value(&service, "Service", "KillSignal"), "SIGTERM");
        let argv: Vec<String> = value(&service, "Service", "ExecStart")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let cli = accepted(&argv);
        let Subcommand::Schedule(mut args) = cli.command else {
            panic!("the service runs `clobscript schedule`: {argv:?}");
        };
        assert!(args.heartbeat);
        assert_eq!(
            args.jobs.as_deref(),
            Some(Path::new("/etc/clobscript/jobs.toml"))
        );

        // The example jobs file, installed beside the playbooks it names, passes every check.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("playbooks")).expect("dir");
        std::fs::write(dir.path().join("playbooks/cancel_stale.rhai"), "").expect("script");
        std::fs::write(dir.path().join("jobs.toml"), deploy("jobs.toml")).expect("copy");
        args.jobs = Some(dir.path().join("jobs.toml"));
        let plan = clobscript::cmd::schedule::plan(&args).expect("the example jobs file is valid");
        assert_eq!(plan.jobs.len(), 2);
        assert!(plan.heartbeat.is_some());
        // systemd must wait longer than the grace before it resorts to SIGKILL.
        let stop = clobscript::util::parse_duration(&value(&service, "Service", "TimeoutStopSec"))
            .expect("duration");
        assert!(stop > plan.grace);
    }

    #[test]
    fn the_kubernetes_cronjob_forbids_overlap_and_reads_credentials_from_the_secret() {
        let cron = yaml("kubernetes/cronjob.yaml");
        assert_eq!(cron["kind"].as_str(), Some("CronJob"));
        let spec = &cron["spec"];
        assert_eq!(spec["concurrencyPolicy"].as_str(), Some("Forbid"));
        let schedule = spec["schedule"].as_str().expect("schedule");
        clobscript::schedule::trigger::Trigger::cron(schedule, None).expect("valid cron");

        let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
        let container = &pod["containers"][0];
        let argv: Vec<String> = container["command"]
            .as_vec()
            .into_iter()
            .chain(container["args"].as_vec())
            .flatten()
            .map(|v| v.as_str().expect("string argument").to_owned())
            .collect();
        let cli = accepted(&argv);
        assert_eq!(cli.global.log_format, LogFormat::Json);
        assert!(matches!(cli.command, Subcommand::Run(_)), "{argv:?}");
        let (stale, exchange, done) = run_for_real(&argv, "/playbooks/");
        assert_stale_orders_canceled(&stale, &exchange, &done);

        let secret_name = container["envFrom"][0]["secretRef"]["name"]
            .as_str()
            .expect("envFrom secretRef");
        let secret = yaml("kubernetes/secret.example.yaml");
        assert_eq!(secret["kind"].as_str(), Some("Secret"));
        assert_eq!(secret["metadata"]["name"].as_str(), Some(secret_name));
        for key in [
            "POLY_API_KEY",
            "POLY_API_SECRET",
            "POLY_PASSPHRASE",
            "POLY_ADDRESS",
        ] {
            assert!(
                secret["stringData"][key].as_str().is_some(),
                "the Secret provides {key}"
            );
        }

        // Failures that a retry cannot fix end the Job; the codes are the documented ones.
        let rule = &spec["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0];
        assert_eq!(rule["action"].as_str(), Some("FailJob"));
        let codes: Vec<i64> = rule["onExitCodes"]["values"]
            .as_vec()
            .expect("exit codes")
            .iter()
            .filter_map(Yaml::as_i64)
            .collect();
        use clobscript::exit::Exit;
        assert_eq!(
            codes,
            [
                Exit::ScriptFailed.code() as i64,
                Exit::Usage.code() as i64,
                Exit::Guard.code() as i64
            ]
        );
    }
}
