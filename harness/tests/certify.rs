//! Conformance certification on real data: the 12 merged submissions verify as they
//! were judged, the hand-edited v1.35 variants fail (or pass) for the right reason,
//! mutations of real submissions are caught by the right check, and `certify` builds a
//! submission that verifies.

mod common;

use common::{shared_data, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn trellis(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(args)
        .env_remove("TRELLIS_DB")
        .output()
        .unwrap()
}

fn verify_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["verify-submission", "--json", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = trellis(&args);
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    (out.status.code().unwrap(), report)
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

fn failed_ids(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn details(check: &Value) -> Vec<String> {
    check["details"]
        .as_array()
        .map(|a| a.iter().map(|d| d.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// `trellis certify --results RESULTS --product PRODUCT --out OUT EXTRA…`.
fn certify(results: &Path, product: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "certify",
        "--results",
        results.to_str().unwrap(),
        "--product",
        product.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    trellis(&args)
}

/// `yaml` with the top-level `key:` line's value replaced by `value`.
fn with_field(yaml: &str, key: &str, value: &str) -> String {
    yaml.lines()
        .map(|l| {
            if l.starts_with(&format!("{key}:")) {
                format!("{key}: {value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn submission(version: &str, product: &str) -> PathBuf {
    shared_data()
        .join("conformance/submissions")
        .join(version)
        .join(product)
}

/// Copies a real submission into `root/<version>/<product>/` for mutation.
fn copy_submission(root: &Path, from: &Path, version: &str, product: &str) -> PathBuf {
    let to = root.join(version).join(product);
    std::fs::create_dir_all(&to).unwrap();
    for f in ["README.md", "PRODUCT.yaml", "e2e.log", "junit_01.xml"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    to
}

#[test]
fn the_twelve_real_submissions_pass_as_they_were_judged() {
    let root = shared_data().join("conformance/submissions");
    let mut seen = 0;
    for version in std::fs::read_dir(&root).unwrap() {
        let version = version.unwrap().path();
        if !version.is_dir() {
            continue;
        }
        let v = version.file_name().unwrap().to_str().unwrap().to_string();
        for product in std::fs::read_dir(&version).unwrap() {
            let dir = product.unwrap().path();
            let (code, report) = verify_json(&dir, &["--stable", &v]);
            assert_eq!(report["verdict"], "pass", "{}: {report:#}", dir.display());
            assert_eq!(code, 0);
            assert_eq!(report["version"], v.as_str());
            // --as-reviewed says the same without knowing the version; by today's
            // stable release the old ones are no longer supported.
            let (code, _) = verify_json(&dir, &["--as-reviewed"]);
            assert_eq!(code, 0, "{}", dir.display());
            let (_, today) = verify_json(&dir, &[]);
            if v.as_str() < "v1.34" {
                assert_eq!(
                    failed_ids(&today),
                    ["version.supported"],
                    "{}",
                    dir.display()
                );
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 12);
}

#[test]
fn openshift_dedicated_passes_and_names_its_demoted_failures() {
    let (code, report) = verify_json(
        &submission("v1.24", "openshift-dedicated"),
        &["--stable", "v1.24"],
    );
    assert_eq!(code, 0);
    assert_eq!(check(&report, "tests.required")["passed"], true);
    let failures = check(&report, "tests.no_failures");
    assert_eq!(failures["passed"], true);
    assert_eq!(failures["warning"], true);
    let names = details(failures);
    assert_eq!(names.len(), 2);
    assert!(
        names.iter().all(|n| n.contains("session affinity timeout")),
        "{names:?}"
    );
    assert!(failures["message"]
        .as_str()
        .unwrap()
        .contains("no longer requires"));
    // Human output says so too.
    let text = stdout(&trellis(&[
        "verify-submission",
        "--stable",
        "v1.24",
        submission("v1.24", "openshift-dedicated").to_str().unwrap(),
    ]));
    assert!(text.contains("WARN tests.no_failures"), "{text}");
}

/// A v1.35 submission folder around one of the verify-conformance junit variants.
fn v135_submission(root: &Path, variant: &str) -> PathBuf {
    let dir = root.join(variant).join("v1.35/coolkube");
    std::fs::create_dir_all(&dir).unwrap();
    let data = shared_data().join("conformance");
    std::fs::copy(
        data.join(format!("verify-conformance-testdata/TestGetJunitSubmittedConformanceTests-coolkube-v1-35-junit_01{variant}.xml")),
        dir.join("junit_01.xml"),
    )
    .unwrap();
    std::fs::copy(
        data.join("submissions-index/v1.35/kind/PRODUCT.yaml"),
        dir.join("PRODUCT.yaml"),
    )
    .unwrap();
    std::fs::write(dir.join("README.md"), "# coolkube\n").unwrap();
    // A non-verbose log header: versions and counts are not stated.
    std::fs::write(
        dir.join("e2e.log"),
        "Running Suite: Kubernetes e2e suite - /usr/local/bin\nWill run 441 of 7348 specs\n",
    )
    .unwrap();
    dir
}

#[test]
fn v135_variants_fail_for_the_right_test() {
    let tmp = tempfile::tempdir().unwrap();
    let stable = ["--stable", "v1.35"];

    let (code, base) = verify_json(&v135_submission(tmp.path(), ""), &stable);
    assert_eq!(
        (code, base["verdict"].as_str()),
        (0, Some("pass")),
        "{base:#}"
    );

    let (code, failed) = verify_json(&v135_submission(tmp.path(), "-with-1-test-failed"), &stable);
    assert_eq!((code, failed["verdict"].as_str()), (5, Some("fail")));
    let daemon = "[sig-apps] Daemon set [Serial] should run and stop simple daemon [Conformance]";
    assert_eq!(details(check(&failed, "tests.no_failures")), [daemon]);
    assert_eq!(
        details(check(&failed, "tests.required")),
        [format!("{daemon} (failed)")]
    );

    let (code, missing) = verify_json(
        &v135_submission(tmp.path(), "-with-1-test-missing"),
        &stable,
    );
    assert_eq!((code, missing["verdict"].as_str()), (5, Some("fail")));
    assert_eq!(failed_ids(&missing), ["tests.required"]);
    assert_eq!(
        details(check(&missing, "tests.required")),
        ["[sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]"]
    );

    let (code, extra) = verify_json(&v135_submission(tmp.path(), "-with-1-extra-test"), &stable);
    assert_eq!(
        (code, extra["verdict"].as_str()),
        (0, Some("pass")),
        "{extra:#}"
    );
}

/// Each mutation of a real submission must fail exactly the named check(s).
#[test]
fn mutations_are_caught_by_the_right_check() {
    let tmp = tempfile::tempdir().unwrap();
    let base = submission("v1.30", "openshift");
    let stable = ["--stable", "v1.30"];
    let mut n = 0;
    let mut fresh = |version: &str| {
        n += 1;
        copy_submission(&tmp.path().join(n.to_string()), &base, version, "openshift")
    };
    let expect = |dir: &Path, stable: &[&str], ids: &[&str], needle: &str| {
        let (code, report) = verify_json(dir, stable);
        assert_eq!(code, 5, "{report:#}");
        let failed = failed_ids(&report);
        for id in ids {
            assert!(
                failed.contains(&id.to_string()),
                "{id} should fail: {report:#}"
            );
        }
        assert!(
            report.to_string().contains(needle),
            "{needle:?} in {report:#}"
        );
    };

    // Wrong version folder: the v1.29 talos run (verbose log) filed under v1.30.
    let talos = copy_submission(
        &tmp.path().join("t"),
        &submission("v1.29", "talos"),
        "v1.30",
        "talos",
    );
    expect(
        &talos,
        &stable,
        &["e2e.version", "tests.required"],
        "kube-apiserver version v1.29.0",
    );
    // A folder that is not vX.Y at all.
    expect(
        &fresh("1.30"),
        &stable,
        &["layout.folder"],
        "not vX.Y/<product>",
    );

    let d = fresh("v1.30");
    std::fs::remove_file(d.join("e2e.log")).unwrap();
    expect(&d, &stable, &["files.required"], "e2e.log");

    let d = fresh("v1.30");
    std::fs::write(d.join("notes.txt"), "extra").unwrap();
    expect(&d, &stable, &["files.only"], "notes.txt");

    let d = fresh("v1.30");
    std::fs::rename(d.join("PRODUCT.yaml"), d.join("product.yaml")).unwrap();
    expect(
        &d,
        &stable,
        &["files.required", "files.only", "product.fields"],
        "names are case-sensitive",
    );

    // junit_01.xml that is a directory: said as such, not as a misspelt name.
    let d = fresh("v1.30");
    std::fs::remove_file(d.join("junit_01.xml")).unwrap();
    std::fs::create_dir(d.join("junit_01.xml")).unwrap();
    let (code, report) = verify_json(&d, &[]);
    assert_ne!(code, 0);
    let required = details(check(&report, "files.required"));
    assert_eq!(
        required,
        vec!["junit_01.xml (found a directory of that name, not a file)".to_string()]
    );

    let d = fresh("v1.30");
    let product = std::fs::read_to_string(d.join("PRODUCT.yaml")).unwrap();
    std::fs::write(
        d.join("PRODUCT.yaml"),
        with_field(&product, "vendor", "null"),
    )
    .unwrap();
    expect(
        &d,
        &stable,
        &["product.fields"],
        "missing or null field(s): vendor",
    );

    let d = fresh("v1.30");
    let bad_email = product.replace("maszulik@redhat.com", "maszulik at redhat");
    std::fs::write(d.join("PRODUCT.yaml"), bad_email).unwrap();
    expect(&d, &stable, &["product.email"], "is not an email address");

    // A passing conformance testcase turned into a failure.
    let d = fresh("v1.30");
    let junit = std::fs::read_to_string(d.join("junit_01.xml")).unwrap();
    let target = "[It] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]\"";
    let at = junit.find(target).expect("test present");
    let close = at + junit[at..].find("></testcase>").unwrap();
    let mutated = format!(
        "{}><failure message=\"host IP never set\" type=\"failed\">x</failure></testcase>{}",
        &junit[..close].replace(
            &format!("{target} classname=\"Kubernetes e2e suite\" status=\"passed\""),
            &format!("{target} classname=\"Kubernetes e2e suite\" status=\"failed\"")
        ),
        &junit[close + "></testcase>".len()..]
    );
    std::fs::write(d.join("junit_01.xml"), mutated).unwrap();
    expect(
        &d,
        &stable,
        &["tests.no_failures", "tests.required", "e2e.summary"],
        "Pods should get a host IP",
    );

    // A junit_01.xml from another version's run.
    let d = fresh("v1.30");
    std::fs::copy(
        submission("v1.33", "k3s").join("junit_01.xml"),
        d.join("junit_01.xml"),
    )
    .unwrap();
    expect(&d, &stable, &["e2e.summary"], "counts disagree");

    // An unsupported (too old) version under today's default stable release.
    let (code, report) = verify_json(&submission("v1.24", "gke"), &[]);
    assert_eq!(code, 5);
    assert_eq!(failed_ids(&report), ["version.supported"]);
}

fn results_dir(root: &Path, from: &Path) -> PathBuf {
    let dir = root.join("hydrophone-results");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(from.join("junit_01.xml"), dir.join("junit_01.xml")).unwrap();
    std::fs::copy(from.join("e2e.log"), dir.join("e2e.log")).unwrap();
    dir
}

#[test]
fn certify_builds_a_submission_that_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let talos = submission("v1.29", "talos");
    let results = results_dir(tmp.path(), &talos);
    let out_dir = tmp.path().join("k8s-conformance");
    let product = talos.join("PRODUCT.yaml");
    let args = [
        "certify",
        "--results",
        results.to_str().unwrap(),
        "--product",
        product.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--stable",
        "v1.29",
    ];
    let out = trellis(&args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // Version from e2e.log (v1.29.0), folder from PRODUCT.yaml's name.
    let made = out_dir.join("v1.29/talos-linux");
    let mut files: Vec<String> = std::fs::read_dir(&made)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["PRODUCT.yaml", "README.md", "e2e.log", "junit_01.xml"],
        "{}",
        stdout(&out)
    );
    let readme = std::fs::read_to_string(made.join("README.md")).unwrap();
    assert!(
        readme.starts_with("# Conformance results for v1.29/talos-linux"),
        "{readme}"
    );
    // Talos ran Sonobuoy: its log names Sonobuoy's pods, so that is the tool, not a
    // guess from the folder's layout.
    assert!(
        readme.contains("sonobuoy run --mode=certified-conformance"),
        "{readme}"
    );
    assert!(readme.contains("- tool: Sonobuoy"), "{readme}");
    assert!(readme.contains("kube-apiserver: v1.29.0"), "{readme}");
    // Without --setup the cluster step is an explicit TODO, and certify says so.
    assert!(
        readme.contains("### 1. Create a cluster\n\n<!-- TODO"),
        "{readme}"
    );
    let said = stdout(&out);
    assert!(said.contains("PASS: v1.29/talos-linux"), "{said}");
    assert!(
        said.contains("README still needs: how to create a cluster"),
        "{said}"
    );
    assert!(
        said.contains("title it \"Conformance results for v1.29/talos-linux\""),
        "{said}"
    );
    // No scratch directory is left beside it.
    assert_eq!(std::fs::read_dir(out_dir.join("v1.29")).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 1);

    // Again: refused without --force, replaced with it.
    let again = trellis(&args);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("exists already") && stderr(&again).contains("--force"));
    let setup = tmp.path().join("setup.md");
    std::fs::write(
        &setup,
        "Boot three QEMU VMs with `talosctl cluster create`.\n",
    )
    .unwrap();
    let mut forced = args.to_vec();
    forced.extend([
        "--force",
        "--setup",
        setup.to_str().unwrap(),
        "--tool",
        "hydrophone",
    ]);
    let out = trellis(&forced);
    assert!(out.status.success(), "{}", stderr(&out));
    let readme = std::fs::read_to_string(made.join("README.md")).unwrap();
    assert!(readme.contains("talosctl cluster create"), "{readme}");
    assert!(!readme.contains("TODO"), "{readme}");
    // --tool is what the vendor says: it wins over what the log suggests.
    assert!(readme.contains("hydrophone --conformance"), "{readme}");
}

#[test]
fn certify_from_a_sonobuoy_tarball_and_a_failing_run() {
    let tmp = tempfile::tempdir().unwrap();
    let osd = submission("v1.24", "openshift-dedicated");
    let tarball = tmp.path().join("sonobuoy_results.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&tarball).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    for f in ["junit_01.xml", "e2e.log"] {
        tar.append_path_with_name(osd.join(f), format!("plugins/e2e/results/global/{f}"))
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    let out_dir = tmp.path().join("out");
    let product = osd.join("PRODUCT.yaml");
    let osd_certify =
        |extra: &str| certify(&tarball, &product, &out_dir, &["--name", "osd", extra]);
    let out = osd_certify("--json");
    // v1.24 is unsupported against the default stable release: exit 5, and the
    // rejected submission is not written (nor any scratch of it).
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(failed_ids(&report), ["version.supported"]);
    assert!(!out_dir.join("v1.24/osd").exists());
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0);
    // As it was reviewed (v1.24 the newest release then) it passes, from the tarball.
    let out = osd_certify("--as-reviewed");
    // Its two failures are tests v1.24's list no longer requires: a warning, as the
    // bot judged it, and the folder is written.
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("WARN tests.no_failures"),
        "{}",
        stdout(&out)
    );
    let readme = std::fs::read_to_string(out_dir.join("v1.24/osd/README.md")).unwrap();
    assert!(
        readme.contains("sonobuoy run --mode=certified-conformance"),
        "{readme}"
    );

    // Results without an e2e.log are refused before anything is written.
    let partial = tmp.path().join("partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::copy(osd.join("junit_01.xml"), partial.join("junit_01.xml")).unwrap();
    let out = certify(&partial, &product, &tmp.path().join("out2"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no e2e.log"), "{}", stderr(&out));
    assert!(!tmp.path().join("out2").exists());
}

#[test]
fn force_never_removes_what_trellis_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let talos = submission("v1.29", "talos");
    let results = results_dir(tmp.path(), &talos);
    let out_dir = tmp.path().join("k8s-conformance");
    // Another vendor's submission sits beside ours.
    let other = out_dir.join("v1.29/other-vendor");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("README.md"), "theirs").unwrap();
    let run = |name: &str, product: &Path| {
        certify(
            &results,
            product,
            &out_dir,
            &["--stable", "v1.29", "--force", "--name", name],
        )
    };
    let product = talos.join("PRODUCT.yaml");
    // A name that is not one safe folder name is refused before anything is touched.
    for name in ["..", "../../x", "a/b", ".hidden", ""] {
        let out = run(name, &product);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a usable folder name"),
            "{name}: {}",
            stderr(&out)
        );
    }
    // A product name without ASCII letters or digits gives no folder name at all.
    let cjk = tmp.path().join("PRODUCT.yaml");
    let text = std::fs::read_to_string(&product).unwrap();
    std::fs::write(&cjk, with_field(&text, "name", "容器平台")).unwrap();
    let out = certify(&results, &cjk, &out_dir, &["--stable", "v1.29", "--force"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no ASCII letter or digit"),
        "{}",
        stderr(&out)
    );
    // --force onto a folder holding a file trellis does not write: refused.
    std::fs::write(other.join("notes.txt"), "theirs too").unwrap();
    let out = run("other-vendor", &product);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("which trellis does not write"),
        "{}",
        stderr(&out)
    );
    assert!(other.join("notes.txt").is_file());
    assert_eq!(
        std::fs::read_to_string(other.join("README.md")).unwrap(),
        "theirs"
    );
}

#[test]
fn only_regular_files_inside_the_folder_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let k3s = submission("v1.33", "k3s");
    let dir = copy_submission(tmp.path(), &k3s, "v1.33", "k3s");
    // README.md a link out of the folder, e2e.log an endless device: neither is read.
    std::fs::remove_file(dir.join("README.md")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.join("README.md")).unwrap();
    std::fs::remove_file(dir.join("e2e.log")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("e2e.log")).unwrap();
    let started = std::time::Instant::now();
    let (code, report) = verify_json(&dir, &["--as-reviewed"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(code, 5);
    // Nothing of the refused files is read: e2e.log's own checks have no log.
    assert_eq!(
        failed_ids(&report),
        ["files.regular", "e2e.version"],
        "{report:#}"
    );
    let said = details(check(&report, "files.regular"));
    assert!(
        said.iter().any(|d| d == "README.md is a symbolic link"),
        "{said:?}"
    );
    assert!(
        said.iter().any(|d| d == "e2e.log is a symbolic link"),
        "{said:?}"
    );
    // A FIFO in the folder itself: refused, not waited on forever.
    std::fs::remove_file(dir.join("e2e.log")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join("e2e.log"))
        .status()
        .unwrap();
    assert!(status.success());
    let (_, report) = verify_json(&dir, &["--as-reviewed"]);
    let said = details(check(&report, "files.regular"));
    assert!(
        said.iter().any(|d| d == "e2e.log is not a regular file"),
        "{said:?}"
    );
}

/// `trellis results DIR` on a run's build directory holding the real v1.25 kind
/// results: ready for a submission; one required test failed instead: not ready,
/// naming it; no JUnit at all: exit 4.
#[test]
fn results_say_whether_a_run_is_what_a_submission_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let build = tmp.path().join("out/conformance/1");
    std::fs::create_dir_all(build.join("artifacts")).unwrap();
    let junit = std::fs::read_to_string(
        shared_data().join("conformance/submissions/v1.25/kind/junit_01.xml"),
    )
    .unwrap();
    let target = build.join("artifacts/junit_conformance.xml");
    std::fs::write(&target, &junit).unwrap();
    std::fs::write(
        build.join("finished.json"),
        r#"{"timestamp": 1662237494, "passed": true, "metadata": {"job-version": "v1.25.0"}}"#,
    )
    .unwrap();
    let results = |dir: &Path| trellis(&["results", dir.to_str().unwrap()]);
    let o = results(&build);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("suite conformance: 362 passed, 0 failed")
            && out.contains("360 of 360 required tests passed")
            && out.contains("verdict: ready for a submission"),
        "{out}"
    );

    // One required test fails: named, as failed, and the run is not ready.
    let spec = "[sig-network] DNS should provide DNS for the cluster  [Conformance]";
    let at = junit
        .find(&format!("name=\"[It] {spec}\""))
        .expect("the spec is in the results");
    let close = at + junit[at..].find('>').unwrap();
    let mut failing = junit.clone();
    if junit[..close].ends_with('/') {
        failing.replace_range(
            close - 1..close + 1,
            "><failure message=\"timed out\"/></testcase>",
        );
    } else {
        failing.insert_str(close + 1, "<failure message=\"timed out\"/>");
    }
    std::fs::write(&target, failing).unwrap();
    let o = results(&build);
    assert_eq!(o.status.code(), Some(7), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("1 failed")
            && out.contains("FAILED [sig-network] DNS should provide DNS for the cluster")
            && out.contains("359 of 360 required tests passed")
            && out.contains("(failed)")
            && out.contains("verdict: not ready for a submission: tests failed"),
        "{out}"
    );

    let o = results(&tmp.path().join("out/conformance"));
    assert_eq!(o.status.code(), Some(7), "finds the JUnit two levels down");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = results(&empty);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("no JUnit file"), "{}", stderr(&o));
}
