//! The bad-input catalogue: each input gets an error naming it and saying what is
//! wrong, a non-zero exit, nothing of it in the store, and the good inputs of the same
//! call are still stored.

mod common;

use common::{fixtures, runs, stderr, stdout};
use std::path::{Path, PathBuf};

struct Case {
    _dir: tempfile::TempDir,
    db: PathBuf,
    good: PathBuf,
}

fn case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    Case {
        db: dir.path().join("t.db"),
        good: fixtures().join("junit/ginkgo-v1.xml"),
        _dir: dir,
    }
}

/// Peak memory any rejected input may cost the ingest (an empty one costs about 12 MiB).
const REJECTED_RSS_LIMIT_KB: i64 = 64 * 1024;

/// Ingests the good fixture and `bad` in one call; checks the error, the memory the
/// ingest took, and the store.
fn expect_rejected(c: &Case, bad: &str, needles: &[&str]) {
    let mut cmd = common::trellis_cmd(&c.db);
    cmd.args(["ingest", c.good.to_str().unwrap(), bad]);
    let (out, peak_kb) = common::output_with_peak_rss(cmd);
    assert!(
        peak_kb < REJECTED_RSS_LIMIT_KB,
        "{bad}: peak RSS {peak_kb} KiB"
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "exit code; stderr: {err}");
    assert!(err.contains(bad), "error names the input {bad}: {err}");
    assert!(err.contains("hint:"), "error gives a hint: {err}");
    for n in needles {
        assert!(err.contains(n), "error says {n:?}: {err}");
    }
    let summary = stdout(&out);
    assert!(
        summary.contains("1 builds stored") && summary.contains("1 failed"),
        "{summary}"
    );
    assert!(
        summary.contains("not ingested (reasons above):"),
        "{summary}"
    );
    // The reason is said once, on stderr, not again in the summary.
    assert_eq!(err.matches("hint:").count(), 1, "{err}");
    let stored = runs(&c.db);
    assert_eq!(stored.len(), 1, "only the good input is stored: {stored:?}");
    assert_eq!(stored[0]["job"], "ginkgo-v1");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn malformed_xml() {
    let c = case();
    let bad = write(
        c._dir.path(),
        "junit_bad.xml",
        b"<testsuite name=\"x\"><testcase name=\"a\"></testsuite>",
    );
    expect_rejected(&c, s(&bad), &["malformed XML"]);
}

#[test]
fn truncated_real_file() {
    let c = case();
    let real = std::fs::read(
        common::shared_data().join("conformance/submissions/v1.29/talos/junit_01.xml"),
    )
    .unwrap();
    let bad = write(c._dir.path(), "junit_cut.xml", &real[..real.len() / 2]);
    expect_rejected(&c, s(&bad), &["truncated"]);
}

#[test]
fn non_utf8_bytes() {
    let c = case();
    let mut bytes = b"<testsuite name=\"x\"><testcase name=\"caf".to_vec();
    bytes.extend_from_slice(&[0xe9]); // latin-1 e-acute
    bytes.extend_from_slice(b"\"/></testsuite>");
    let bad = write(c._dir.path(), "junit_latin1.xml", &bytes);
    expect_rejected(&c, s(&bad), &["not valid UTF-8", "offset 39"]);
}

#[test]
fn billion_laughs_is_refused_not_expanded() {
    let c = case();
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    doc.push_str(" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for i in 2..10 {
        let prev = format!("&lol{};", i - 1).repeat(10);
        doc.push_str(&format!(" <!ENTITY lol{i} \"{prev}\">\n"));
    }
    doc.push_str("]>\n<testsuite name=\"lolz\"><testcase name=\"&lol9;\"/></testsuite>\n");
    let bad = write(c._dir.path(), "junit_lolz.xml", doc.as_bytes());
    expect_rejected(&c, s(&bad), &["DOCTYPE declares entities"]);
}

#[test]
fn not_junit_and_empty() {
    let c = case();
    let html = write(c._dir.path(), "junit_page.xml", b"<html><body/></html>");
    expect_rejected(&c, s(&html), &["root element <html>"]);
    let c = case();
    let empty = write(c._dir.path(), "junit_empty.xml", b"");
    expect_rejected(&c, s(&empty), &["the file is empty"]);
    // A file of NUL bytes is not "empty": it says how much it holds and what it is not.
    let c = case();
    let nul = write(c._dir.path(), "junit_nul.xml", &[0u8; 4096]);
    expect_rejected(
        &c,
        s(&nul),
        &["no XML element in 4096 bytes", "not a JUnit report"],
    );
}

/// A started.json that is a FIFO is named as one (it used to read "no started.json"),
/// and nothing waits on the pipe.
#[test]
fn a_fifo_started_json_is_named_for_what_it_is() {
    let c = case();
    let d = c._dir.path().join("logs/job/1");
    write(
        &d,
        "finished.json",
        br#"{"timestamp": 1700000100, "passed": true}"#,
    );
    let fifo = d.join("started.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    expect_rejected(
        &c,
        s(&d),
        &["started.json is a FIFO (named pipe), not a file"],
    );
}

#[test]
fn prow_build_with_missing_or_garbled_metadata() {
    let c = case();
    let d = c._dir.path().join("logs/job/1");
    write(
        &d,
        "finished.json",
        br#"{"timestamp": 1717003600, "passed": true}"#,
    );
    expect_rejected(&c, s(&d), &["no started.json"]);

    let c = case();
    let d = c._dir.path().join("logs/job/2");
    write(&d, "started.json", b"{\"timestamp\": 17170");
    expect_rejected(&c, s(&d), &["started.json", "not valid JSON"]);

    let c = case();
    let d = c._dir.path().join("logs/job/3");
    write(&d, "started.json", br#"{"timestamp": "yesterday"}"#);
    expect_rejected(&c, s(&d), &["`timestamp` must be Unix seconds"]);

    let c = case();
    let d = c._dir.path().join("logs/job/4");
    write(&d, "started.json", br#"{"timestamp": 1717000000}"#);
    write(
        &d,
        "finished.json",
        br#"{"timestamp": 1717003600, "passed": "yes"}"#,
    );
    expect_rejected(
        &c,
        s(&d),
        &["finished.json", "`passed` must be true or false"],
    );

    let c = case();
    let d = c._dir.path().join("logs/job/5");
    write(&d, "started.json", b"[1, 2]");
    expect_rejected(&c, s(&d), &["expected a JSON object, found an array"]);
}

#[test]
fn unreadable_inputs() {
    let c = case();
    let missing = c._dir.path().join("no-such-junit.xml");
    expect_rejected(&c, s(&missing), &["cannot read"]);

    let c = case();
    let link = c._dir.path().join("junit_dangling.xml");
    std::os::unix::fs::symlink("/nonexistent/target.xml", &link).unwrap();
    expect_rejected(&c, s(&link), &["cannot read"]);

    // Permission bits stop everyone but root; check them when they apply.
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        let c = case();
        let locked = write(c._dir.path(), "junit_locked.xml", b"<testsuite/>");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        expect_rejected(&c, s(&locked), &["cannot read", "Permission denied"]);
    }
}

/// A tar whose entry name is written raw, so it can hold `../` (tar::Builder refuses).
fn hostile_tarball(to: &Path, entry: &str) {
    let body = b"<testsuite name=\"evil\"><testcase name=\"x\"/></testsuite>";
    let mut header = tar::Header::new_old();
    let name = &mut header.as_old_mut().name;
    name[..entry.len()].copy_from_slice(entry.as_bytes());
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut bytes = header.as_bytes().to_vec();
    bytes.extend_from_slice(body);
    bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    bytes.extend_from_slice(&[0u8; 1024]);
    std::fs::write(to, bytes).unwrap();
}

#[test]
fn tarball_with_parent_paths_is_refused() {
    let c = case();
    let tarball = c._dir.path().join("results.tar");
    hostile_tarball(&tarball, "../../escaped/junit_01.xml");
    expect_rejected(
        &c,
        s(&tarball),
        &[
            "would be written outside the extraction directory",
            "../../escaped",
        ],
    );
    assert!(!c._dir.path().join("escaped").exists());
    assert!(!std::env::temp_dir().join("escaped").exists());

    let c = case();
    let tarball = c._dir.path().join("abs.tar");
    hostile_tarball(&tarball, "/tmp/trellis-abs-escape.xml");
    expect_rejected(&c, s(&tarball), &["outside the extraction directory"]);
    assert!(!Path::new("/tmp/trellis-abs-escape.xml").exists());
}

#[test]
fn garbage_tarball() {
    let c = case();
    let bad = write(
        c._dir.path(),
        "results.tar.gz",
        b"\x1f\x8bthis is not gzip at all",
    );
    expect_rejected(&c, s(&bad), &["not a readable tar archive"]);
}

#[test]
fn directory_without_results() {
    let c = case();
    let empty = c._dir.path().join("nothing-here");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    // A PRODUCT.yaml alone (as in a submissions index) is not a run.
    std::fs::write(empty.join("sub/PRODUCT.yaml"), "vendor: x\n").unwrap();
    expect_rejected(&c, s(&empty), &["no results found"]);
}

/// The scratch directories (`trellis-extract-…`) under `tmp`.
fn scratch_dirs(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("trellis-extract-"))
        })
        .collect()
}

/// #11 item 14: an ingest stopped by SIGTERM while extracting a large archive removes
/// its scratch directory and exits 143; one killed outright leaves it, and the next
/// ingest removes it.
#[test]
fn a_stopped_ingest_leaves_no_scratch_behind() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // 512 MiB of zeros: a small file that takes a while to extract.
    let archive = dir.path().join("results.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&archive).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        let size = 512u64 << 20;
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(
            &mut header,
            "plugins/e2e/results/global/big.log",
            std::io::repeat(0).take(size),
        )
        .unwrap();
        tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    let db = dir.path().join("t.db");
    let mut child = common::trellis_cmd(&db)
        .env("TMPDIR", &tmp)
        .args(["ingest", archive.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Bounded wait for the extraction to begin.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while scratch_dirs(&tmp).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(scratch_dirs(&tmp).len(), 1, "the extraction started");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(scratch_dirs(&tmp).is_empty(), "{:?}", scratch_dirs(&tmp));

    // A scratch directory of a process that no longer exists (pid 0 never does).
    let orphan = tmp.join("trellis-extract-0-leftover");
    std::fs::create_dir_all(orphan.join("plugins")).unwrap();
    let o = common::trellis_cmd(&db)
        .env("TMPDIR", &tmp)
        .args([
            "ingest",
            fixtures().join("junit/ginkgo-v1.xml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!orphan.exists(), "the killed ingest's scratch was swept");
}

/// `--probe-only` and `--duration` come together, the duration must be one, and the
/// upgrade suite pointed at a cluster it cannot upgrade says how to measure one.
#[test]
fn probe_only_options_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    for (args, says) in [
        (vec!["run", "upgrade", "--probe-only"], "--duration"),
        (vec!["run", "upgrade", "--duration", "10s"], "--probe-only"),
        (
            vec!["run", "upgrade", "--probe-only", "--duration", "soon"],
            "give a duration from 1s to 24h",
        ),
    ] {
        let o = common::trellis(&db, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    let kubeconfig = write(dir.path(), "kubeconfig", b"apiVersion: v1\nkind: Config\n");
    let o = common::trellis(
        &db,
        &[
            "run",
            "upgrade",
            "--upgrade-to",
            "v1.37.2",
            "--kubeconfig",
            s(&kubeconfig),
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("add --probe-only --duration D"),
        "{}",
        stderr(&o)
    );
}
