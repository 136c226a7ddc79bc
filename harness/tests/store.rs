//! The store: re-ingesting is a no-op, concurrent writers lose nothing, and a write
//! that fails half-way leaves nothing behind.

mod common;

use common::{runs, shared_data, stderr, stdout, trellis, trellis_cmd};
use trellis::model::{Build, Cell, CellStatus};
use trellis::store::{InsertOutcome, Store};

fn build(job: &str, id: &str, cells: usize) -> Build {
    Build {
        job: job.into(),
        build: id.into(),
        started: Some(1_700_000_000),
        passed: Some(true),
        source: "test".into(),
        cells: (0..cells)
            .map(|i| Cell {
                test: format!("suite.test {i}"),
                status: if i == 0 {
                    CellStatus::Fail
                } else {
                    CellStatus::Pass
                },
                duration: Some(1.0),
                attempts: 1,
                message: (i == 0).then(|| "boom".to_string()),
            })
            .collect(),
        ..Build::default()
    }
}

#[test]
fn reingest_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let input = shared_data().join("conformance/submissions/v1.33/k3s");
    let first = trellis(&db, &["ingest", input.to_str().unwrap()]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = runs(&db);
    let bytes_before = std::fs::read(&db).unwrap().len();
    let second = trellis(&db, &["ingest", input.to_str().unwrap()]);
    assert!(second.status.success());
    assert!(
        stdout(&second).contains("0 builds stored (0 cells), 1 already stored"),
        "{}",
        stdout(&second)
    );
    assert_eq!(runs(&db), before);
    let mut store = Store::open(&db).unwrap();
    let detail = store.build_detail("k3s", "v1.33").unwrap().unwrap();
    // 419 conformance specs and 5 Ginkgo suite nodes; the 6,312 skipped specs are
    // counted, not stored.
    assert_eq!(detail.cells.len(), 424);
    // And through the library: the same build again is AlreadyStored.
    let mut again = build("k3s", "v1.33", 3);
    again.passed = Some(false);
    assert_eq!(
        store.insert_build(&again).unwrap(),
        InsertOutcome::AlreadyStored
    );
    assert_eq!(
        store
            .build_detail("k3s", "v1.33")
            .unwrap()
            .unwrap()
            .cells
            .len(),
        424
    );
    drop(store);
    assert!(std::fs::read(&db).unwrap().len() <= bytes_before + 4096);
}

#[test]
fn concurrent_ingest_processes_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let subs = shared_data().join("conformance/submissions");
    let dirs = [
        "v1.25/kind",
        "v1.26/k3s",
        "v1.27/eks",
        "v1.28/aks",
        "v1.29/talos",
        "v1.30/openshift",
    ];
    // Six writers at once, each also racing the others on one shared input.
    let children: Vec<_> = dirs
        .iter()
        .map(|d| {
            trellis_cmd(&db)
                .arg("ingest")
                .arg(subs.join(d))
                .arg(subs.join("v1.31/civo"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let stored = runs(&db);
    assert_eq!(stored.len(), 7, "{stored:?}");
    let civo: Vec<_> = stored.iter().filter(|r| r["job"] == "civo").collect();
    assert_eq!(civo.len(), 1);
    let store = Store::open(&db).unwrap();
    for r in &stored {
        let d = store
            .build_detail(r["job"].as_str().unwrap(), r["build"].as_str().unwrap())
            .unwrap()
            .unwrap();
        let c = &d.run.counts;
        // Skips are dropped, not cells; every other counted test is a stored cell,
        // and the cells that are not tests are the Overall row and suite nodes.
        let not_tests = d
            .cells
            .iter()
            .filter(|cell| cell.test == "Overall" || trellis::model::is_suite_node(&cell.test))
            .count();
        assert_eq!(
            (c.pass + c.fail + c.flaky + c.other) as usize + not_tests,
            d.cells.len()
        );
        assert!(c.pass > 300 && c.skip > 6000, "{c:?}");
    }
}

#[test]
fn a_write_that_fails_half_way_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let mut store = Store::open(&db).unwrap();
    store.insert_build(&build("ok-job", "1", 5)).unwrap();
    // Make the 8th cell insert fail, as a full disk or a crash would.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER fail_late BEFORE INSERT ON cells
         WHEN (SELECT count(*) FROM cells) >= 12
         BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
    )
    .unwrap();
    let err = store.insert_build(&build("new-job", "2", 50)).unwrap_err();
    assert!(err.to_string().contains("simulated failure"), "{err}");
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM builds"), 1);
    assert_eq!(count("SELECT count(*) FROM jobs"), 1);
    assert_eq!(count("SELECT count(*) FROM cells"), 5);
    assert_eq!(count("SELECT count(*) FROM tests"), 5);
    // The test-name cache must not remember names whose insert was rolled back.
    conn.execute_batch("DROP TRIGGER fail_late").unwrap();
    assert_eq!(
        store.insert_build(&build("new-job", "2", 50)).unwrap(),
        InsertOutcome::Inserted { cells: 50 }
    );
    assert_eq!(count("SELECT count(*) FROM cells"), 55);
}

/// A store of a newer schema is refused, and left exactly as it was: not even switched
/// to WAL (a newer trellis may have chosen another journal mode).
#[test]
fn newer_schema_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    drop(Store::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(conn);
    let before = std::fs::read(&db).unwrap();
    let out = trellis(&db, &["runs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("schema version 99 is newer") && stderr(&out).contains("not touched"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "the store changed");
    let beside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        beside,
        vec!["t.db".to_string()],
        "files made beside the store"
    );
}

/// Makes a path immutable (`chattr +i`: not even root may write it) until dropped.
struct Immutable(Vec<std::path::PathBuf>);

impl Immutable {
    fn set(paths: &[&std::path::Path]) -> Immutable {
        for p in paths {
            let o = std::process::Command::new("chattr")
                .arg("+i")
                .arg(p)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "chattr +i {}: {}",
                p.display(),
                stderr(&o)
            );
        }
        Immutable(paths.iter().map(|p| p.to_path_buf()).collect())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(p)
                .status();
        }
    }
}

/// A store that cannot be written (the file and its directory immutable) is still
/// read by every reading command; a write says the store is read-only, not that it
/// "may be damaged"; nothing changes.
#[test]
fn a_read_only_store_is_read_and_says_why_it_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    std::fs::create_dir(&dir).unwrap();
    let db = dir.join("t.db");
    let mut store = Store::open(&db).unwrap();
    store.insert_build(&build("job", "1", 5)).unwrap();
    drop(store);
    let before = std::fs::read(&db).unwrap();
    let _guard = Immutable::set(&[&db, &dir]);
    let out = trellis(&db, &["runs", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"job\""), "{}", stdout(&out));
    for args in [vec!["show", "job", "1"], vec!["status"], vec!["flakes"]] {
        let out = trellis(&db, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    let junit = tmp.path().join("junit.xml");
    std::fs::write(
        &junit,
        "<testsuite name=\"s\"><testcase name=\"t\"/></testsuite>",
    )
    .unwrap();
    let out = trellis(
        &db,
        &[
            "ingest",
            "--job",
            "other",
            "--build",
            "2",
            junit.to_str().unwrap(),
        ],
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("the store is read-only") && !err.contains("damaged"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "the store changed");
}

#[test]
fn default_location_follows_xdg_data_home() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args([
            "ingest",
            common::fixtures()
                .join("junit/pytest.xml")
                .to_str()
                .unwrap(),
        ])
        .env_remove("TRELLIS_DB")
        .env("XDG_DATA_HOME", tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tmp.path().join("trellis/trellis.db").is_file());
    // TRELLIS_DB wins over the default; a read-only command does not create it.
    let other = tmp.path().join("elsewhere.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["runs", "--json"])
        .env("TRELLIS_DB", &other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).lines().next().unwrap_or_default(),
        format!("error: no store at {}", other.display())
    );
    assert!(!other.exists());
}

#[test]
fn show_unknown_build_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    trellis::store::Store::open(&db).unwrap();
    let out = trellis(&db, &["show", "nope", "1"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stderr(&out),
        format!(
            "error: no build nope/1 in {}\n  hint: `trellis runs` lists what is stored\n",
            db.display()
        )
    );
}

/// `rows_of` (a few tests by the by-test index) reads exactly what the whole grid
/// holds for those tests: every status and retry count, in the same columns, and an
/// infra marker exactly where a failure's message is one word.
#[test]
fn rows_of_a_few_tests_match_the_whole_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path().join("s.db")).unwrap();
    common::rows_of_match_the_whole_grid(&mut store);
}

/// A store from before the packed grid layout (schema 3) is brought up to date on
/// first open — every build's cells packed in the migration's transaction — and
/// every grid-reading command answers as before.
#[test]
fn a_store_from_before_packed_cells_is_packed_on_first_open() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    common::simulate_and_ingest(&db, &tmp.path().join("sim"), 30, 60, &["--jobs", "2"]);
    let now = "1800000000";
    let answers = |db: &std::path::Path| -> Vec<String> {
        ["status", "flakes", "regressions", "triage"]
            .iter()
            .map(|cmd| {
                let o = trellis(db, &[cmd, "--json", "--at", now]);
                assert!(o.status.success(), "{}", stderr(&o));
                stdout(&o)
            })
            .collect()
    };
    let before = answers(&db);
    let builds = runs(&db).len() as i64;
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("DROP TABLE packed_cells; PRAGMA user_version = 3;")
            .unwrap();
    }
    assert_eq!(answers(&db), before);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    let packed: i64 = conn
        .query_row("SELECT count(*) FROM packed_cells", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, packed), (4, builds));
}
