//! Turns one discovered unit (a build's files) into a [`Build`] with merged cells.

use super::layout::{self, Unit, UnitKind};
use super::prow::{self, ProwResult};
use super::{e2e_log, junit, perfdata, IngestError};
use crate::model::{self, Build, Cell, CellMerge, CellStatus, Observation, OVERALL_ROW, POD_ROW};
use e2e_log::E2eSummary;
use junit::JunitTally;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// Reads `unit` into a build; `now` (Unix seconds) decides whether a build without
/// finished.json is still running or abandoned.
pub fn read_unit(unit: &Unit, now: i64) -> Result<Build, IngestError> {
    let mut build = Build {
        job: unit.job.clone(),
        build: unit.build.clone().unwrap_or_default(),
        pr: unit.pr,
        source: unit.source.clone(),
        ..Build::default()
    };
    let mut rows = RowMerge::default();
    let mut tally = JunitTally::default();
    match unit.kind {
        UnitKind::JunitFile => rows.add_file(&unit.path, &mut build, &mut tally)?,
        UnitKind::E2eLog => apply_e2e(&mut build, &mut rows, e2e_log::parse_file(&unit.path)?),
        UnitKind::Results | UnitKind::Submission => {
            for file in layout::top_level_junit(&unit.path) {
                rows.add_file(&file, &mut build, &mut tally)?;
            }
            if unit.kind == UnitKind::Submission {
                read_product(&unit.path.join("PRODUCT.yaml"), &mut build.metadata)?;
            }
            let log = unit.path.join("e2e.log");
            if log.is_file() {
                apply_e2e(&mut build, &mut rows, e2e_log::parse_file(&log)?);
            }
        }
        UnitKind::Prow => read_prow(unit, now, &mut build, &mut rows, &mut tally)?,
    }
    if let Some(org_repo) = &unit.org_repo {
        build
            .metadata
            .insert("org_repo".into(), org_repo.clone().into());
    }
    if tally.testcases > 0 {
        build.metadata.insert("junit".into(), to_value(&tally));
    }
    build.cells = rows.finish();
    let running = build.result.as_deref() == Some(RUNNING_RESULT);
    if build.passed.is_none() && !running && !build.cells.is_empty() {
        build.passed = Some(!build.cells.iter().any(|c| c.status == CellStatus::Fail));
    }
    if build.build.is_empty() {
        build.build = derived_build_id(&build);
    }
    // Last resort, after the id (which must not change when a file is touched): the
    // files' own time. A start time, even a rough one, keeps the build in the windows
    // every analysis looks at.
    if build.started.is_none() {
        if let Some(written) = newest_file_time(unit) {
            let took = build
                .metadata
                .get("e2e_log")
                .and_then(|l| l.get("seconds"))
                .and_then(Value::as_f64)
                .filter(|s| s.is_finite() && (0.0..=1e9).contains(s))
                .unwrap_or(0.0);
            build.started = Some(written.saturating_sub(took.round() as i64));
            build.finished.get_or_insert(written);
            note_start(&mut build, "file modification time");
        }
    }
    Ok(build)
}

/// Records where a build's start time came from, for whoever doubts it.
fn note_start(build: &mut Build, from: &str) {
    build.metadata.insert("started_from".into(), from.into());
}

/// The newest modification time (Unix seconds) of the files a non-Prow unit read.
fn newest_file_time(unit: &Unit) -> Option<i64> {
    let files: Vec<std::path::PathBuf> = match unit.kind {
        UnitKind::Prow => return None,
        UnitKind::JunitFile | UnitKind::E2eLog => vec![unit.path.clone()],
        UnitKind::Results | UnitKind::Submission => {
            let mut f = layout::top_level_junit(&unit.path);
            f.push(unit.path.join("e2e.log"));
            f
        }
    };
    files
        .iter()
        .filter_map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .filter_map(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .max()
}

/// What a path that is not a regular file is, in words.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

fn read_prow(
    unit: &Unit,
    now: i64,
    build: &mut Build,
    rows: &mut RowMerge,
    tally: &mut JunitTally,
) -> Result<(), IngestError> {
    let dir = &unit.path;
    let started_path = dir.join("started.json");
    if !started_path.is_file() {
        if let Ok(meta) = std::fs::metadata(&started_path) {
            return Err(IngestError::NotAFile {
                path: started_path,
                kind: file_kind(&meta),
            });
        }
        return Err(IngestError::MissingStarted { dir: dir.clone() });
    }
    let started = prow::read_started(&started_path)?;
    let finished_path = dir.join("finished.json");
    let finished = if finished_path.is_file() {
        Some(prow::read_finished(&finished_path)?)
    } else {
        None
    };
    build.started = Some(started.timestamp);
    note_start(build, "started.json");
    build.commit = prow::commit_of(&started, finished.as_ref());
    if build.pr.is_none() {
        build.pr = started.pull.as_deref().and_then(leading_number);
    }
    let podinfo_path = dir.join("podinfo.json");
    let podinfo = if podinfo_path.is_file() {
        match prow::read_podinfo(&podinfo_path) {
            Ok(info) => Some(info),
            Err(e) => {
                tracing::warn!("{e} (optional file, read as missing)");
                None
            }
        }
    } else {
        None
    };
    if let Some(info) = &podinfo {
        build.metadata.extend(info.metadata.clone());
    }
    let artifacts = dir.join("artifacts");
    if artifacts.is_dir() {
        for file in layout::junit_below(&artifacts)? {
            rows.add_file(&file, build, tally)?;
        }
        read_perfdata(&artifacts, build)?;
        let monitor = artifacts.join("upgrade-monitor.json");
        if monitor.is_file() {
            super::upgrade_monitor::read_into(&monitor, &mut build.metadata);
        }
        let log = artifacts.join("e2e.log");
        if log.is_file() {
            let summary = e2e_log::parse_file(&log)?;
            build.metadata.insert("e2e_log".into(), to_value(&summary));
        }
    }
    let overall = match &finished {
        Some(f) => {
            build.finished = f.timestamp;
            build.result = f.result.as_ref().map(|r| r.as_str().to_string());
            build.passed = f
                .passed
                .or_else(|| f.result.as_ref().map(ProwResult::passed));
            build.metadata.extend(f.metadata.clone());
            if let Some(v) = &f.job_version {
                build
                    .metadata
                    .insert("job-version".into(), v.clone().into());
            }
            let duration = f.timestamp.map(|t| (t - started.timestamp).max(0) as f64);
            match build.passed {
                Some(true) => overall(CellStatus::Pass, duration, None),
                Some(false) => overall(
                    CellStatus::Fail,
                    duration,
                    Some(format!(
                        "Build failed: {}",
                        f.result.as_ref().map_or("FAILURE", ProwResult::as_str)
                    )),
                ),
                // TestGrid: a finished build that says neither `passed` nor
                // `result` failed.
                None => {
                    build.passed = Some(false);
                    overall(
                        CellStatus::Fail,
                        duration,
                        Some("Build failed: finished.json has neither passed nor result".into()),
                    )
                }
            }
        }
        None if now - started.timestamp < model::GIVE_UP_ON_BUILD_AFTER_SECS => {
            // TestGrid shows a build still running as a RUNNING column; the store
            // replaces it when it is ingested again.
            build.result = Some(RUNNING_RESULT.to_string());
            overall(
                CellStatus::Running,
                None,
                Some("Build still running...".into()),
            )
        }
        None => {
            build.passed = Some(false);
            overall(
                CellStatus::Fail,
                None,
                Some(model::NOT_COMPLETED_MESSAGE.into()),
            )
        }
    };
    let running = overall.status == CellStatus::Running;
    // TestGrid's `Pod` row, except for a running build whose pod has not reported.
    let pod = pod_row(
        podinfo.as_ref(),
        pod_deadline(&started, finished.as_ref()),
        now,
    );
    if podinfo.is_some() || !running {
        rows.add(POD_ROW.to_string(), pod);
    }
    rows.add(OVERALL_ROW.to_string(), overall);
    Ok(())
}

/// The PerfData items under `artifacts`. A file that cannot be read is skipped with a
/// warning: performance figures are extra evidence, not the build.
fn read_perfdata(artifacts: &Path, build: &mut Build) -> Result<(), IngestError> {
    let files = layout::files_below(artifacts, |n| perfdata::series_file(n).is_some())?;
    for path in files {
        let name = layout::file_name(&path);
        let Some(series) = perfdata::series_file(&name) else {
            continue;
        };
        match perfdata::read_file(&path, series) {
            Ok(Some(items)) => {
                let room = perfdata::MAX_ITEMS_PER_BUILD.saturating_sub(build.measurements.len());
                if items.len() > room {
                    tracing::warn!(
                        "{}: {} PerfData items kept of {} (a build keeps at most {})",
                        path.display(),
                        room,
                        items.len(),
                        perfdata::MAX_ITEMS_PER_BUILD
                    );
                }
                build.measurements.extend(items.into_iter().take(room));
            }
            Ok(None) => tracing::debug!("{}: JSON, but not PerfData", path.display()),
            Err(e) => tracing::warn!("{e} (PerfData file skipped)"),
        }
    }
    Ok(())
}

/// The `result` a build still running is stored with.
pub const RUNNING_RESULT: &str = "RUNNING";

/// Until when TestGrid waits for podinfo.json: an hour after the build finished, or
/// a day after it started while it has not.
fn pod_deadline(started: &prow::Started, finished: Option<&prow::Finished>) -> i64 {
    match finished.and_then(|f| f.timestamp) {
        Some(t) => t.saturating_add(model::WAIT_FOR_PODINFO_SECS),
        None => started
            .timestamp
            .saturating_add(model::GIVE_UP_ON_BUILD_AFTER_SECS),
    }
}

/// TestGrid's `Pod` row: the pod's verdict from podinfo.json; without one, RUNNING
/// until the deadline (the file may still come) and PASS_WITH_SKIPS after it.
fn pod_row(podinfo: Option<&prow::PodInfo>, deadline: i64, now: i64) -> Observation {
    let message = |m: &str| (!m.is_empty()).then(|| m.to_string());
    match podinfo {
        Some(p) if p.passed => overall(CellStatus::Pass, None, message(&p.message)),
        Some(p) => overall(CellStatus::Fail, None, message(&p.message)),
        None if now < deadline => overall(
            CellStatus::Running,
            None,
            Some(prow::MISSING_PODINFO.into()),
        ),
        None => overall(
            CellStatus::PassWithSkips,
            None,
            Some(prow::MISSING_PODINFO.into()),
        ),
    }
}

fn overall(status: CellStatus, duration: Option<f64>, message: Option<String>) -> Observation {
    Observation {
        status,
        duration,
        attempts: 1,
        message,
    }
}

/// An e2e.log's summary decides a non-Prow build's verdict and its Overall row.
fn apply_e2e(build: &mut Build, rows: &mut RowMerge, summary: E2eSummary) {
    if let Some(ok) = summary.succeeded() {
        build.passed = Some(ok);
        let message = (!ok).then(|| {
            format!(
                "e2e.log: FAIL! -- {} Passed | {} Failed",
                summary.passed.unwrap_or(0),
                summary.failed.unwrap_or(0)
            )
        });
        let status = if ok {
            CellStatus::Pass
        } else {
            CellStatus::Fail
        };
        rows.add(
            OVERALL_ROW.to_string(),
            overall(status, summary.seconds, message),
        );
    }
    if build.started.is_none() {
        if let Some(t) = summary.started {
            build.started = Some(t);
            note_start(
                build,
                "e2e.log: Ginkgo's random seed, matching its first log line",
            );
        }
    }
    if let (Some(start), Some(secs)) = (build.started, summary.seconds) {
        // A log can claim anything ("in 1e308 seconds"): only a sane length counts.
        if secs.is_finite() && (0.0..=1e9).contains(&secs) {
            build.finished = start.checked_add(secs.round() as i64);
        }
    }
    build.metadata.insert("e2e_log".into(), to_value(&summary));
}

fn read_product(path: &Path, metadata: &mut Map<String, Value>) -> Result<(), IngestError> {
    let fields = super::product::read(path).map_err(|reason| IngestError::Yaml {
        input: path.display().to_string(),
        reason,
    })?;
    metadata.insert("product".into(), Value::Object(fields));
    Ok(())
}

/// Cells merged by row name, in first-seen order.
#[derive(Default)]
struct RowMerge {
    index: HashMap<String, usize>,
    rows: Vec<(String, CellMerge)>,
}

impl RowMerge {
    fn add(&mut self, row: String, obs: Observation) {
        let i = match self.index.get(&row) {
            Some(i) => *i,
            None => {
                self.rows.push((row.clone(), CellMerge::default()));
                self.index.insert(row, self.rows.len() - 1);
                self.rows.len() - 1
            }
        };
        self.rows[i].1.add(obs);
    }

    fn add_file(
        &mut self,
        file: &Path,
        build: &mut Build,
        tally: &mut JunitTally,
    ) -> Result<(), IngestError> {
        let report = junit::parse_file(file)?;
        tally.add(&report.tally);
        build.skipped_dropped += report.dropped_skips;
        if build.started.is_none() {
            build.started = report.timestamp.as_deref().and_then(parse_timestamp);
            if build.started.is_some() {
                note_start(build, "JUnit timestamp");
            }
        }
        for case in report.cases {
            self.add(case.row, case.result);
        }
        Ok(())
    }

    fn finish(self) -> Vec<Cell> {
        self.rows
            .into_iter()
            .map(|(name, m)| m.finish(name))
            .collect()
    }
}

/// JUnit `timestamp`: RFC 3339, or a naive `2022-09-03T20:38:14` taken as UTC.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc().timestamp())
        })
}

/// A build id for inputs that carry none: the start time when known (readable) plus a
/// digest of the results, so re-ingesting the same results is a no-op while different
/// runs that share a start time stay apart.
fn derived_build_id(build: &Build) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for c in &build.cells {
        eat(c.test.as_bytes());
        eat(&[c.status.code()]);
    }
    let log = build.metadata.get("e2e_log").map(Value::to_string);
    eat(log.unwrap_or_default().as_bytes());
    let digest = format!("{:08x}", h >> 32);
    match build
        .started
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
    {
        Some(t) => format!("{}-{digest}", t.format("%Y%m%d-%H%M%S")),
        None => format!("run-{digest}"),
    }
}

fn leading_number(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
