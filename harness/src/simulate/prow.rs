//! Writes a simulated build as Prow does: `logs/<job>/<build>/started.json`,
//! `finished.json`, `podinfo.json` and `artifacts/junit_01.xml` (a PR build under
//! `pr-logs/pull/<org_repo>/<pr>/<job>/<build>/`). Each attempt of a test is a
//! testcase, as a retry writes it: a FLAKY cell is failed testcases followed by a
//! passing one of the same name, a failure retried N times is N failed testcases.

use crate::model::{is_build_row, Build, CellStatus, POD_ROW};
use std::io::Write;
use std::path::Path;

/// A podinfo.json as Prow's GCS reporter writes it, trimmed to what is read: the
/// test container's exit and the `sidecar` that uploaded the artifacts.
fn podinfo(build: &Build) -> serde_json::Value {
    let passed = build.passed.unwrap_or(false);
    let exit = |code: i32| serde_json::json!({"terminated": {"exitCode": code}});
    serde_json::json!({"pod": {
        "metadata": {"name": format!("{}-{}", build.job, build.build)},
        "spec": {"nodeName": "simulated-node"},
        "status": {
            "phase": if passed { "Succeeded" } else { "Failed" },
            "containerStatuses": [
                {"name": "test", "state": exit(if passed { 0 } else { 1 })},
                {"name": "sidecar", "state": exit(0)},
            ],
        },
    }})
}

pub fn write_build(root: &Path, build: &Build) -> std::io::Result<()> {
    let dir = match build.pr {
        Some(pr) => root
            .join("pr-logs/pull/kubernetes_kubernetes")
            .join(pr.to_string()),
        None => root.join("logs"),
    }
    .join(&build.job)
    .join(&build.build);
    std::fs::create_dir_all(dir.join("artifacts"))?;
    let mut repos = serde_json::Map::new();
    let commit = build.commit.as_deref().unwrap_or("");
    repos.insert(
        "kubernetes/kubernetes".into(),
        match build.pr {
            Some(pr) => format!("master:{commit},{pr}:{commit}"),
            None => format!("master:{commit}"),
        }
        .into(),
    );
    let started = crate::prow::Started {
        timestamp: build.started.unwrap_or_default(),
        pull: build.pr.map(|p| p.to_string()),
        repos,
        ..Default::default()
    };
    crate::prow::write(&dir.join("started.json"), &started)?;
    let mut metadata = serde_json::Map::new();
    metadata.insert("repo-commit".into(), build.commit.clone().into());
    let finished = crate::prow::Finished {
        timestamp: build.finished,
        passed: build.passed,
        result: build.result.as_deref().map(crate::prow::ProwResult::parse),
        metadata,
        ..Default::default()
    };
    crate::prow::write(&dir.join("finished.json"), &finished)?;
    if build.cells.iter().any(|c| c.test == POD_ROW) {
        crate::prow::write(&dir.join("podinfo.json"), &podinfo(build))?;
    }
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(dir.join("artifacts/junit_01.xml"))?);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites><testsuite name="Kubernetes e2e suite">"#
    )?;
    for cell in build.cells.iter().filter(|c| !is_build_row(&c.test)) {
        let name = cell
            .test
            .strip_prefix("Kubernetes e2e suite.")
            .unwrap_or(&cell.test);
        let name = crate::xml::escape(name);
        let time = cell.duration.unwrap_or(0.0);
        let failure = |out: &mut dyn Write| -> std::io::Result<()> {
            let msg = crate::xml::escape(cell.message.as_deref().unwrap_or("failed"));
            writeln!(
                out,
                r#"<testcase name="{name}" classname="Kubernetes e2e suite" time="{time}"><failure message="{msg}" type="failed"/></testcase>"#
            )
        };
        match cell.status {
            CellStatus::Fail => {
                for _ in 0..cell.attempts.max(1) {
                    failure(&mut out)?;
                }
            }
            CellStatus::Flaky => {
                for _ in 1..cell.attempts.max(2) {
                    failure(&mut out)?;
                }
                writeln!(
                    out,
                    r#"<testcase name="{name}" classname="Kubernetes e2e suite" time="{time}"></testcase>"#
                )?;
            }
            _ => writeln!(
                out,
                r#"<testcase name="{name}" classname="Kubernetes e2e suite" time="{time}"></testcase>"#
            )?,
        }
    }
    writeln!(out, "</testsuite></testsuites>")?;
    out.flush()
}
