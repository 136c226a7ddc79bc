//! e2e suites: a local `e2e.test` binary (from a Kubernetes release's test tarball)
//! with ginkgo's focus / skip / label filters, flake attempts and `--report-dir`;
//! with `ginkgo:` set and parallel > 1, it runs under `ginkgo --procs=N`. Its output
//! is the run's `artifacts/e2e.log`; e2e.test writes `junit_01.xml` to the report dir.

use super::manifest::find_binary;
use super::{io_error, Manifest, SuiteContext, SuiteError, SuiteSummary};
use crate::process::Waited;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The command line: the program and its arguments. `kubectl`, when given, is the
/// one e2e.test's kubectl specs use (a provider's, matching the cluster's version).
pub fn command_line(
    m: &Manifest,
    e2e: &Path,
    ginkgo: Option<&Path>,
    kubectl: Option<&Path>,
    kubeconfig: &Path,
    report_dir: &Path,
    overrides: &super::Overrides,
) -> (PathBuf, Vec<String>) {
    let (focus, skip, parallel) = (m.focus.as_str(), m.skip.as_str(), m.parallel);
    let mut filters: Vec<(&str, String)> = Vec::new();
    for (flag, value) in [
        ("focus", focus),
        ("skip", skip),
        ("label-filter", m.label_filter.as_str()),
    ] {
        if !value.is_empty() {
            filters.push((flag, value.to_string()));
        }
    }
    if m.flake_attempts > 0 {
        filters.push(("flake-attempts", m.flake_attempts.to_string()));
    }
    if overrides.dry_run {
        filters.push(("dry-run", "true".into()));
    }
    let mut test_args = vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        "--provider=skeleton".to_string(),
        format!("--report-dir={}", report_dir.display()),
    ];
    if let Some(k) = kubectl {
        test_args.push(format!("--kubectl-path={}", k.display()));
    }
    test_args.extend(m.extra_args.iter().cloned());
    match ginkgo.filter(|_| parallel > 1) {
        Some(g) => {
            let mut args = vec![format!("--procs={parallel}")];
            args.extend(filters.iter().map(|(f, v)| format!("--{f}={v}")));
            args.push(format!("--timeout={}s", m.timeout.as_secs()));
            args.push(e2e.display().to_string());
            args.push("--".into());
            args.extend(test_args);
            (g.to_path_buf(), args)
        }
        None => {
            let mut args: Vec<String> = filters
                .iter()
                .map(|(f, v)| format!("--ginkgo.{f}={v}"))
                .collect();
            args.push(format!("--ginkgo.timeout={}s", m.timeout.as_secs()));
            args.extend(test_args);
            (e2e.to_path_buf(), args)
        }
    }
}

pub fn run(m: &Manifest, ctx: &SuiteContext) -> Result<SuiteSummary, SuiteError> {
    let e2e = find_binary(m.binary.as_deref().unwrap_or_default(), ctx.bin_dirs)?;
    let ginkgo = m
        .ginkgo
        .as_deref()
        .map(|g| find_binary(g, ctx.bin_dirs))
        .transpose()?;
    // Only a kubectl from the run's own directories (a provider's, version-matched);
    // otherwise e2e.test finds one on PATH itself.
    let kubectl = ctx
        .bin_dirs
        .iter()
        .map(|d| d.join("kubectl"))
        .find(|k| k.is_file());
    let (program, args) = command_line(
        m,
        &e2e,
        ginkgo.as_deref(),
        kubectl.as_deref(),
        ctx.kubeconfig,
        ctx.artifacts,
        ctx.overrides,
    );
    // An allowlist's focus is kilobytes of escaped names: the log names the file.
    let shown: Vec<String> = match &m.allowlist {
        Some(list) => args
            .iter()
            .map(|a| match a.split_once("focus=") {
                Some((flag, _)) => format!(
                    "{flag}focus=<the {} specs of {}>",
                    m.allowlisted,
                    list.display()
                ),
                None => a.clone(),
            })
            .collect(),
        _ => args.clone(),
    };
    ctx.reporter.note(format!(
        "{}: {} {}",
        m.name,
        program.display(),
        shown.join(" ")
    ));
    let log_path = ctx.artifacts.join("e2e.log");
    let out = std::fs::File::create(&log_path).map_err(io_error(&log_path))?;
    let err = out.try_clone().map_err(io_error(&log_path))?;
    let mut child = crate::process::own_group(&mut Command::new(&program))
        .args(&args)
        .env("KUBECONFIG", ctx.kubeconfig)
        .envs(ctx.overrides.images.e2e_env())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|source| SuiteError::Io {
            path: program.clone(),
            source,
        })?;
    // ginkgo's own --timeout ends the suite first; this is the backstop.
    let deadline = m.timeout + Duration::from_secs(60);
    // Progress is read from the log as ginkgo writes it, beside the wait.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let every = ctx
        .overrides
        .progress_every
        .unwrap_or(super::progress::PROGRESS_EVERY);
    let waited = std::thread::scope(|s| {
        s.spawn(|| super::progress::follow_file(&log_path, &m.name, ctx.reporter, every, &stop));
        let waited = crate::process::wait(&mut child, deadline, Some(ctx.interrupt));
        stop.store(true, std::sync::atomic::Ordering::Release);
        waited
    });
    let status = match waited.map_err(io_error(&program))? {
        Waited::Exited(status) => status,
        Waited::Interrupted => return Err(SuiteError::Interrupted),
        Waited::TimedOut => {
            return Err(SuiteError::Deadline {
                what: m.name.clone(),
                seconds: deadline.as_secs(),
            })
        }
    };
    let counts = super::junit_counts(&ctx.artifacts.join("junit_01.xml"));
    Ok(SuiteSummary {
        name: m.name.clone(),
        passed: status.success(),
        summary: format!("{counts}; exit code {}", status.code().unwrap_or(-1)),
    })
}
