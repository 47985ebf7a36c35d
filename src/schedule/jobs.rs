//! Job definitions: from the command line (`schedule SCRIPT --every 5m ...`) or from a jobs file
//! (`schedule --jobs FILE.toml`). Everything is checked here, before anything runs.
//!
//! A jobs file:
//!
//! ```toml
//! # Scheduler-wide settings (all optional; command-line flags win).
//! run_log = "/var/lib/clobscript/runs.jsonl"
//! heartbeat = true
//! grace = "30s"
//!
//! [jobs.stale-orders]
//! script = "cancel_stale.rhai"      # relative to this file
//! every = "5m"                      # or: cron = "*/5 * * * *", tz = "Europe/London"
//! jitter = "10s"
//! timeout = "1m"
//! max_cancels = 500
//! max_failures = 3
//! args = { minutes = 30 }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::limits::{LimitError, RunLimits};
use super::spec::{ScheduleSpec, SpecError};
use super::trigger::{Trigger, TriggerError};
use crate::util::parse_duration;

/// What one run of a job is given: the `run` flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSettings {
    /// `KEY=VALUE` pairs, as `--arg` takes them.
    pub args: Vec<String>,
    pub dry_run: bool,
    pub max_cancels: Option<u64>,
    pub timeout: Option<Duration>,
}

/// A complete, checked job.
#[derive(Clone, Debug)]
pub struct JobDefinition {
    pub name: String,
    pub script: PathBuf,
    pub spec: ScheduleSpec,
    pub limits: RunLimits,
    pub run: RunSettings,
}

/// A job that cannot be scheduled as written.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("say when to run: --every DURATION (e.g. `5m`) or --cron EXPR (e.g. `*/5 * * * *`)")]
    MissingTrigger,
    #[error("give either an interval (every) or a cron expression (cron), not both")]
    BothTriggers,
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("{field}: {message}")]
    Duration {
        field: &'static str,
        message: String,
    },
    #[error("argument `{0}` is not KEY=VALUE")]
    Arg(String),
    #[error("argument `{key}` must be a string, number or boolean, not {kind}")]
    ArgType { key: String, kind: &'static str },
    #[error("script {}: {problem}", path.display())]
    Script { path: PathBuf, problem: String },
    #[error(
        "--every, --cron, --tz and a SCRIPT belong in the jobs file when --jobs is given; \
         the other flags are defaults for every job"
    )]
    FlagsWithJobsFile,
}

/// A jobs file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JobsFileError {
    #[error("cannot read the jobs file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the jobs file {} is not valid: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error(
        "the jobs file {} defines no jobs; add a table such as [jobs.stale-orders] with \
         `script` and `every` or `cron`",
        path.display()
    )]
    NoJobs { path: PathBuf },
    #[error("the jobs file {}, job `{job}`: {source}", path.display())]
    Job {
        path: PathBuf,
        job: String,
        source: JobError,
    },
    #[error("the jobs file {}: {source}", path.display())]
    Setting { path: PathBuf, source: JobError },
}

/// Command-line flags that act as defaults for every job of a jobs file (and are the whole
/// definition of a single `schedule SCRIPT`).
#[derive(Clone, Debug)]
pub struct JobDefaults {
    pub jitter: Option<Duration>,
    pub run_now: bool,
    pub max_runs: Option<u64>,
    pub max_failures: Option<u64>,
    pub run: RunSettings,
}

impl Default for JobDefaults {
    /// Runs at once, no jitter, no limits, plain run settings.
    fn default() -> Self {
        JobDefaults {
            jitter: None,
            run_now: true,
            max_runs: None,
            max_failures: None,
            run: RunSettings::default(),
        }
    }
}

/// The job of a single `schedule SCRIPT (--every | --cron)`, named after the script's stem.
/// `trigger` is what `--every` / `--cron` / `--tz` describe ([`Trigger::from_parts`]).
pub fn from_flags(
    script: &Path,
    trigger: Option<Trigger>,
    defaults: &JobDefaults,
) -> Result<JobDefinition, JobError> {
    let defaults = defaults.clone();
    let trigger = trigger.ok_or(JobError::MissingTrigger)?;
    check_script(script)?;
    let spec = ScheduleSpec::new(
        trigger,
        defaults.jitter.unwrap_or_default(),
        defaults.run_now,
    )?;
    let limits = RunLimits::new(defaults.max_runs, defaults.max_failures)?;
    let run = RunSettings {
        args: merge_args(&defaults.run.args, &BTreeMap::new())?,
        ..defaults.run
    };
    Ok(JobDefinition {
        name: job_name_of(script),
        script: script.to_owned(),
        spec,
        limits,
        run,
    })
}

fn job_name_of(script: &Path) -> String {
    script
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "job".to_owned())
}

fn check_script(path: &Path) -> Result<(), JobError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(JobError::Script {
            path: path.to_owned(),
            problem: "is not a file".to_owned(),
        }),
        Err(e) => Err(JobError::Script {
            path: path.to_owned(),
            problem: format!("cannot be read ({e})"),
        }),
    }
}

/// Scheduler-wide settings a jobs file may carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileSettings {
    pub run_log: Option<PathBuf>,
    pub heartbeat: Option<bool>,
    pub heartbeat_interval: Option<Duration>,
    pub grace: Option<Duration>,
}

/// A checked jobs file.
#[derive(Clone, Debug)]
pub struct JobsFile {
    pub settings: FileSettings,
    pub jobs: Vec<JobDefinition>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsFileToml {
    run_log: Option<PathBuf>,
    heartbeat: Option<bool>,
    heartbeat_interval: Option<String>,
    grace: Option<String>,
    #[serde(default)]
    jobs: BTreeMap<String, JobToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobToml {
    script: PathBuf,
    every: Option<String>,
    cron: Option<String>,
    tz: Option<String>,
    jitter: Option<String>,
    run_now: Option<bool>,
    max_runs: Option<u64>,
    max_failures: Option<u64>,
    timeout: Option<String>,
    max_cancels: Option<u64>,
    dry_run: Option<bool>,
    #[serde(default)]
    args: BTreeMap<String, toml::Value>,
}

/// Reads and checks a jobs file.
pub fn load(path: &Path, defaults: &JobDefaults) -> Result<JobsFile, JobsFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| JobsFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path, defaults)
}

/// Checks the text of a jobs file found at `path` (scripts and the run log are relative to its
/// folder).
pub fn parse(text: &str, path: &Path, defaults: &JobDefaults) -> Result<JobsFile, JobsFileError> {
    let file: JobsFileToml = toml::from_str(text).map_err(|e| JobsFileError::Toml {
        path: path.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    let setting = |source| JobsFileError::Setting {
        path: path.to_owned(),
        source,
    };
    let settings = FileSettings {
        run_log: file.run_log.map(|p| base.join(p)),
        heartbeat: file.heartbeat,
        heartbeat_interval: duration("heartbeat_interval", file.heartbeat_interval.as_deref())
            .map_err(setting)?,
        grace: duration("grace", file.grace.as_deref()).map_err(setting)?,
    };
    if file.jobs.is_empty() {
        return Err(JobsFileError::NoJobs {
            path: path.to_owned(),
        });
    }
    let mut jobs = Vec::with_capacity(file.jobs.len());
    for (name, job) in file.jobs {
        let definition =
            job_from_toml(&name, job, base, defaults).map_err(|source| JobsFileError::Job {
                path: path.to_owned(),
                job: name.clone(),
                source,
            })?;
        jobs.push(definition);
    }
    Ok(JobsFile { settings, jobs })
}

fn job_from_toml(
    name: &str,
    job: JobToml,
    base: &Path,
    defaults: &JobDefaults,
) -> Result<JobDefinition, JobError> {
    let every = duration("every", job.every.as_deref())?;
    if every.is_some() && job.cron.is_some() {
        return Err(JobError::BothTriggers);
    }
    let trigger = Trigger::from_parts(every, job.cron.as_deref(), job.tz.as_deref())?
        .ok_or(JobError::MissingTrigger)?;
    let script = base.join(&job.script);
    check_script(&script)?;
    let jitter = duration("jitter", job.jitter.as_deref())?.or(defaults.jitter);
    let spec = ScheduleSpec::new(
        trigger,
        jitter.unwrap_or_default(),
        job.run_now.unwrap_or(defaults.run_now),
    )?;
    let limits = RunLimits::new(
        job.max_runs.or(defaults.max_runs),
        job.max_failures.or(defaults.max_failures),
    )?;
    let run = RunSettings {
        args: merge_args(&defaults.run.args, &job.args)?,
        // The command line can only make a job safer: dry run wins, the lower cap wins.
        dry_run: defaults.run.dry_run || job.dry_run.unwrap_or(false),
        max_cancels: match (defaults.run.max_cancels, job.max_cancels) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        timeout: duration("timeout", job.timeout.as_deref())?.or(defaults.run.timeout),
    };
    Ok(JobDefinition {
        name: name.to_owned(),
        script,
        spec,
        limits,
        run,
    })
}

fn duration(field: &'static str, text: Option<&str>) -> Result<Option<Duration>, JobError> {
    text.map(|t| parse_duration(t).map_err(|message| JobError::Duration { field, message }))
        .transpose()
}

/// `--arg` defaults, then the job's own `args` (a job's value wins), as `KEY=VALUE`.
fn merge_args(
    defaults: &[String],
    job: &BTreeMap<String, toml::Value>,
) -> Result<Vec<String>, JobError> {
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for pair in defaults {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                merged.insert(key.trim().to_owned(), value.to_owned());
            }
            _ => return Err(JobError::Arg(pair.clone())),
        }
    }
    for (key, value) in job {
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(JobError::ArgType {
                    key: key.clone(),
                    kind: other.type_str(),
                });
            }
        };
        merged.insert(key.clone(), text);
    }
    Ok(merged
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::trigger::Trigger;

    struct Dir {
        dir: tempfile::TempDir,
    }

    impl Dir {
        fn new() -> Dir {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("stale.rhai"), "cancel_all();").expect("script");
            Dir { dir }
        }
        fn path(&self) -> PathBuf {
            self.dir.path().join("jobs.toml")
        }
        fn parse(&self, text: &str) -> Result<JobsFile, JobsFileError> {
            parse(text, &self.path(), &JobDefaults::default())
        }
        fn error(&self, text: &str) -> String {
            self.parse(text).unwrap_err().to_string()
        }
    }

    #[test]
    fn a_full_jobs_file_gives_checked_jobs_and_settings() {
        let d = Dir::new();
        let file = d
            .parse(
                r#"
                run_log = "logs/runs.jsonl"
                heartbeat = true
                heartbeat_interval = "2s"
                grace = "30s"

                [jobs.stale]
                script = "stale.rhai"
                every = "1h 30m"
                jitter = "10s"
                max_runs = 5
                max_failures = 2
                timeout = "1m"
                max_cancels = 100
                dry_run = true
                args = { minutes = 30, market = "0xabc", scoring = false }

                [jobs.nightly]
                script = "stale.rhai"
                cron = "0 3 * * *"
                tz = "America/New_York"
                run_now = false
                "#,
            )
            .expect("valid");
        assert_eq!(
            file.settings,
            FileSettings {
                run_log: Some(d.dir.path().join("logs/runs.jsonl")),
                heartbeat: Some(true),
                heartbeat_interval: Some(Duration::from_secs(2)),
                grace: Some(Duration::from_secs(30)),
            }
        );
        let names: Vec<&str> = file.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["nightly", "stale"]);
        let stale = &file.jobs[1];
        assert_eq!(stale.script, d.dir.path().join("stale.rhai"));
        assert!(matches!(stale.spec.trigger(), Trigger::Every(p) if p.num_seconds() == 5400));
        assert_eq!(stale.spec.jitter(), Duration::from_secs(10));
        assert!(stale.spec.run_now());
        assert_eq!(
            stale.limits,
            RunLimits::new(Some(5), Some(2)).expect("valid")
        );
        assert_eq!(
            stale.run,
            RunSettings {
                args: vec![
                    "market=0xabc".into(),
                    "minutes=30".into(),
                    "scoring=false".into()
                ],
                dry_run: true,
                max_cancels: Some(100),
                timeout: Some(Duration::from_secs(60)),
            }
        );
        let nightly = &file.jobs[0];
        assert!(!nightly.spec.run_now());
        assert!(matches!(nightly.spec.trigger(), Trigger::Cron(c) if c.expr() == "0 3 * * *"));
    }

    #[test]
    fn command_line_flags_are_defaults_and_can_only_tighten_safety() {
        let d = Dir::new();
        let defaults = JobDefaults {
            jitter: Some(Duration::from_secs(1)),
            run_now: false,
            max_runs: Some(10),
            max_failures: Some(4),
            run: RunSettings {
                args: vec!["max_age=1h".into(), "market=0xabc".into()],
                dry_run: true,
                max_cancels: Some(50),
                timeout: Some(Duration::from_secs(20)),
            },
        };
        let text = r#"
            [jobs.a]
            script = "stale.rhai"
            every = "5m"
            max_runs = 2
            max_cancels = 500
            dry_run = false
            args = { max_age = "2h" }
        "#;
        let file = parse(text, &d.path(), &defaults).expect("valid");
        let a = &file.jobs[0];
        assert_eq!(a.limits, RunLimits::new(Some(2), Some(4)).expect("valid"));
        assert_eq!(a.spec.jitter(), Duration::from_secs(1));
        assert!(!a.spec.run_now());
        assert_eq!(
            a.run,
            RunSettings {
                args: vec!["market=0xabc".into(), "max_age=2h".into()],
                dry_run: true,
                max_cancels: Some(50),
                timeout: Some(Duration::from_secs(20)),
            }
        );
    }

    #[test]
    fn a_misspelled_key_is_refused_with_its_line() {
        let d = Dir::new();
        let msg = d.error("[jobs.a]\nscript = \"stale.rhai\"\nevry = \"5m\"\n");
        assert!(msg.contains("is not valid"), "{msg}");
        assert!(msg.contains("evry"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn a_job_needs_exactly_one_of_every_and_cron() {
        let d = Dir::new();
        let msg = d.error("[jobs.a]\nscript = \"stale.rhai\"\n");
        assert!(msg.contains("job `a`: say when to run"), "{msg}");
        let msg =
            d.error("[jobs.a]\nscript = \"stale.rhai\"\nevery = \"5m\"\ncron = \"* * * * *\"\n");
        assert!(msg.contains("not both"), "{msg}");
    }

    #[test]
    fn bad_durations_cron_zones_and_limits_name_the_job_and_the_fix() {
        let d = Dir::new();
        let cases = [
            (
                "every = \"5 minutes-ish\"",
                "every: `5 minutes-ish` is not a duration",
            ),
            ("every = \"0s\"", "longer than zero"),
            ("cron = \"*/5 * * *\"", "five fields"),
            (
                "cron = \"0 9 * * *\"\ntz = \"Europe/Londn\"",
                "`Europe/Londn` is not a time zone",
            ),
            (
                "every = \"5m\"\ntz = \"UTC\"",
                "only applies to a cron schedule",
            ),
            (
                "every = \"1m\"\njitter = \"2m\"",
                "jitter (2m) must be shorter",
            ),
            (
                "every = \"1m\"\nmax_runs = 0",
                "max-runs must be at least 1",
            ),
            (
                "every = \"1m\"\ntimeout = \"soon\"",
                "timeout: `soon` is not a duration",
            ),
            (
                "every = \"1m\"\nargs = { list = [1, 2] }",
                "argument `list` must be a string",
            ),
        ];
        for (lines, expected) in cases {
            let msg = d.error(&format!("[jobs.x]\nscript = \"stale.rhai\"\n{lines}\n"));
            assert!(msg.contains("job `x`"), "{lines}: {msg}");
            assert!(msg.contains(expected), "{lines}: {msg}");
        }
    }

    #[test]
    fn a_missing_script_is_refused_before_anything_runs() {
        let d = Dir::new();
        let msg = d.error("[jobs.a]\nscript = \"nope.rhai\"\nevery = \"5m\"\n");
        assert!(msg.contains("nope.rhai"), "{msg}");
        assert!(msg.contains("cannot be read"), "{msg}");
    }

    #[test]
    fn an_empty_file_and_a_bad_setting_are_refused() {
        let d = Dir::new();
        assert!(d.error("").contains("defines no jobs"));
        let msg =
            d.error("grace = \"a while\"\n[jobs.a]\nscript = \"stale.rhai\"\nevery = \"5m\"\n");
        assert!(msg.contains("grace: `a while` is not a duration"), "{msg}");
    }

    #[test]
    fn an_unreadable_file_names_its_path() {
        let d = Dir::new();
        let err = load(&d.dir.path().join("missing.toml"), &JobDefaults::default()).unwrap_err();
        assert!(
            err.to_string().contains("cannot read the jobs file"),
            "{err}"
        );
        assert!(err.to_string().contains("missing.toml"), "{err}");
    }

    #[test]
    fn a_malformed_command_line_arg_is_refused() {
        let err = merge_args(&["novalue".into()], &BTreeMap::new()).unwrap_err();
        assert_eq!(err.to_string(), "argument `novalue` is not KEY=VALUE");
    }
}
