//! Every JUnit dialect fixture reads into the cells TestGrid would show.

mod common;

use trellis::ingest::{read_all, IngestOptions};
use trellis::model::{Build, Cell, CellStatus};

fn read(name: &str) -> Build {
    let path = common::fixtures().join("junit").join(name);
    let mut builds = read_all(path.to_str().unwrap(), &IngestOptions::default(), 0).unwrap();
    assert_eq!(builds.len(), 1);
    builds.remove(0)
}

fn cell<'a>(b: &'a Build, test: &str) -> &'a Cell {
    b.cells.iter().find(|c| c.test == test).unwrap_or_else(|| {
        panic!(
            "no row {test:?} in {:?}",
            b.cells.iter().map(|c| &c.test).collect::<Vec<_>>()
        )
    })
}

fn statuses(b: &Build) -> Vec<(&str, CellStatus)> {
    b.cells
        .iter()
        .map(|c| (c.test.as_str(), c.status))
        .collect()
}

#[test]
fn ginkgo_v1_drops_focus_skips_and_keeps_failure_text() {
    let b = read("ginkgo-v1.xml");
    assert_eq!(b.cells.len(), 3);
    assert_eq!(b.skipped_dropped, 1);
    let dns = cell(
        &b,
        "Kubernetes e2e suite.[sig-network] DNS should provide DNS for services  [Conformance]",
    );
    assert_eq!(dns.status, CellStatus::Fail);
    assert!(dns
        .message
        .as_deref()
        .unwrap()
        .contains("timed out waiting for the condition"));
    assert!(dns
        .message
        .as_deref()
        .unwrap()
        .contains("<*errors.errorString"));
    assert_eq!(b.passed, Some(false));
}

#[test]
fn ginkgo_v2_suite_nodes_pending_and_failure_message() {
    let b = read("ginkgo-v2.xml");
    let s = "Kubernetes e2e suite.";
    assert_eq!(
        cell(&b, &format!("{s}[SynchronizedBeforeSuite]")).status,
        CellStatus::Pass
    );
    let fail = cell(&b, &format!("{s}[sig-cli] Kubectl client Guestbook application should create and stop a working application  [Conformance]"));
    assert_eq!(fail.status, CellStatus::Fail);
    assert!(fail
        .message
        .as_deref()
        .unwrap()
        .starts_with("[FAILED] Timed out after 300.000s.\nExpected <bool>"));
    let pending = cell(
        &b,
        &format!("{s}[sig-node] Pods should be pending [Feature:Pending]"),
    );
    assert_eq!(
        (pending.status, pending.message.as_deref()),
        (CellStatus::PassWithSkips, Some("pending"))
    );
    // Ginkgo v2's stock `<skipped message="skipped">` is dropped, as TestGrid does,
    // and v2's "[It] " prefix is gone, so the row matches Ginkgo v1's name.
    assert!(
        b.cells
            .iter()
            .all(|c| !c.test.contains("should be skipped")),
        "{:?}",
        statuses(&b)
    );
    assert_eq!(b.skipped_dropped, 1);
    assert!(b.cells.iter().all(|c| !c.test.contains("[It]")));
    let tally = &b.metadata["junit"];
    assert_eq!(tally["passed"], 1);
    assert_eq!(tally["failed"], 1);
    assert_eq!(tally["skipped"], 2);
    assert_eq!(tally["suite_nodes"], 2);
    // The suite timestamp becomes the build's start and its id.
    assert_eq!(b.started, Some(1_709_287_200));
    assert!(b.build.starts_with("20240301-100000-"), "{}", b.build);
}

#[test]
fn go_junit_report_rows_are_package_dot_test() {
    let b = read("go-junit-report.xml");
    let pkg = "k8s.io/kubernetes/pkg/kubelet/cm";
    assert_eq!(
        statuses(&b),
        [
            (format!("{pkg}.TestCgroupName").as_str(), CellStatus::Pass),
            (
                format!("{pkg}.TestNodeAllocatable/default_reservation").as_str(),
                CellStatus::Pass
            ),
            (
                format!("{pkg}.TestCPUManagerPolicy").as_str(),
                CellStatus::Fail
            ),
        ]
    );
    // The `message` attribute, a newline, then the element's text: what the pipeline
    // feeding Kubernetes triage keeps (TestGrid shows the attribute alone).
    assert_eq!(
        cell(&b, &format!("{pkg}.TestCPUManagerPolicy"))
            .message
            .as_deref(),
        Some("Failed\ncpu_manager_test.go:88: expected 2 exclusive CPUs, got 1")
    );
}

#[test]
fn gotestsum_rerun_of_a_failed_test_merges_into_flaky() {
    let b = read("gotestsum.xml");
    let retry = cell(&b, "sigs.k8s.io/kind/pkg/cluster.TestCreateWithRetry");
    assert_eq!(retry.status, CellStatus::Flaky);
    assert_eq!(retry.attempts, 2);
    // TestGrid's merge: how many runs passed, then the failed run's `message`
    // attribute and its element text.
    let msg = retry.message.as_deref().unwrap_or("");
    assert!(
        msg.starts_with("1/2 runs passed: Failed\n=== RUN   TestCreateWithRetry"),
        "{msg}"
    );
    assert!(msg.contains("node never became ready"), "{msg}");
    assert_eq!(retry.duration, Some(3.1));
    let skip = cell(&b, "sigs.k8s.io/kind/pkg/cluster.TestPodmanOnly");
    assert_eq!(skip.status, CellStatus::PassWithSkips);
    assert_eq!(b.cells.len(), 3);
}

#[test]
fn nextest_flaky_and_rerun_failures() {
    let b = read("nextest.xml");
    let s = "trellis-suites::smoke.";
    let flaky = cell(&b, &format!("{s}configmap_watch"));
    assert_eq!((flaky.status, flaky.attempts), (CellStatus::Flaky, 2));
    let msg = flaky.message.as_deref().unwrap();
    assert!(msg.contains("watch closed before ADDED event"), "{msg}");
    assert!(
        !msg.contains("attempt 1 output"),
        "system-out is not the message: {msg}"
    );
    let fail = cell(&b, &format!("{s}dns_resolution"));
    assert_eq!((fail.status, fail.attempts), (CellStatus::Fail, 3));
    assert!(fail
        .message
        .as_deref()
        .unwrap()
        .contains("nslookup kubernetes.default failed"));
    assert_eq!(
        cell(&b, &format!("{s}rbac_denial")).status,
        CellStatus::Pass
    );
}

#[test]
fn surefire_flaky_rerun_and_stacktrace_messages() {
    let b = read("surefire.xml");
    let s = "io.example.operator.ReconcilerTest.";
    let flaky = cell(&b, &format!("{s}retriesOnConflict"));
    assert_eq!((flaky.status, flaky.attempts), (CellStatus::Flaky, 3));
    assert_eq!(flaky.message.as_deref(), Some("expected: <2> but was: <1>"));
    let fail = cell(&b, &format!("{s}deletesFinalizer"));
    assert_eq!((fail.status, fail.attempts), (CellStatus::Fail, 2));
    let msg = fail.message.as_deref().unwrap_or("");
    assert!(
        msg.starts_with("finalizer still present\njava.lang.AssertionError"),
        "{msg}"
    );
    assert!(msg.contains("ReconcilerTest.java:91"), "{msg}");
    let err = cell(&b, &format!("{s}watchesSecrets"));
    assert_eq!((err.status, err.attempts), (CellStatus::Fail, 3));
    assert_eq!(
        cell(&b, &format!("{s}needsClusterAdmin")).status,
        CellStatus::PassWithSkips
    );
    assert_eq!(
        cell(&b, &format!("{s}reconcilesNewResource")).status,
        CellStatus::Pass
    );
}

#[test]
fn pytest_failures_errors_and_skips() {
    let b = read("pytest.xml");
    let eviction = cell(&b, "pytest.test_pod_eviction[1.29]");
    assert_eq!(eviction.status, CellStatus::Fail);
    assert!(eviction
        .message
        .as_deref()
        .unwrap()
        .starts_with("AssertionError: assert 'Running' == 'Evicted'"));
    let setup = cell(&b, "pytest.test_fixture_setup");
    assert_eq!(setup.status, CellStatus::Fail);
    assert_eq!(
        setup.message.as_deref(),
        Some("failed on setup with \"ConnectionError: apiserver unreachable\"\nConnectionError: apiserver unreachable")
    );
    assert_eq!(
        cell(&b, "pytest.test_windows_nodes").message.as_deref(),
        Some("no windows nodes")
    );
    assert_eq!(b.cells.len(), 5);
}

#[test]
fn bazel_test_xml_error_is_a_failure() {
    let b = read("bazel-test.xml");
    let t = cell(
        &b,
        "//pkg/scheduler:go_default_test.//pkg/scheduler:go_default_test",
    );
    assert_eq!(t.status, CellStatus::Fail);
    assert_eq!(t.message.as_deref(), Some("exited with error code 1"));
    assert_eq!(t.duration, Some(31.0));
}

#[test]
fn clusterloader2_measurement_failure() {
    let b = read("clusterloader2-junit.xml");
    assert_eq!(b.cells.len(), 4);
    let t = cell(&b, "ClusterLoaderV2.load: [step: 29] gathering measurements [00] - APIResponsivenessPrometheus");
    assert_eq!(t.status, CellStatus::Fail);
    assert!(t
        .message
        .as_deref()
        .unwrap()
        .contains("expected perc99 <= 5s"));
    assert!(t
        .message
        .as_deref()
        .unwrap()
        .contains("got: &{Resource:pods"));
}
