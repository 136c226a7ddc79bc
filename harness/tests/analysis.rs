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

/// `trellis gate` on held-out simulated PR builds (seeds no code was tuned on):
/// PRs that break stable tests or make a flaky test fail every time, PRs hit only by
/// known flakes, by base breakage or by an outage. Failures the gate excuses as known
/// flakes are confirmed by retry (the truth's per-attempt failure probability says
/// what each retry shows), as `gate` recommends. `new` must reach precision and recall
/// of 0.95, and no PR whose only failures are known flakes with 30 or more base runs
/// may be blocked. Prints the figures.
#[test]
fn gate_tells_regressions_from_known_flakes_on_held_out_seeds() {
    use trellis::analysis::gate::{self, BaseHistory, FailureClass, Verdict};
    struct Rng(u64);
    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }
    let mut rng = Rng(99);
    let (mut tp, mut fp, mut fn_, mut judged) = (0u64, 0u64, 0u64, 0u64);
    let (mut flake_only_prs, mut flake_only_blocked, mut retried) = (0u64, 0u64, 0u64);
    let mut agree: HashMap<(&str, &str), u64> = HashMap::new();
    // Found, wrongly, missed: before any retry.
    let mut before = [0u64; 3];
    for seed in [201, 202, 203, 204, 205] {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("g.db");
        let mut opts = SimOptions::new(vec!["ci".into()], 150, 300, 1_790_000_000);
        opts.seed = seed;
        opts.flaky_share = 0.08;
        opts.pr_builds = 40;
        let mut store = Store::open(&db).unwrap();
        let mut prs: HashMap<String, trellis::model::Build> = HashMap::new();
        let truth = simulate::simulate(&opts, |b| {
            if b.pr.is_some() {
                prs.insert(b.build.clone(), b.clone());
            }
            store.insert_build(&b).map(|_| ())
        })
        .unwrap();
        for pr in &truth.prs {
            let mut build = prs[&pr.build].clone();
            let tests = gate::failing_tests(&build);
            let (grid, counts) = store
                .rows_of("ci", trellis::model::Span::ALL, &tests)
                .unwrap();
            let base = [BaseHistory { grid, counts }];
            let mut report = gate::judge(&build, &base, &gate::Excuses::none("2026-12-02"));
            for f in &pr.failures {
                let is_new = report
                    .failures
                    .iter()
                    .any(|j| j.test == f.test && j.class == FailureClass::New);
                match (f.class == "new", is_new) {
                    (true, true) => before[0] += 1,
                    (false, true) => before[1] += 1,
                    (true, false) => before[2] += 1,
                    _ => {}
                }
            }
            // Confirmation by retry, as `gate` recommends for an excused failure.
            for (test, retries) in gate::worth_retrying(&report) {
                let q = pr
                    .failures
                    .iter()
                    .find(|f| f.test == test)
                    .map_or(0.0, |f| f.failure_probability);
                let failed = (0..retries).take_while(|_| rng.unit() < q).count() as u32;
                gate::record_retries(&mut build, &test, retries, failed);
                retried += 1;
            }
            report = gate::judge(&build, &base, &gate::Excuses::none("2026-12-02"));
            for f in &pr.failures {
                let got = report.failures.iter().find(|j| j.test == f.test);
                // A retry that passed makes the failure a flake of this build.
                let class = got.map_or("flaked on retry", |j| j.class.name());
                *agree.entry((f.class, class)).or_default() += 1;
                judged += 1;
                let is_new = got.is_some_and(|j| j.class == FailureClass::New);
                match (f.class == "new", is_new) {
                    (true, true) => tp += 1,
                    (false, true) => fp += 1,
                    (true, false) => fn_ += 1,
                    _ => {}
                }
            }
            let flake_only = !pr.failures.is_empty()
                && pr.failures.iter().all(|f| f.class == "known-flake")
                && pr.failures.iter().all(|f| {
                    store
                        .rows_of(
                            "ci",
                            trellis::model::Span::ALL,
                            std::slice::from_ref(&f.test),
                        )
                        .map(|(g, _)| g.columns.len() >= 30)
                        .unwrap_or(false)
                });
            if flake_only {
                flake_only_prs += 1;
                if report.verdict == Verdict::Block {
                    flake_only_blocked += 1;
                    eprintln!("blocked a flake-only PR: {} {:?}", pr.build, pr.failures);
                }
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    let mut table: Vec<_> = agree.into_iter().collect();
    table.sort();
    eprintln!(
        "gate on 5 held-out seeds × 40 PR builds: {judged} failures judged, {retried} confirmed by retry; \
         new: precision {precision:.3}, recall {recall:.3} ({tp} found, {fp} wrongly, {fn_} missed); \
         flake-only PRs blocked: {flake_only_blocked} of {flake_only_prs}; \
         before retries (3 attempts each): {} found, {} wrongly, {} missed",
        before[0], before[1], before[2]
    );
    for ((truth, got), n) in &table {
        eprintln!("  truth {truth:<15} → {got:<16} {n}");
    }
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision}, recall {recall}"
    );
    assert!(
        flake_only_prs >= 20,
        "too few flake-only PRs to judge: {flake_only_prs}"
    );
    assert_eq!(flake_only_blocked, 0);
}

/// `trellis gate` end to end on simulated Prow files: a regression blocks (exit 8)
/// naming its tests, an outage passes as infra, Markdown and JUnit say the same, the
/// quarantine file excuses what it lists until it expires, a PR build read from its
/// directory is judged the same as the stored one, and bad input is named.
#[test]
fn gate_judges_a_pr_build_from_files_and_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("g.db");
    let out = tmp.path().join("sim");
    common::simulate_and_ingest(
        &db,
        &out,
        80,
        150,
        &["--jobs", "1", "--pr-builds", "16", "--seed", "5"],
    );
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ground-truth.json")).unwrap())
            .unwrap();
    let prs = truth["prs"].as_array().unwrap();
    let pick = |scenario: &str| {
        prs.iter()
            .find(|p| p["scenario"] == scenario)
            .unwrap_or_else(|| panic!("no {scenario} PR in seed 5"))
    };
    // A day from now: every simulated build (PR builds follow the newest base build)
    // is in the past.
    let at = format!("--at={}", chrono::Utc::now().timestamp() + 86_400);
    let gate = |args: &[&str]| {
        let mut all = vec!["gate", at.as_str(), "--days", "30"];
        all.extend_from_slice(args);
        trellis(&db, &all)
    };

    // A regression: blocked, with exactly the truth's new tests as `new`.
    let regression = pick("regression");
    let build = regression["build"].as_str().unwrap();
    let o = gate(&["pull-sim-job-01", build, "--json"]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["verdict"], "block");
    // The `new` tests of a gate report and of a PR's truth: the same shape.
    let new_tests = |failures: &Value| -> HashSet<String> {
        failures
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["class"] == "new")
            .map(|f| f["test"].as_str().unwrap().to_string())
            .collect()
    };
    let truly_new = new_tests(&regression["failures"]);
    assert_eq!(new_tests(&report["failures"]), truly_new);
    let first = &report["failures"][0];
    assert_eq!(first["evidence"]["kind"], "new");
    assert!(first["evidence"]["chance"].as_f64().unwrap() < 0.05);

    // The same build read from its directory: judged the same.
    let dir = out
        .join("pr-logs/pull/kubernetes_kubernetes")
        .join(regression["pr"].to_string())
        .join("pull-sim-job-01")
        .join(build);
    let o = gate(&[dir.to_str().unwrap(), "--markdown"]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(md.starts_with("### ❌ trellis gate: BLOCK"), "{md}");
    assert!(md.contains("| **new** |"), "{md}");

    // Quarantined until 2100: excused and listed; expired in 2020: a warning, blocked.
    let test = truly_new.iter().next().unwrap();
    let q = tmp.path().join("quarantine.yaml");
    let entries: String = truly_new
        .iter()
        .map(|t| {
            format!(
                "  - test: \"{t}\"\n    owner: sig-apps\n    reason: flakes on small runners\n    issue: https://github.com/kubernetes/kubernetes/issues/1\n    expires: 2100-01-02\n"
            )
        })
        .collect();
    std::fs::write(&q, format!("quarantine:\n{entries}")).unwrap();
    let o = gate(&[
        "pull-sim-job-01",
        build,
        "--json",
        "--quarantine",
        q.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["test"] == *test && f["class"] == "quarantined"));
    std::fs::write(
        &q,
        format!(
            "quarantine:\n{}",
            entries.replace("2100-01-02", "2020-01-01")
        ),
    )
    .unwrap();
    let o = gate(&[
        "pull-sim-job-01",
        build,
        "--quarantine",
        q.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(8));
    assert!(stderr(&o).contains("expired"), "{}", stderr(&o));

    // A bad date and an unknown field are named with their line.
    let with_quarantine = |yaml: &str| {
        std::fs::write(&q, yaml).unwrap();
        gate(&[
            "pull-sim-job-01",
            build,
            "--quarantine",
            q.to_str().unwrap(),
        ])
    };
    let o = with_quarantine(
        "quarantine:\n  - test: a\n    owner: me\n    reason: r\n    expires: 31/01/2027\n",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains("line 5") && said.contains("YYYY-MM-DD"),
        "{said}"
    );
    let o = with_quarantine(
        "quarantine:\n  - test: a\n    owner: me\n    reason: r\n    expires: 2027-01-31\n    team: x\n",
    );
    let said = stderr(&o);
    assert!(said.contains("team") && said.contains("line 6"), "{said}");

    // An outage: every failure infra, not blocking; JUnit skips them with the reason.
    let outage = pick("outage")["build"].as_str().unwrap();
    let junit = tmp.path().join("gate.xml");
    let o = gate(&[
        "pull-sim-job-01",
        outage,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("PASS"), "{}", stdout(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<skipped message=\"infra:"), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");

    // A PR hit by a known flake: the JUnit marks it flaky, not failed.
    let hit = prs
        .iter()
        .filter(|p| p["scenario"] == "flake-hit")
        .find_map(|p| {
            let b = p["build"].as_str().unwrap();
            let o = gate(&[
                "pull-sim-job-01",
                b,
                "--junit",
                junit.to_str().unwrap(),
                "--json",
            ]);
            let r: Value = serde_json::from_str(&stdout(&o)).ok()?;
            r["failures"]
                .as_array()?
                .iter()
                .any(|f| f["class"] == "known-flake")
                .then_some(r)
        })
        .expect("a flake-hit PR judged a known flake");
    let flake = hit["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["class"] == "known-flake")
        .unwrap();
    assert!(flake["evidence"]["base_runs"].as_u64().unwrap() >= 30);
    assert!(flake["evidence"]["retries_to_decide"].as_u64().unwrap() >= 1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<flakyFailure"), "{xml}");

    // Proposed quarantine entries are a quarantine file gate reads, owned by SIGs.
    let o = trellis(
        &db,
        &[
            "flakes",
            at.as_str(),
            "--days",
            "30",
            "--propose-quarantine",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let proposed = trellis::config::quarantine::Quarantine::parse(&stdout(&o)).unwrap();
    assert!(!proposed.entries.is_empty(), "{}", stdout(&o));
    assert!(proposed.entries.iter().all(|e| e.owner.starts_with("sig-")));
    std::fs::write(&q, stdout(&o)).unwrap();
    let o = gate(&[
        "pull-sim-job-01",
        build,
        "--quarantine",
        q.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));

    // Not stored, and a base job that is not stored: NOT_FOUND, naming them.
    let o = gate(&["pull-sim-job-01", "404"]);
    assert_eq!(o.status.code(), Some(4));
    let o = gate(&["pull-sim-job-01", build, "--base", "no-such-job"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("no-such-job"), "{}", stderr(&o));
    // A base job that never ran the failing tests: every failure new, "no history".
    let o = gate(&[
        "pull-sim-job-01",
        build,
        "--base",
        "pull-sim-job-01",
        "--json",
    ]);
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["class"] != "known-flake"));
}
