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
}
