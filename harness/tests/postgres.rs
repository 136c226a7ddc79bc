//! The PostgreSQL store against a real server: the same answers as SQLite, and the
//! same guarantees under many writers, killed writers, dropped connections and bad
//! input.
//!
//! The server comes from `TRELLIS_TEST_PG` (a URL whose user may create databases;
//! `.ci/pg-server start DIR` starts a throwaway one and prints it). Each test makes a
//! database of its own. Without the variable these tests say loudly that they were
//! skipped, and under `CI=true` they fail instead.

mod common;

use common::{shared_data, stderr, stdout, trellis, trellis_cmd};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use trellis::store::{Location, Store, StoreError};

/// The server's URL, or `None` (said on stderr) when no server was given.
fn server() -> Option<String> {
    match std::env::var("TRELLIS_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("TRELLIS_TEST_PG is not set: .ci/run must start a PostgreSQL server (.ci/pg-server)")
        }
        _ => {
            eprintln!(
                "SKIPPED: the PostgreSQL half of the store tests needs a server: \
                 eval \"$(.ci/pg-server start /tmp/trellis-pg)\" first"
            );
            None
        }
    }
}

/// A new, empty database on the server: its URL.
fn fresh_db(server: &str, tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "t_{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    admin(server)
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    server.replacen("/postgres?", &format!("/{name}?"), 1)
}

fn admin(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect to the test server")
}

fn db(url: &str) -> &Path {
    Path::new(url)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Every reading command's JSON, and every build in full, from one store: (what was
/// asked, the answer).
fn everything(at: &Path, now: &str) -> Vec<(String, serde_json::Value)> {
    let runs = json(&trellis(at, &["runs", "--json"]));
    let mut out = vec![("runs".to_string(), runs.clone())];
    for cmd in ["status", "flakes", "regressions", "triage"] {
        out.push((
            cmd.to_string(),
            json(&trellis(at, &[cmd, "--json", "--at", now])),
        ));
    }
    for r in runs.as_array().unwrap() {
        let (job, build) = (r["job"].as_str().unwrap(), r["build"].as_str().unwrap());
        out.push((
            format!("show {job} {build}"),
            json(&trellis(at, &["show", job, build, "--json", "--all"])),
        ));
    }
    out
}

/// Says which answer differs, and the first line where.
fn assert_same(got: &[(String, serde_json::Value)], want: &[(String, serde_json::Value)]) {
    assert_eq!(got.len(), want.len());
    for ((asked, g), (_, w)) in got.iter().zip(want) {
        if g != w {
            let (g, w) = (
                serde_json::to_string_pretty(g).unwrap(),
                serde_json::to_string_pretty(w).unwrap(),
            );
            let line = g
                .lines()
                .zip(w.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let around = |t: &str| {
                t.lines()
                    .skip(line.saturating_sub(3))
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "`{asked}` differs at line {line}:\ngot:\n{}\nwanted:\n{}",
                around(&g),
                around(&w)
            );
        }
    }
}

/// `trellis store migrate --from FROM --to TO --json`, which must succeed.
fn migrate(from: &str, to: &str) -> serde_json::Value {
    let scratch = std::env::temp_dir().join("trellis-unused.db");
    json(&trellis(
        &scratch,
        &["store", "migrate", "--from", from, "--to", to, "--json"],
    ))
}

/// Real conformance submissions and a simulated Prow history (flakes, breakages,
/// retries, outages, PR builds), ingested into `at`.
fn ingest_history(at: &Path, sim: &Path) {
    let subs = shared_data().join("conformance/submissions");
    let mut args = vec!["ingest".to_string()];
    for d in ["v1.33/k3s", "v1.30/openshift", "v1.29/talos"] {
        args.push(subs.join(d).display().to_string());
    }
    args.push(sim.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = trellis(at, &args);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn simulate_out(dir: &Path) {
    let o = trellis(
        &dir.join("unused.db"),
        &[
            "simulate",
            "--out",
            dir.to_str().unwrap(),
            "--jobs",
            "3",
            "--builds",
            "40",
            "--tests",
            "120",
            "--pr-builds",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The same history ingested into SQLite and into PostgreSQL reads back the same
/// through every command; copied either way with `store migrate` it is the same
/// again, and copying twice copies nothing.
#[test]
fn both_stores_give_the_same_answers_and_copy_exactly() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    simulate_out(&sim);
    let lite = tmp.path().join("a.db");
    let pg = fresh_db(&server, "same");
    ingest_history(&lite, &sim);
    ingest_history(db(&pg), &sim);
    // Re-ingesting into PostgreSQL changes nothing (builds still running when
    // simulated are provisional: re-read and replaced, as on SQLite).
    let again = trellis(db(&pg), &["ingest", sim.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("120 already stored"),
        "{}",
        stdout(&again)
    );
    let now = "1800000000";
    let expected = everything(&lite, now);
    assert!(expected.len() > 100, "{} builds", expected.len() - 5);
    assert_same(&everything(db(&pg), now), &expected);

    // A database from before the packed grid layout (schema 1) is packed on first
    // open and answers as before.
    let mut c = admin(&pg);
    c.batch_execute("DROP TABLE packed_cells; UPDATE trellis_schema SET version = 1")
        .unwrap();
    assert_same(&everything(db(&pg), now), &expected);
    let packed: i64 = c
        .query_one("SELECT count(*) FROM packed_cells", &[])
        .unwrap()
        .get(0);
    assert_eq!(packed as usize, expected.len() - 5);

    // SQLite → PostgreSQL → SQLite, exactly.
    let pg2 = fresh_db(&server, "copy");
    let copied = migrate(lite.to_str().unwrap(), &pg2);
    assert_eq!(copied["copied"], copied["total"]);
    assert_same(&everything(db(&pg2), now), &expected);
    let back = tmp.path().join("back.db");
    let copied = migrate(&pg2, back.to_str().unwrap());
    assert_eq!(copied["copied"], copied["total"]);
    assert_same(&everything(&back, now), &expected);
    // Again: nothing to copy.
    let again = migrate(&pg2, back.to_str().unwrap());
    assert_eq!(
        (again["copied"].as_u64(), again["already"].as_u64()),
        (Some(0), copied["total"].as_u64())
    );
    // Measurements and ingest times travel too (through the library, which sees them).
    let a = Store::open(&lite).unwrap();
    let b = Store::open(Location::parse(pg2.as_ref()).unwrap()).unwrap();
    for r in a.runs(None).unwrap() {
        let x = a.build_detail(&r.job, &r.build).unwrap().unwrap();
        let y = b.build_detail(&r.job, &r.build).unwrap().unwrap();
        assert_eq!(
            (x.ingested_at, x.skipped_dropped),
            (y.ingested_at, y.skipped_dropped)
        );
    }
}

/// An interrupted copy resumes: what the destination holds is skipped, the rest
/// copied.
#[test]
fn an_interrupted_copy_resumes() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let lite = tmp.path().join("a.db");
    let subs = shared_data().join("conformance/submissions");
    let o = trellis(
        &lite,
        &[
            "ingest",
            subs.join("v1.33/k3s").to_str().unwrap(),
            subs.join("v1.30/openshift").to_str().unwrap(),
            subs.join("v1.29/talos").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let pg = fresh_db(&server, "resume");
    // What a copy stopped after one build leaves: that build, and nothing of the others.
    let o = trellis(
        db(&pg),
        &["ingest", subs.join("v1.30/openshift").to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let done = migrate(lite.to_str().unwrap(), &pg);
    assert_eq!(
        (
            done["total"].as_u64(),
            done["copied"].as_u64(),
            done["already"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
}

/// `rows_of` (a few tests read by test) matches the whole grid on PostgreSQL as on
/// SQLite: statuses, retries, and the infra marker where a failure is one word.
#[test]
fn rows_of_a_few_tests_match_the_whole_grid() {
    let Some(server) = server() else { return };
    let pg = fresh_db(&server, "rows");
    let mut store = Store::open(Location::parse(pg.as_ref()).unwrap()).unwrap();
    common::rows_of_match_the_whole_grid(&mut store);
}

/// Eight ingest processes at once, each also racing the others on one shared input:
/// every build stored once, every cell there.
#[test]
fn eight_concurrent_ingest_processes_lose_nothing() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pg = fresh_db(&server, "eight");
    let lite = tmp.path().join("one-by-one.db");
    let subs = shared_data().join("conformance/submissions");
    let dirs = [
        "v1.25/kind",
        "v1.26/k3s",
        "v1.27/eks",
        "v1.28/aks",
        "v1.29/talos",
        "v1.30/openshift",
        "v1.33/k3s",
        "v1.32/k0s",
    ];
    for d in dirs.iter().chain(["v1.31/civo"].iter()) {
        assert!(subs.join(d).is_dir(), "{d} missing from the shared data");
    }
    let children: Vec<_> = dirs
        .iter()
        .map(|d| {
            trellis_cmd(db(&pg))
                .arg("ingest")
                .arg(subs.join(d))
                .arg(subs.join("v1.31/civo"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // The same inputs one at a time into SQLite: what every cell should be.
    for d in dirs.iter().chain(["v1.31/civo"].iter()) {
        let o = trellis(&lite, &["ingest", subs.join(d).to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let runs = json(&trellis(db(&pg), &["runs", "--json"]));
    assert_eq!(runs.as_array().unwrap().len(), 9, "{runs}");
    assert_eq!(runs, json(&trellis(&lite, &["runs", "--json"])));
    let mut cells = 0;
    for r in runs.as_array().unwrap() {
        let args = [
            "show",
            r["job"].as_str().unwrap(),
            r["build"].as_str().unwrap(),
            "--json",
            "--all",
        ];
        let got = json(&trellis(db(&pg), &args));
        assert_eq!(got, json(&trellis(&lite, &args)));
        cells += got["cells"].as_array().unwrap().len();
    }
    assert!(cells > 9 * 300, "{cells} cells");
    let mut c = admin(&pg);
    let stored: i64 = c
        .query_one("SELECT count(*) FROM cells", &[])
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, cells);
}

/// The database a test URL names (other tests share the server).
fn db_name(url: &str) -> String {
    let path = url.rsplit_once('/').unwrap().1;
    path.split('?').next().unwrap().to_string()
}

/// Waits (bounded) until a trellis connection to `url`'s database is inside a build's
/// cell insert.
fn wait_for_cell_insert(
    admin: &mut postgres::Client,
    url: &str,
    deadline: Duration,
) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        let row = admin
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'trellis'
                 AND datname = $1 AND (query LIKE 'INSERT INTO cells%' OR query LIKE 'COPY cells%')
                 LIMIT 1",
                &[&db_name(url)],
            )
            .unwrap();
        if let Some(row) = row {
            return Some(row.get(0));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Waits (bounded) until no trellis connection to `url`'s database is left.
fn wait_for_no_trellis(admin: &mut postgres::Client, url: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'trellis'
                 AND datname = $1",
                &[&db_name(url)],
            )
            .unwrap()
            .get(0);
        if n == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("trellis connections still open after 30 s");
}

/// Every stored build is whole: its cells agree with the counts stored beside them.
fn assert_no_half_builds(url: &str) -> usize {
    let store = Store::open(Location::parse(url.as_ref()).unwrap()).unwrap();
    let runs = store.runs(None).unwrap();
    for r in &runs {
        let d = store.build_detail(&r.job, &r.build).unwrap().unwrap();
        let counts = d.run.counts;
        assert_eq!(
            d.into_build().counts(),
            counts,
            "{}/{} is half stored",
            r.job,
            r.build
        );
    }
    runs.len()
}

fn big_simulation(url: &str, truth: &Path) -> std::process::Command {
    let mut cmd = trellis_cmd(db(url));
    cmd.args([
        "simulate", "--store", "--jobs", "1", "--builds", "3", "--tests", "60000",
    ])
    .arg("--truth")
    .arg(truth)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// A writer killed (SIGKILL) in the middle of a build's cells, and a writer whose
/// connection the server drops there: neither leaves half a build, the dropped one
/// says so, and running again stores everything.
#[test]
fn a_writer_killed_or_cut_off_mid_build_leaves_no_half_build() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let truth = tmp.path().join("truth.json");
    let mut watch = admin(&server);

    let pg = fresh_db(&server, "kill");
    let mut child = big_simulation(&pg, &truth).spawn().unwrap();
    let seen = wait_for_cell_insert(&mut watch, &pg, Duration::from_secs(60));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(seen.is_some(), "never saw a cell insert: {}", stderr(&out));
    assert!(!out.status.success());
    wait_for_no_trellis(&mut watch, &pg);
    let stored = assert_no_half_builds(&pg);
    assert!(stored < 3, "the kill came after the last build");
    let again = big_simulation(&pg, &truth).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(assert_no_half_builds(&pg), 3);

    let pg = fresh_db(&server, "cut");
    let child = big_simulation(&pg, &truth).spawn().unwrap();
    let pid =
        wait_for_cell_insert(&mut watch, &pg, Duration::from_secs(60)).expect("a cell insert");
    watch
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", stdout(&out));
    let says = stderr(&out);
    assert!(says.contains("run the command again"), "{says}");
    wait_for_no_trellis(&mut watch, &pg);
    assert!(assert_no_half_builds(&pg) < 3);
    let again = big_simulation(&pg, &truth).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(assert_no_half_builds(&pg), 3);
}

/// A reader polling while a writer stores build after build never sees half of one.
#[test]
fn a_reader_never_sees_half_a_build() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pg = fresh_db(&server, "reader");
    let mut writer = trellis_cmd(db(&pg))
        .args([
            "simulate", "--store", "--jobs", "1", "--builds", "40", "--tests", "4000",
        ])
        .arg("--truth")
        .arg(tmp.path().join("truth.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening races the writer's first open: one of them makes the schema.
    let store = Store::open(Location::parse(pg.as_ref()).unwrap()).unwrap();
    let start = Instant::now();
    let (mut looks, mut max_seen) = (0, 0);
    while start.elapsed() < Duration::from_secs(120) {
        let runs = store.runs(None).unwrap();
        for r in runs.iter().take(2) {
            let d = store.build_detail(&r.job, &r.build).unwrap().unwrap();
            let counts = d.run.counts;
            assert_eq!(
                d.into_build().counts(),
                counts,
                "{}/{} seen half stored",
                r.job,
                r.build
            );
            looks += 1;
        }
        max_seen = max_seen.max(runs.len());
        if writer.try_wait().unwrap().is_some() {
            break;
        }
    }
    let out = writer.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        looks > 10 && max_seen > 1,
        "{looks} looks, {max_seen} builds seen"
    );
    assert_eq!(store.runs(None).unwrap().len(), 40);
}

/// A newer schema and a database holding someone else's tables are refused, and
/// nothing in them changes.
#[test]
fn newer_schemas_and_foreign_databases_are_refused_untouched() {
    let Some(server) = server() else { return };
    let pg = fresh_db(&server, "newer");
    let subs = shared_data().join("conformance/submissions");
    let o = trellis(
        db(&pg),
        &["ingest", subs.join("v1.33/k3s").to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut c = admin(&pg);
    c.batch_execute("UPDATE trellis_schema SET version = 99")
        .unwrap();
    let o = trellis(db(&pg), &["runs"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let says = stderr(&o);
    assert!(
        says.contains("schema version 99 is newer") && says.contains("not touched"),
        "{says}"
    );
    let version: i64 = c
        .query_one("SELECT version FROM trellis_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 99);

    let other = fresh_db(&server, "foreign");
    let mut c = admin(&other);
    c.batch_execute("CREATE TABLE orders (id int); CREATE TABLE customers (id int)")
        .unwrap();
    let o = trellis(
        db(&other),
        &["ingest", subs.join("v1.33/k3s").to_str().unwrap()],
    );
    assert!(!o.status.success());
    let says = stderr(&o);
    assert!(
        says.contains("not a trellis store") && says.contains("customers, orders"),
        "{says}"
    );
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        tables, 2,
        "trellis created tables in someone else's database"
    );
}

/// Concurrent first opens of an empty database: one migrates, the others wait and
/// find the schema made.
#[test]
fn concurrent_first_opens_migrate_once() {
    let Some(server) = server() else { return };
    let pg = fresh_db(&server, "first");
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let url = pg.clone();
            std::thread::spawn(move || {
                Store::open(Location::parse(url.as_ref()).unwrap()).map(|_| ())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let version: i64 = admin(&pg)
        .query_one("SELECT version FROM trellis_schema", &[])
        .unwrap()
        .get(0);
    assert!(version >= 1);
}

/// An unreachable server, a server that never answers, a wrong password: each a clear
/// error naming where, within a bounded wait, and no password in any output. The
/// password also comes from PGPASSWORD and from a 0600 ~/.pgpass, as libpq reads them.
#[test]
fn bad_servers_and_credentials_say_so_without_the_password() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let password = server
        .split_once("://")
        .and_then(|(_, r)| r.split_once('@'))
        .and_then(|(info, _)| info.split_once(':'))
        .map(|(_, p)| p.to_string())
        .expect("the test server's URL has a password");
    let hostport = server
        .rsplit_once('@')
        .unwrap()
        .1
        .split_once('/')
        .unwrap()
        .0
        .to_string();

    // Nothing listens: refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://trellis:{password}@127.0.0.1:{port}/x?sslmode=disable");
    let o = trellis(db(&url), &["runs"]);
    let says = stderr(&o);
    assert!(!o.status.success());
    assert!(
        says.contains(&format!("cannot reach the server at 127.0.0.1:{port}")),
        "{says}"
    );
    assert!(!says.contains(&password), "{says}");

    // Something listens and never answers: given up after connect_timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("postgres://trellis@127.0.0.1:{port}/x?sslmode=disable&connect_timeout=2");
    let start = Instant::now();
    let o = trellis(db(&url), &["runs"]);
    let took = start.elapsed();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("127.0.0.1:{port}")),
        "{}",
        stderr(&o)
    );
    assert!(took < Duration::from_secs(20), "waited {took:?}");
    drop(silent);

    // A wrong password.
    let url = format!("postgres://trellis:not-{password}@{hostport}/postgres?sslmode=disable");
    let o = trellis(db(&url), &["runs"]);
    let says = stderr(&o);
    assert!(
        says.contains("refused the login") && says.contains("PGPASSWORD"),
        "{says}"
    );
    assert!(!says.contains(&password), "{says}");

    // The right one from PGPASSWORD, then from a password file.
    let pg = fresh_db(&server, "creds");
    let bare = pg.replacen(&format!(":{password}@"), "@", 1);
    let o = trellis_cmd(db(&bare))
        .env("PGPASSWORD", &password)
        .env("PGPASSFILE", tmp.path().join("none"))
        .args(["runs"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains(&password) && !stderr(&o).contains(&password));
    let pgpass = tmp.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!("# test\n{hostport}:*:trellis:{password}\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = trellis_cmd(db(&bare))
        .env_remove("PGPASSWORD")
        .env("PGPASSFILE", &pgpass)
        .args(["runs"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // A bad URL never echoes the password either.
    let o = trellis(
        db(&format!("postgres://trellis:{password}@h:99999/x")),
        &["runs"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        !stderr(&o).contains(&password) && stderr(&o).contains("port"),
        "{}",
        stderr(&o)
    );
    // The library reports which failure it was.
    match Store::open(Location::parse(url.as_ref()).unwrap()) {
        Err(StoreError::Login { .. }) => {}
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a wrong password was accepted"),
    }
}

/// TLS: the server's certificate is checked against `sslrootcert`; without it (the
/// system's roots do not know the test CA) the connection is refused and the error
/// says how to fix it; a missing CA file is named.
#[test]
fn tls_is_verified_against_sslrootcert() {
    let Some(server) = server() else { return };
    let Ok(ca) = std::env::var("TRELLIS_TEST_PG_CA") else {
        eprintln!("SKIPPED: TRELLIS_TEST_PG_CA is not set (the server has no TLS)");
        return;
    };
    let fresh = fresh_db(&server, "tls");
    let base = fresh.split_once('?').unwrap().0;
    let o = trellis(
        db(&format!("{base}?sslmode=verify-full&sslrootcert={ca}")),
        &["runs"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = trellis(db(&format!("{base}?sslmode=require")), &["runs"]);
    assert!(!o.status.success());
    let says = stderr(&o);
    assert!(
        says.contains("TLS") && says.contains("sslrootcert=FILE"),
        "{says}"
    );
    let o = trellis(
        db(&format!(
            "{base}?sslmode=require&sslrootcert=/nonexistent/ca.pem"
        )),
        &["runs"],
    );
    assert!(stderr(&o).contains("/nonexistent/ca.pem"), "{}", stderr(&o));
}
