//! #21: performance figures from a ClusterLoader2 job's Prow artifacts (PerfData files
//! as CL2 names and writes them) are stored by `trellis ingest` and judged against the
//! job's own baseline by `trellis regressions` and `trellis status`.

mod common;

use common::{stderr, stdout, trellis};
use serde_json::{json, Value};
use std::path::Path;

const START: i64 = 1_790_000_000;

/// One CL2 build: started/finished.json, CL2's junit.xml, and PerfData for pod
/// startup (p99 `startup_ms`) and two API calls.
fn cl2_build(logs: &Path, id: u32, startup_ms: f64) {
    let dir = logs.join(id.to_string());
    let artifacts = dir.join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let started = START + i64::from(id) * 3600;
    std::fs::write(
        dir.join("started.json"),
        json!({"timestamp": started}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("finished.json"),
        json!({"timestamp": started + 1800, "passed": true, "result": "SUCCESS"}).to_string(),
    )
    .unwrap();
    std::fs::write(
        artifacts.join("junit.xml"),
        r#"<testsuite name="ClusterLoaderV2" tests="1" failures="0"><testcase name="load overall (testing/load/config.yaml)" classname="ClusterLoaderV2" time="1700"/></testsuite>"#,
    )
    .unwrap();
    let stamp = chrono::DateTime::from_timestamp(started + 1700, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ");
    let item = |p99: f64, labels: Value| json!({"data": {"Perc50": p99 * 0.6, "Perc90": p99 * 0.9, "Perc99": p99}, "unit": "ms", "labels": labels});
    let write =
        |name: String, doc: Value| std::fs::write(artifacts.join(name), doc.to_string()).unwrap();
    write(
        format!("PodStartupLatency_PodStartupLatency_load_{stamp}.json"),
        json!({"version": "v1", "dataItems": [item(startup_ms, json!({"Metric": "pod_startup"}))]}),
    );
    let jitter = [0.0, 3.0, -2.0, 5.0, -4.0, 1.0][id as usize % 6];
    write(
        format!("APIResponsivenessPrometheus_load_{stamp}.json"),
        json!({"version": "v1", "dataItems": [
            item(40.0 + jitter, json!({"Verb": "POST", "Resource": "pods", "Scope": "resource", "Subresource": "", "Count": "5000"})),
            item(300.0 + jitter, json!({"Verb": "LIST", "Resource": "pods", "Scope": "cluster", "Subresource": "", "Count": "12"})),
        ]}),
    );
    // CL2 writes other summaries with the same naming; they are not PerfData.
    write(
        format!("ResourceUsageSummary_load_{stamp}.json"),
        json!({"50": [{"Name": "kube-apiserver", "Cpu": 0.2}]}),
    );
}

#[test]
fn a_cl2_jobs_perfdata_is_stored_and_a_slowdown_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs/ci-perf-load");
    // Twelve builds around 1.2 s, then three at about 2.9 s.
    let quiet = [
        1150.0, 1210.0, 1180.0, 1260.0, 1120.0, 1230.0, 1190.0, 1170.0, 1240.0, 1200.0, 1160.0,
        1220.0,
    ];
    for (i, ms) in quiet.iter().chain(&[2850.0, 2930.0, 2880.0]).enumerate() {
        cl2_build(&logs, 100 + i as u32, *ms);
    }
    // One build's API file is cut short: skipped with a warning, the build kept.
    let broken = std::fs::read_dir(logs.join("105/artifacts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("APIResponsiveness"))
        .unwrap();
    std::fs::write(
        &broken,
        r#"{"version": "v1", "dataItems": [{"data": {"Perc99": 4"#,
    )
    .unwrap();
    let db = dir.path().join("db.sqlite");
    let o = trellis(&db, &["ingest", logs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&broken.display().to_string()) && err.contains("PerfData file skipped"),
        "{err}"
    );
    assert_eq!(common::runs(&db).len(), 15);
    // Ingesting again stores nothing twice.
    let o = trellis(&db, &["ingest", logs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = trellis(
        &db,
        &[
            "regressions",
            "--json",
            "--at",
            &(START + 200 * 3600).to_string(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let perf = &v["perf"];
    // Pod startup and two API calls, all with enough history.
    assert_eq!(perf["judged"], 3, "{perf}");
    assert_eq!(perf["too_little_history"], 0, "{perf}");
    let found = perf["regressions"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{perf}");
    let r = &found[0];
    assert_eq!(r["job"], "ci-perf-load");
    assert_eq!(
        r["series"],
        "PodStartupLatency_PodStartupLatency_load {Metric=pod_startup}"
    );
    assert_eq!(r["build"], "114");
    assert_eq!(r["baseline"]["builds"], 12);
    assert_eq!(r["recent"]["values"], json!([2850.0, 2930.0, 2880.0]));
    assert_eq!(r["baseline"]["median"], 1195.0);
    // All three above all twelve: 1 / C(15, 3).
    assert!(
        (r["p_value"].as_f64().unwrap() - 1.0 / 455.0).abs() < 1e-12,
        "{r}"
    );
    assert_eq!(r["slo"], 5000.0);
    assert_eq!(r["over_slo"], false);

    let o = trellis(
        &db,
        &["regressions", "--at", &(START + 200 * 3600).to_string()],
    );
    let text = stdout(&o);
    assert!(
        text.contains("REGRESSED ci-perf-load / PodStartupLatency_PodStartupLatency_load {Metric=pod_startup} p99: 1.2 s → 2.9 s (+141%; p = 2.2e-3, 3 vs 12 builds; newest 114)"),
        "{text}"
    );
    // The report's performance page: the verdict table and a trend plot per series
    // (p50, p90, p99 and the SLO).
    let site = dir.path().join("site");
    let at = (START + 200 * 3600).to_string();
    let o = trellis(
        &db,
        &["report", "--out", site.to_str().unwrap(), "--at", &at],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(site.join("perf.html")).unwrap();
    assert!(
        page.contains(">ci-perf-load</h2><p>3 series; <strong>1 regressed</strong>"),
        "{page}"
    );
    assert!(page.contains("<td>PodStartupLatency_PodStartupLatency_load {Metric=pod_startup}</td><td>1.20 s</td><td>2.88 s</td><td>+141%</td>"), "{page}");
    assert_eq!(page.matches("<svg").count(), 3, "a plot per series");
    for legend in ["\np50\n", "\np90\n", "\np99\n", "\nSLO\n"] {
        assert!(page.contains(legend), "{legend} missing");
    }
    // Judged as of an earlier decision time, before the slow builds: quiet.
    let o = trellis(
        &db,
        &[
            "regressions",
            "--json",
            "--at",
            &(START + 111 * 3600).to_string(),
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["perf"]["regressions"], json!([]), "{}", v["perf"]);
}

#[test]
fn perf_options_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    for (flag, value, says) in [
        ("--perf-alpha", "1.5", "between 0 and 1"),
        ("--perf-recent", "0", "from 1 to 200"),
        ("--perf-min-change", "-1", "of 0 or more"),
    ] {
        let o = trellis(&db, &["regressions", &format!("{flag}={value}")]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
}
