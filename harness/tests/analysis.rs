//! CI-signal analysis end to end: on simulated histories the classes recover the
//! injected truth; every command works on the real TestGrid configs plus ingested
//! data; JSON shapes are the documented ones.

mod common;

use common::{shared_data, stderr, stdout, trellis};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use trellis::analysis::{self, flakes::Class};
use trellis::simulate::{self, SimOptions};
use trellis::store::Store;

/// Flake rates are calibrated: on simulated histories whose flaky tests fail
/// independently at rates from 1% to 50% (so the flakiest streak by chance), the 95%
/// interval holds the true rate for at least 93% of flaky tests, while breakages are
/// still told apart with precision and recall of at least 0.95. Prints the figures.
#[test]
fn flake_rate_intervals_cover_the_true_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let jobs: Vec<String> = (1..=4).map(|i| format!("sim-{i}")).collect();
    let mut opts = SimOptions::new(jobs.clone(), 200, 300, chrono::Utc::now().timestamp());
    opts.seed = 11;
    opts.flaky_share = 0.3;
    opts.flaky_probability = (0.01, 0.5);
    opts.broken_share = 0.05;
    let mut store = Store::open(&db).unwrap();
    let truth = simulate::simulate(&opts, |b| store.insert_build(&b).map(|_| ())).unwrap();
    drop(store);
    let grids = trellis::store::load_grids(&db, &jobs, trellis::model::Span::ALL, 2).unwrap();
    let stats: HashMap<(String, String), analysis::flakes::FlakeStats> =
        analysis::flake_table(&Default::default(), &grids, 2)
            .into_values()
            .flatten()
            .map(|s| ((s.job.clone(), s.test.clone()), s))
            .collect();

    let (mut covered, mut flaky, mut streaky, mut streaky_covered) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for t in truth.tests.iter().filter(|t| t.kind == "flaky") {
        let p = t.failure_probability.unwrap();
        let s = &stats[&(t.job.clone(), t.test.clone())];
        flaky += 1;
        let inside = s.flake_rate_low <= p && p <= s.flake_rate_high;
        covered += usize::from(inside);
        if p >= 0.3 {
            streaky += 1;
            streaky_covered += usize::from(inside);
        }
        if !inside {
            misses.push(format!(
                "{:.3} not in {:.3}-{:.3} ({} runs, {} set aside)",
                p, s.flake_rate_low, s.flake_rate_high, s.runs, s.broken_runs
            ));
        }
    }
    let coverage = covered as f64 / flaky as f64;
    let broken: HashSet<(String, String)> = truth
        .tests
        .iter()
        .filter(|t| t.kind == "broken" || t.kind == "fixed")
        .map(|t| (t.job.clone(), t.test.clone()))
        .collect();
    let found: HashSet<(String, String)> = stats
        .values()
        .filter(|s| s.broken_runs > 0 && s.test != "Overall")
        .map(|s| (s.job.clone(), s.test.clone()))
        .collect();
    let precision = found.intersection(&broken).count() as f64 / found.len().max(1) as f64;
    let recall = broken.intersection(&found).count() as f64 / broken.len().max(1) as f64;
    eprintln!(
        "flake-rate calibration: 95% intervals cover the true rate for {covered} of {flaky} \
         flaky tests ({:.1}%; {streaky_covered} of {streaky} with rates of 30-50%); \
         breakage found with precision {precision:.3} and recall {recall:.3} ({} broken or fixed)",
        coverage * 100.0,
        broken.len()
    );
    // Outage columns are told apart (and so kept out of every test's rate).
    let outages: HashSet<(String, String)> = grids
        .iter()
        .flat_map(|g| {
            analysis::flakes::outage_builds(g)
                .into_iter()
                .map(|build| (g.job.clone(), build))
        })
        .collect();
    let injected: HashSet<(String, String)> = truth.outages.iter().cloned().collect();
    assert_eq!(outages, injected, "outage columns found vs injected");
    eprintln!(
        "outage columns: {} found, {} injected",
        outages.len(),
        injected.len()
    );
    assert!(
        flaky >= 300 && broken.len() >= 40,
        "{flaky} flaky, {} broken",
        broken.len()
    );
    assert!(coverage >= 0.93, "coverage {coverage}: {misses:#?}");
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision} recall {recall}"
    );
}

#[test]
fn classes_recover_the_injected_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let jobs: Vec<String> = (1..=3).map(|i| format!("sim-{i}")).collect();
    let mut opts = SimOptions::new(jobs.clone(), 120, 400, chrono::Utc::now().timestamp());
    opts.seed = 7;
    opts.flaky_share = 0.08;
    opts.broken_share = 0.02;
    let mut store = Store::open(&db).unwrap();
    let truth = simulate::simulate(&opts, |b| store.insert_build(&b).map(|_| ())).unwrap();
    drop(store);

    let grids = trellis::store::load_grids(&db, &jobs, trellis::model::Span::ALL, 2).unwrap();
    let table: Vec<_> = analysis::flake_table(&Default::default(), &grids, 2)
        .into_values()
        .flatten()
        .collect();
    let predicted = |class: Class| -> HashSet<(String, String)> {
        table
            .iter()
            .filter(|s| s.class == class && s.test != "Overall")
            .map(|s| (s.job.clone(), s.test.clone()))
            .collect()
    };
    let truly = |kind: &str, min_p: f64| -> HashSet<(String, String)> {
        truth
            .tests
            .iter()
            .filter(|t| t.kind == kind && t.failure_probability.unwrap_or(1.0) >= min_p)
            .map(|t| (t.job.clone(), t.test.clone()))
            .collect()
    };
    let score = |predicted: &HashSet<(String, String)>,
                 all: &HashSet<(String, String)>,
                 strong: &HashSet<(String, String)>| {
        let precision = predicted.intersection(all).count() as f64 / predicted.len().max(1) as f64;
        let recall = strong.intersection(predicted).count() as f64 / strong.len().max(1) as f64;
        (precision, recall)
    };
    let (flaky_p, flaky_r) = score(
        &predicted(Class::Flaky),
        &truly("flaky", 0.0),
        &truly("flaky", 0.05),
    );
    let (fail_p, fail_r) = score(
        &predicted(Class::Failing),
        &truly("broken", 0.0),
        &truly("broken", 0.0),
    );
    eprintln!(
        "flaky: precision {flaky_p:.3} recall {flaky_r:.3} ({} truly flaky with p >= 5%); \
         failing: precision {fail_p:.3} recall {fail_r:.3} ({} broken)",
        truly("flaky", 0.05).len(),
        truly("broken", 0.0).len()
    );
    assert!(
        truly("flaky", 0.05).len() >= 50,
        "enough flaky tests to measure"
    );
    assert!(
        flaky_p >= 0.9 && flaky_r >= 0.9,
        "flaky precision {flaky_p} recall {flaky_r}"
    );
    assert!(
        fail_p >= 0.9 && fail_r >= 0.9,
        "failing precision {fail_p} recall {fail_r}"
    );

    // Failing tests name the build and commit where they broke.
    let at: HashMap<(String, String), String> = truth
        .tests
        .iter()
        .filter(|t| t.kind == "broken")
        .map(|t| {
            (
                (t.job.clone(), t.test.clone()),
                t.broken_at.as_ref().unwrap().build.clone(),
            )
        })
        .collect();
    let mut exact = 0;
    for s in table
        .iter()
        .filter(|s| s.class == Class::Failing && s.test != "Overall")
    {
        if at.get(&(s.job.clone(), s.test.clone())) == s.first_fail.as_ref().map(|f| &f.build) {
            exact += 1;
        }
    }
    // An outage right at the breakage can move the first visible failure; nearly all match.
    assert!(
        exact as f64 >= 0.9 * at.len() as f64,
        "{exact} of {} first-fail builds exact",
        at.len()
    );
}

#[test]
fn commands_work_on_real_testgrid_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let testgrid = shared_data().join("testgrid");
    // Jobs named after the real config's first test groups (Gardener conformance).
    common::simulate_and_ingest(
        &db,
        &tmp.path().join("sim"),
        60,
        80,
        &["--jobs-from", testgrid.to_str().unwrap(), "--jobs", "3"],
    );
    let o = trellis(
        &db,
        &[
            "status",
            "--json",
            "--dashboards",
            testgrid.to_str().unwrap(),
        ],
    );
    let report: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    let conformance = report["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "conformance-all")
        .unwrap();
    let tab = conformance["tabs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Gardener, v1.35 AWS")
        .unwrap();
    assert_eq!(tab["job"], "ci-gardener-e2e-conformance-aws-v1.35");
    assert!(
        ["PASSING", "FLAKY", "FAILING", "BROKEN"].contains(&tab["status"].as_str().unwrap()),
        "{tab}"
    );
    assert!(
        tab["message"].as_str().unwrap().starts_with("Tab stats: "),
        "{tab}"
    );
    for key in ["failing_tests", "flaky_tests", "latest_green"] {
        assert!(tab.get(key).is_some(), "tab has {key}");
    }
    // sig-release-master-blocking's jobs have no stored results: the release is blocked.
    assert_eq!(o.status.code(), Some(6));
    assert_eq!(report["release"]["blocked"], true);
    let reasons = report["release"]["reasons"].as_array().unwrap();
    assert!(reasons
        .iter()
        .any(|r| r["dashboard"] == "sig-release-master-blocking" && r["kind"] == "no-runs"));

    // flakes, regressions and triage on the same data, with the documented JSON.
    let o = trellis(
        &db,
        &[
            "flakes",
            "--json",
            "--all",
            "--dashboards",
            testgrid.to_str().unwrap(),
        ],
    );
    let flakes: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(flakes["window"]["days"].as_u64().is_some(), "{flakes}");
    let row = &flakes["tests"].as_array().unwrap()[0];
    for key in [
        "job",
        "test",
        "class",
        "runs",
        "passes",
        "failures",
        "flakes",
        "flake_rate",
        "flake_rate_low",
        "flake_rate_high",
        "flip_flakiness",
        "same_commit_flakes",
        "last_pass",
        "first_fail",
    ] {
        assert!(row.get(key).is_some(), "flakes row has {key}: {row}");
    }
    let o = trellis(
        &db,
        &[
            "regressions",
            "--json",
            "--sample-days",
            "2",
            "--basis-days",
            "3",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let regressions: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(regressions["window"]["sample"]["days"], 2);
    assert_eq!(regressions["window"]["basis"]["days"], 3);
    for r in regressions["regressions"].as_array().unwrap() {
        assert!(r["p_value"].as_f64().unwrap() < 0.05);
        assert!(r["sample"]["failures"].as_u64().unwrap() >= 3);
    }
    let o = trellis(&db, &["triage", "--json"]);
    let clusters: Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = &clusters["clusters"].as_array().unwrap()[0];
    for key in [
        "id",
        "count",
        "representative",
        "common",
        "example",
        "sig",
        "ci",
        "pr",
        "tests",
        "jobs",
        "builds",
        "days",
    ] {
        assert!(first.get(key).is_some(), "cluster has {key}: {first}");
    }
    let test = &first["tests"][0];
    assert!(
        test["jobs"][0]["builds"]
            .as_array()
            .is_some_and(|b| !b.is_empty()),
        "{test}"
    );
    assert!(
        first["builds"][0]["build"].as_str().is_some(),
        "{}",
        first["builds"]
    );
    // The Overall row repeats the build result: it is never clustered.
    for c in clusters["clusters"].as_array().unwrap() {
        for t in c["tests"].as_array().unwrap() {
            assert_ne!(t["name"], "Overall", "{c}");
        }
    }
    // Ids are stable: a second run seeded with the first keeps them.
    let previous = db.with_extension("triage.json");
    std::fs::write(&previous, &o.stdout).unwrap();
    let o = trellis(
        &db,
        &["triage", "--json", "--previous", previous.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let again: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids = |v: &Value| -> Vec<String> {
        v["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&again), ids(&clusters));
    // CI and PR failures apart: the two add up to all of them.
    let count = |only: &str| -> u64 {
        let o = trellis(&db, &["triage", "--json", "--only", only]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["failures"].as_u64().unwrap()
    };
    assert_eq!(
        count("ci") + count("pr"),
        clusters["failures"].as_u64().unwrap()
    );
    // A --previous that is not a triage output is refused, naming the file.
    std::fs::write(&previous, "{\"clusters\": [{}]}").unwrap();
    let o = trellis(&db, &["triage", "--previous", previous.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("triage.json") && err.contains("clusters[0]"),
        "{err}"
    );
}

#[test]
fn status_on_the_simulators_dashboards_and_a_healthy_history() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    // No flakes, breakages or outages: nothing blocks.
    common::simulate_and_ingest(
        &db,
        &tmp.path().join("sim"),
        60,
        80,
        &[
            "--flaky-share",
            "0",
            "--broken-share",
            "0",
            "--outage-probability",
            "0",
        ],
    );
    // `simulate` wrote the dashboards for its jobs beside them.
    let dashboards = tmp.path().join("sim/dashboards");
    let o = trellis(
        &db,
        &[
            "status",
            "--details",
            "--dashboards",
            dashboards.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("trellis-sim-blocking [release-blocking]: PASSING"),
        "{text}"
    );
    assert!(text.contains("release: not blocked"), "{text}");
    assert!(
        text.contains("Tab stats: 10 of 10 (100.0%) recent columns passed"),
        "{text}"
    );
}

/// Builds dated after the decision time are not evidence: three green builds dated
/// 2100 do not unblock a release whose real builds fail, and status names them.
#[test]
fn builds_from_the_future_do_not_unblock_a_release() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let logs = tmp.path().join("logs/j");
    let build = |id: &str, started: i64, passed: bool| {
        let dir = logs.join(id);
        std::fs::create_dir_all(dir.join("artifacts")).unwrap();
        std::fs::write(
            dir.join("started.json"),
            format!(r#"{{"timestamp": {started}}}"#),
        )
        .unwrap();
        std::fs::write(
            dir.join("finished.json"),
            format!(r#"{{"timestamp": {}, "passed": {passed}}}"#, started + 600),
        )
        .unwrap();
        let case = if passed {
            r#"<testcase name="t"/>"#.to_string()
        } else {
            r#"<testcase name="t"><failure message="expected 1 got 2"/></testcase>"#.to_string()
        };
        std::fs::write(
            dir.join("artifacts/junit_01.xml"),
            format!(r#"<testsuite name="s">{case}</testsuite>"#),
        )
        .unwrap();
    };
    let now = 1_800_000_000;
    for i in 0..3 {
        build(&format!("{}", 10 + i), now - 86_400 + i * 3600, false);
        build(&format!("{}", 90 + i), 4_102_444_800 + i * 3600, true); // 2100
    }
    let dashboards = tmp.path().join("dashboards");
    std::fs::create_dir_all(&dashboards).unwrap();
    std::fs::write(
        dashboards.join("d.yaml"),
        "dashboards:\n- name: x-blocking\n  dashboard_tab:\n  - name: j\n    test_group_name: j\n\
         test_groups:\n- name: j\n  num_failures_to_alert: 3\n  days_of_results: 7\n",
    )
    .unwrap();
    let o = trellis(&db, &["ingest", tmp.path().join("logs").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let at = now.to_string();
    let args = [
        "status",
        "--at",
        &at,
        "--dashboards",
        dashboards.to_str().unwrap(),
    ];
    let o = trellis(&db, &args);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(6), "{text}");
    assert!(
        text.contains("warning: 3 build(s) dated after the decision time are not evidence"),
        "{text}"
    );
    let mut json = args.to_vec();
    json.push("--json");
    let report: Value = serde_json::from_slice(&trellis(&db, &json).stdout).unwrap();
    assert_eq!(report["future_builds"]["total"], 3);
    assert_eq!(report["release"]["blocked"], true);
}
