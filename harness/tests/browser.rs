//! Opt-in browser check of the report (needs Debian's `chromium`):
//! `cargo test -p trellis --test browser -- --ignored`. Opens every kind of page
//! headless, fails on any console message or a grid that never draws, and saves
//! screenshots to target/report-screenshots/ to look at.

mod common;

use std::path::Path;
use std::time::Duration;
use trellis::report::browser;

fn first_html(dir: &Path) -> std::path::PathBuf {
    let mut pages: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    pages.sort();
    pages.remove(0)
}

#[test]
#[ignore = "needs chromium (apt-get install chromium)"]
fn pages_render_without_console_errors() {
    let chromium = browser::chromium().expect("chromium on PATH (apt-get install chromium)");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let site = tmp.path().join("site");
    common::simulate_and_ingest(&db, &tmp.path().join("ci"), 80, 300, &[]);
    common::write_report(&db, &site, &tmp.path().join("ci/dashboards"));

    let shots = common::repo_root().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let builds = site.join("builds");
    let job_dir = std::fs::read_dir(&builds)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let pages = [
        ("index", site.join("index.html")),
        ("dashboard", first_html(&site.join("dashboards"))),
        ("grid", first_html(&site.join("tabs"))),
        ("flakiness", site.join("flakiness.html")),
        ("triage", site.join("triage.html")),
        ("build", first_html(&job_dir)),
        ("jobs", site.join("jobs.html")),
        ("tests", site.join("tests.html")),
        ("test", first_html(&site.join("tests"))),
        ("components", site.join("components.html")),
    ];
    for (name, page) in &pages {
        let shot = shots.join(format!("{name}.png"));
        let r =
            browser::render(&chromium, page, Some(&shot), false, Duration::from_secs(60)).unwrap();
        assert!(r.console.is_empty(), "{name}: console says {:?}", r.console);
        assert!(shot.is_file(), "{name}: no screenshot");
        eprintln!(
            "{name}: rendered in {:.2} s, screenshot {}",
            r.wall.as_secs_f64(),
            shot.display()
        );
    }
    // The grid page draws its grid (grid.js marks the time it finished).
    let r = browser::render(&chromium, &pages[2].1, None, true, Duration::from_secs(60)).unwrap();
    assert!(r.console.is_empty(), "grid: console says {:?}", r.console);
    let drawn = r.drawn_ms().expect("grid.js drew the grid");
    eprintln!("grid drawn {drawn} ms after navigation");
    let shown = |dom: &str, id: &str| -> (usize, usize) {
        let at = dom.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
        let text = &dom[at..at + dom[at..].find('<').unwrap()];
        let n: Vec<usize> = text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        (n[0], n[1])
    };
    let all = shown(r.dom.as_deref().unwrap(), "row-count");
    // A failing cell carries its message (decoded from the grid's message table).
    assert!(
        r.dom.as_deref().unwrap().contains("title=\"FAIL: "),
        "no failing cell shows its message"
    );
    // The view in the URL is the view drawn: only failing rows, one test excluded.
    let view = "failing=1&exclude=00001&sort=failures";
    let shot = shots.join("grid-failing.png");
    let r = browser::render_view(
        &chromium,
        &pages[2].1,
        view,
        Some(&shot),
        true,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(
        r.console.is_empty(),
        "grid view: console says {:?}",
        r.console
    );
    let failing = shown(r.dom.as_deref().unwrap(), "row-count");
    assert!(
        failing.0 < all.0 && failing.1 == all.1,
        "{failing:?} of {all:?}"
    );
    // The flakiness table filtered by job from its URL.
    let r = browser::render_view(
        &chromium,
        &pages[3].1,
        "job=sim-job-01",
        None,
        true,
        Duration::from_secs(60),
    )
    .unwrap();
    let (rows, of) = shown(r.dom.as_deref().unwrap(), "table-count");
    assert!(rows > 0 && rows < of, "{rows} of {of}");
}
