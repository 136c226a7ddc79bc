//! Writes a simulated build as Prow does: `logs/<job>/<build>/started.json`,
//! `finished.json` and `artifacts/junit_01.xml` (Ginkgo-style; a FLAKY cell is a
//! failed testcase followed by a passing one of the same name, as a retry writes it).

use crate::model::{Build, CellStatus, OVERALL_ROW};
use std::io::Write;
use std::path::Path;

pub fn write_build(root: &Path, build: &Build) -> std::io::Result<()> {
    let dir = root.join("logs").join(&build.job).join(&build.build);
    std::fs::create_dir_all(dir.join("artifacts"))?;
    let mut repos = serde_json::Map::new();
    repos.insert(
        "kubernetes/kubernetes".into(),
        format!("master:{}", build.commit.as_deref().unwrap_or("")).into(),
    );
    let started = crate::prow::Started {
        timestamp: build.started.unwrap_or_default(),
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
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(dir.join("artifacts/junit_01.xml"))?);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites><testsuite name="Kubernetes e2e suite">"#
    )?;
    for cell in build.cells.iter().filter(|c| c.test != OVERALL_ROW) {
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
            CellStatus::Fail => failure(&mut out)?,
            CellStatus::Flaky => {
                failure(&mut out)?;
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
