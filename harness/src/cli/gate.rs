//! `trellis gate`: judge one build's failures against the base jobs' history.

use super::failure::Failure;
use super::gate_output;
use super::window::WindowArgs;
use crate::analysis::gate::{self, BaseHistory, Verdict};
use crate::config::infra::InfraLabels;
use crate::config::quarantine::Quarantine;
use crate::exit;
use crate::ingest::{self, HttpOptions, IngestOptions};
use crate::model::Build;
use crate::runner::{RerunSpec, Retried};
use crate::store::Store;
use std::path::PathBuf;

/// Judge each failure of one build (a PR's pre-submit run) against the base jobs'
/// history, and say whether it should block.
///
/// BUILD is a build directory, a JUnit file or a URL (read and stored if it is not
/// already), or `JOB ID` of a stored build. Each failing test gets one class:
/// `new` (blocks: passing on the base, or no history, or failing every attempt where
/// the base's flakiness makes that unlikely), `known-flake` (flakes on the base, and
/// failing as it did here is not unlikely at its flake rate), `broken-on-base` (the
/// base fails it too, since a named build and commit), `infra` (an outage build, a
/// one-word infra message, a failure text --infra labels, or the build failed with
/// no test failing) or `quarantined`
/// (in --quarantine, unexpired). Tests that failed and passed on retry are listed,
/// with whether the base knows them as flakes.
///
/// `--retry N` confirms by running the `new` and `known-flake` failures again, up to
/// N times each (stopping at the first pass), for a build `trellis test --build-dir`
/// made, or a `trellis run --kubeconfig` build's libtest suites (against the same
/// cluster and context): a test that passes on retry is then a flake of this build,
/// not a failure; one that fails every retry has N more failed attempts, which a
/// known flake rarely explains.
///
/// Exit codes: 0 pass (no `new` failure); 8 block; 4 build or base job not found.
/// `--json` prints {verdict, build: {job, build, commit, pr}, checked, counts, base,
/// failures: [{test, class, message, evidence: {kind, …}}], flaked_here: [{test,
/// known_flake, base}], retried: [{test, attempts, failed}], expired_quarantine}.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A build directory, file or URL; or JOB ID of a stored build.
    #[arg(required = true, num_args = 1..=2, value_name = "BUILD")]
    build: Vec<String>,
    /// Base jobs to judge against (repeatable) [default: the `trellis_base_jobs` of
    /// the build's test group in --dashboards; else every stored job other than the
    /// build's own that has no PR builds and is not a pre-submit in --dashboards].
    #[arg(long, value_name = "JOB")]
    base: Vec<String>,
    #[command(flatten)]
    window: WindowArgs,
    /// Known flaky tests that never block (YAML: quarantine: [{test, job, owner,
    /// reason, issue, expires}]).
    #[arg(long, value_name = "FILE")]
    quarantine: Option<PathBuf>,
    /// Failure texts known to be infrastructure (YAML: infra: [{cluster: TEXT |
    /// pattern: REGEX, reason}]; `cluster` is a triage cluster's text, matched by
    /// triage's rule): such failures are `infra` and never block.
    #[arg(long, value_name = "FILE")]
    infra: Option<PathBuf>,
    /// Print Markdown for a PR comment or $GITHUB_STEP_SUMMARY instead of text.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Also write JUnit XML where known flakes are `flakyFailure`s, quarantined and
    /// infra failures are skipped with the reason, and only `new` and
    /// `broken-on-base` failures are failures.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Where `trellis report` output is published: Markdown links to build pages.
    #[arg(long, value_name = "URL")]
    report_url: Option<String>,
    /// Job name for a build read from a path (default: from the path, as ingest does).
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Run the `new` and `known-flake` failures again, up to N times each, before
    /// judging (builds made by `trellis test --build-dir`, or libtest suites of
    /// `trellis run --kubeconfig`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    retry: Option<u32>,
}

pub fn run(args: Args, db: &crate::store::Location) -> Result<i32, Failure> {
    let quarantine = match &args.quarantine {
        Some(path) => Quarantine::load(path)?,
        None => Quarantine::default(),
    };
    let infra = match &args.infra {
        Some(path) => InfraLabels::load(path)?,
        None => InfraLabels::default(),
    };
    let now = args.window.now();
    let mut store = super::open_store(db)?;
    let mut build = resolve_build(&args, &mut store, now)?;
    let config = args.window.config()?;
    let window = args.window.window(&config);
    let stored_jobs = store.jobs()?;
    let base_jobs = if !args.base.is_empty() {
        for job in &args.base {
            super::window::known_job(&stored_jobs, job, db)?;
        }
        args.base.clone()
    } else if let Some(configured) = config.base_jobs_for(&build.job) {
        if let Some(missing) = configured.iter().find(|j| !stored_jobs.contains(j)) {
            return Err(Failure::message(
                exit::NOT_FOUND,
                format!(
                    "the test group of {} names base job {missing} (trellis_base_jobs), which has no builds in {}",
                    build.job,
                    db
                ),
                "ingest that job's builds, or fix trellis_base_jobs in --dashboards",
            ));
        }
        configured.to_vec()
    } else {
        let presubmit = store.jobs_with_pr_builds()?;
        stored_jobs
            .iter()
            .filter(|j| {
                **j != build.job && !presubmit.contains(j) && !config.presubmits.contains(j)
            })
            .cloned()
            .collect()
    };
    let tests = gate::failing_tests(&build);
    let started = std::time::Instant::now();
    let mut base = Vec::with_capacity(base_jobs.len());
    for job in &base_jobs {
        let (grid, counts) = store.rows_of(job, window.span(), &tests)?;
        base.push(BaseHistory { grid, counts });
    }
    let excuses = gate::Excuses::new(quarantine, &infra, crate::config::quarantine::day(now));
    let mut report = gate::judge(&build, &base, &excuses);
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "judged against the base"
    );
    if let Some(attempts) = args.retry {
        let retried = retry(&build, &gate::to_retry(&report), attempts)?;
        for r in &retried {
            gate::record_retries(&mut build, &r.test, r.attempts, r.failed);
        }
        report = gate::judge(&build, &base, &excuses);
        report.retried = retried;
    }
    for expired in &report.expired_quarantine {
        eprintln!("warning: quarantine entry expired and no longer excuses a failure: {expired}");
    }
    if let Some(path) = &args.junit {
        gate_output::write_junit(&report, &build, path).map_err(|e| {
            Failure::message(
                exit::FAILURE,
                format!("{}: cannot write JUnit: {e}", path.display()),
                "pass --junit a path in a writable directory",
            )
        })?;
    }
    if args.window.json {
        super::print_json(&report)?;
    } else if args.markdown {
        print!(
            "{}",
            gate_output::markdown(&report, args.report_url.as_deref())
        );
    } else {
        print!("{}", gate_output::text(&report, &window.describe()));
    }
    Ok(match report.verdict {
        Verdict::Pass => exit::OK,
        Verdict::Block => exit::GATE_BLOCKED,
    })
}

/// Runs `tests` of `build` again, up to `attempts` times each.
fn retry(build: &Build, tests: &[String], attempts: u32) -> Result<Vec<Retried>, Failure> {
    if tests.is_empty() {
        return Ok(Vec::new());
    }
    let spec = RerunSpec::from_metadata(&build.metadata).ok_or_else(|| {
        Failure::message(
            exit::USAGE,
            format!(
                "--retry: {}/{} does not say how to run its tests again (no `{}` in its finished.json)",
                build.job,
                build.build,
                crate::runner::RERUN_METADATA_KEY
            ),
            "a build can be re-run when `trellis test --build-dir` made it, or `trellis run --kubeconfig` ran libtest suites on a cluster that is still there; or leave out --retry",
        )
    })?;
    eprintln!(
        "retrying {} failing test{} up to {attempts} time{} each",
        tests.len(),
        if tests.len() == 1 { "" } else { "s" },
        if attempts == 1 { "" } else { "s" }
    );
    // The cluster a `trellis run` build ran against, with its context, as the suite
    // saw it; a `trellis test` build's tests get the gate's own KUBECONFIG.
    let scratch = tempfile::tempdir().map_err(|e| {
        Failure::message(
            exit::FAILURE,
            format!("cannot make a scratch directory: {e}"),
            "check that $TMPDIR is writable",
        )
    })?;
    let mut env = Vec::new();
    if let Some(kubeconfig) = &spec.kubeconfig {
        let access = crate::cluster::access::Access {
            kubeconfig: kubeconfig.clone(),
            context: spec.context.clone(),
        };
        let path = crate::run::child_kubeconfig(&access, scratch.path())
            .map_err(|e| Failure::new(exit::FAILURE, e))?;
        env.push(("KUBECONFIG".to_string(), path.display().to_string()));
    }
    let retried = spec.retry(tests, attempts, env)?;
    for test in tests
        .iter()
        .filter(|t| !retried.iter().any(|r| &r.test == *t))
    {
        eprintln!(
            "warning: --retry: no binary of the build lists {} any more; judged as it ran",
            crate::printable::line(test)
        );
    }
    Ok(retried)
}

/// The build to judge: stored (`JOB ID`), or read from a path or URL and stored.
fn resolve_build(args: &Args, store: &mut Store, now: i64) -> Result<Build, Failure> {
    if let [job, id] = args.build.as_slice() {
        let detail = store.build_detail(job, id)?.ok_or_else(|| {
            Failure::message(
                exit::NOT_FOUND,
                format!("no build {job}/{id} in {}", store.location()),
                "`trellis runs --job JOB` lists the stored builds; or pass the build's directory or URL",
            )
        })?;
        return Ok(detail.into_build());
    }
    let input = &args.build[0];
    let opts = IngestOptions {
        job: args.job.clone(),
        build: None,
        http: HttpOptions::default(),
    };
    let mut builds = ingest::read_all(input, &opts, now)?;
    if builds.len() != 1 {
        return Err(Failure::message(
            exit::INPUT_REJECTED,
            format!(
                "{} holds {} builds; gate judges one",
                crate::secrets::Redactor::default().redact(input),
                builds.len()
            ),
            "pass one build's directory or file, or JOB ID of a stored build",
        ));
    }
    let build = builds.remove(0);
    store.insert_build(&build)?;
    Ok(build)
}
