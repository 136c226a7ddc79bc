//! The report: hostile names and messages never become live markup or script; the
//! site renders for simulated history and for the real conformance data; the API files
//! have TestGrid's summary shape; the Markdown stays short.

mod common;

use common::{shared_data, stderr, trellis};
use serde_json::Value;
use std::path::{Path, PathBuf};

const HOSTILE: [&str; 10] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(2)>",
    "</script><script>alert(3)</script>",
    "<!-- comment --> & \u{2028}",
    "javascript:alert(4)",
    "'; alert(5); '",
    "cc @kubernetes/sig-release and @someone",
    "[click](https://evil.example/x) ![pixel](https://evil.example/p.png) `tick`",
    "\u{1b}[32mPASS\u{1b}[0m",
    "abc\u{202e}fed",
];

fn hostile_build(root: &Path) -> PathBuf {
    let dir = root.join("logs/evil-job/1001");
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(
        dir.join("started.json"),
        r#"{"timestamp": 1717000000, "repos": {"k/k": "master:<img src=x onerror=alert(6)>"}}"#,
    )
    .unwrap();
    let meta = serde_json::json!({
        "timestamp": 1717003600, "passed": false, "result": "FAILURE",
        "metadata": {"repo-commit": "<script>alert(7)</script>", "link": "javascript:alert(8)"}
    });
    std::fs::write(dir.join("finished.json"), meta.to_string()).unwrap();
    let mut xml = String::from("<testsuites><testsuite name=\"&lt;svg onload=alert(9)&gt;\">");
    for (i, h) in HOSTILE.iter().enumerate() {
        let e = h
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        xml.push_str(&format!(
            "<testcase name=\"t{i} {e}\"><failure message=\"{e}\">{e}</failure></testcase>"
        ));
    }
    xml.push_str("</testsuite></testsuites>");
    std::fs::write(dir.join("artifacts/junit_01.xml"), xml).unwrap();
    // Performance figures whose labels and unit are hostile: the perf page and its
    // plots show them as text.
    let items: Vec<Value> = HOSTILE
        .iter()
        .map(|h| {
            serde_json::json!({"data": {"Perc50": 1, "Perc90": 2, "Perc99": 3}, "unit": h,
                               "labels": {"Metric": h, "Verb": h}})
        })
        .collect();
    // An upgrade monitor record with hostile backend names, errors and steps: the
    // build page's disruption timeline shows them as text.
    let record = serde_json::json!({
        "duration": 30.0,
        "steps": [{"at": 5.0, "step": {"component": HOSTILE[2]}}],
        "backends": HOSTILE.iter().map(|h| serde_json::json!({
            "backend": h, "summary": {"intervals": [{"from": 3.0, "to": 4.5, "error": h}]}
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("artifacts/upgrade-monitor.json"),
        record.to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("artifacts/PodStartupLatency_PodStartupLatency_load_2024-05-29T17:00:00Z.json"),
        serde_json::json!({"version": "v1", "dataItems": items}).to_string(),
    )
    .unwrap();
    root.to_path_buf()
}

/// Every tag in the page is one trellis writes, with no event-handler attribute and no
/// script URL: whatever the results said stayed text.
fn check_tags(file: &Path, html: &str) {
    const ALLOWED: [&str; 33] = [
        "html", "head", "meta", "title", "link", "body", "header", "main", "footer", "a", "h1",
        "h2", "h3", "div", "span", "table", "tr", "td", "th", "ul", "li", "p", "strong", "code",
        "label", "input", "select", "option", "script", "svg", "text", "section", "mark",
    ];
    const SVG: [&str; 6] = ["rect", "line", "polyline", "path", "circle", "g"];
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        let tag_text = &rest[at + 1..];
        let end = tag_text.find('>').unwrap_or(tag_text.len());
        let tag = &tag_text[..end];
        rest = &tag_text[end..];
        if tag.starts_with("!DOCTYPE") {
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let name = name.to_ascii_lowercase();
        assert!(
            ALLOWED.contains(&name.as_str()) || SVG.contains(&name.as_str()),
            "{}: unexpected tag <{tag}>",
            file.display()
        );
        for (attr, value) in attributes(&tag[name.len().min(tag.len())..]) {
            assert!(
                !attr.starts_with("on"),
                "{}: event handler {attr} in <{tag}>",
                file.display()
            );
            if matches!(attr.as_str(), "href" | "src" | "action" | "formaction") {
                assert!(
                    !value.trim().to_ascii_lowercase().starts_with("javascript:"),
                    "{}: script URL in <{tag}>",
                    file.display()
                );
            }
        }
    }
}

/// A tag's attributes as a browser reads them: names lowercased, values quoted with
/// `"` or `'` (which may hold spaces and `on…=` text, harmlessly) or unquoted.
fn attributes(text: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' && chars[i] != '/' {
            i += 1;
        }
        let name: String = chars[start..i]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            match chars.get(i) {
                Some(&q) if q == '"' || q == '\'' => {
                    i += 1;
                    while i < chars.len() && chars[i] != q {
                        value.push(chars[i]);
                        i += 1;
                    }
                    i += 1;
                }
                _ => {
                    while i < chars.len() && !chars[i].is_whitespace() {
                        value.push(chars[i]);
                        i += 1;
                    }
                }
            }
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn hostile_text_never_becomes_live() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let input = hostile_build(&tmp.path().join("ci"));
    let job = "<b onmouseover=alert(10)>job</b>";
    let o = trellis(&db, &["ingest", "--job", job, input.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let site = tmp.path().join("site");
    // Decided a day after the build, so it is in the window the pass-rate, test and
    // component pages compare: they show the hostile names too.
    let o = trellis(
        &db,
        &[
            "report",
            "--out",
            site.to_str().unwrap(),
            "--markdown",
            "--at",
            "1717090000",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let markdown = String::from_utf8(o.stdout).unwrap();
    assert!(
        !markdown.contains('<'),
        "markdown has raw markup: {markdown}"
    );
    // Meant for PR comments: no mention pings, no links or images, no escapes.
    for live in ["@kubernetes", "@someone", "https://", "\u{1b}", "\u{202e}"] {
        assert!(
            !markdown.contains(live),
            "markdown has live {live:?}: {markdown}"
        );
    }
    // The terminal gets the same names shown, not obeyed: no escape sequence, no
    // bidi override, no newline that forges a line of trellis's own.
    let shown = [
        trellis(&db, &["show", job, "1001", "--all"]),
        trellis(&db, &["status", "--details"]),
        trellis(&db, &["flakes", "--all"]),
        trellis(&db, &["triage"]),
        trellis(&db, &["runs"]),
    ];
    for (i, o) in shown.iter().enumerate() {
        let text = common::stdout(o);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}'),
            "{text}"
        );
        // `runs` names no tests.
        if i < 4 {
            assert!(
                text.contains("\\u{1b}[32mPASS"),
                "the name is shown escaped: {text}"
            );
        }
    }
    // Link and image brackets and backticks only ever escaped.
    let chars: Vec<char> = markdown.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if matches!(c, '[' | ']' | '`') {
            assert!(i > 0 && chars[i - 1] == '\\', "unescaped {c} in {markdown}");
        }
    }

    let mut all = Vec::new();
    files(&site, &mut all);
    let mut grid_payloads = 0;
    for f in all
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "html"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        check_tags(f, &text);
        // Only our own two script elements, ever.
        assert!(text.matches("<script").count() <= 2, "{}", f.display());
        if let Some(start) = text.find("<script type=\"application/json\" id=\"grid-data\">") {
            let rest = &text[start + "<script type=\"application/json\" id=\"grid-data\">".len()..];
            let json = &rest[..rest.find("</script>").unwrap()];
            let data: Value = serde_json::from_str(json).unwrap();
            // Escaped for the context, not mangled: the data still says what CI said.
            // Rows are [name, cells, fails, flake, flags, messages]; flag 4: the
            // name lost the grid's prefix.
            let prefix = data["prefix"].as_str().unwrap();
            let names: Vec<String> = data["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let name = r[0].as_str().unwrap();
                    if r[4].as_u64().unwrap() & 4 != 0 {
                        format!("{prefix}{name}")
                    } else {
                        name.to_string()
                    }
                })
                .collect();
            for h in HOSTILE {
                assert!(
                    names.iter().any(|n| n.contains(h)),
                    "{h} lost from {names:?}"
                );
            }
            grid_payloads += 1;
        }
    }
    assert_eq!(grid_payloads, 1);
    // The build page shows the hostile texts as text.
    let build_pages: Vec<_> = all
        .iter()
        .filter(|f| f.to_string_lossy().contains("/builds/"))
        .collect();
    let page = std::fs::read_to_string(build_pages[0]).unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(7)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("javascript:alert(8)") && !page.contains("href=\"javascript"));
    // Every hostile test has its own test page, its name shown as text.
    let test_pages = all
        .iter()
        .filter(|f| f.to_string_lossy().contains("/tests/"))
        .count();
    assert_eq!(test_pages, HOSTILE.len());
    let tests = std::fs::read_to_string(site.join("tests.html")).unwrap();
    assert!(tests.contains("&lt;script&gt;"), "{tests}");
    let jobs = std::fs::read_to_string(site.join("jobs.html")).unwrap();
    assert!(
        jobs.contains("&lt;b onmouseover=alert(10)&gt;job&lt;/b&gt;"),
        "{jobs}"
    );
}

#[test]
fn site_for_simulated_history_and_real_conformance_data() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    let site = tmp.path().join("site");
    common::simulate_and_ingest(&db, &tmp.path().join("ci"), 40, 60, &[]);
    common::write_report(&db, &site, &tmp.path().join("ci/dashboards"));
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(
        index.contains("Release") && index.contains("trellis-sim-blocking"),
        "{index}"
    );
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(site.join("api/v1/dashboards/trellis-sim-blocking/summary"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["dashboard_summary"]["name"], "trellis-sim-blocking");
    let tabs: Value = serde_json::from_str(
        &std::fs::read_to_string(site.join("api/v1/dashboards/trellis-sim-blocking/tab-summaries"))
            .unwrap(),
    )
    .unwrap();
    let first = &tabs["tab_summaries"][0];
    for key in [
        "dashboard_name",
        "tab_name",
        "overall_status",
        "detailed_status_message",
        "last_run_timestamp",
        "latest_passing_build",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert!(first["detailed_status_message"]
        .as_str()
        .unwrap()
        .starts_with("Tab stats: "));
    let dashboard_pages: Vec<_> = std::fs::read_dir(site.join("dashboards"))
        .unwrap()
        .collect();
    let page = std::fs::read_to_string(dashboard_pages[0].as_ref().unwrap().path()).unwrap();
    assert_eq!(page.matches("<svg").count(), 4, "four plots");
    for label in [
        "passed builds per day (%)",
        "minutes",
        "failed test results per day",
        "month-day)",
    ] {
        assert!(page.contains(label), "axis label {label}");
    }

    // The real conformance submissions, with no dashboards config.
    let db2 = tmp.path().join("real.db");
    let o = trellis(
        &db2,
        &[
            "ingest",
            shared_data()
                .join("conformance/submissions")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let site2 = tmp.path().join("site2");
    let o = trellis(
        &db2,
        &[
            "report",
            "--out",
            site2.to_str().unwrap(),
            "--dashboards",
            tmp.path().join("none").to_str().unwrap(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "a missing explicit --dashboards is an error"
    );
    let empty = tmp.path().join("empty-dashboards");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(
        empty.join("default.yaml"),
        "default_test_group:\n  num_columns_recent: 10\n",
    )
    .unwrap();
    common::write_report(&db2, &site2, &empty);
    let index = std::fs::read_to_string(site2.join("index.html")).unwrap();
    assert!(index.contains("unconfigured-jobs"), "{index}");
    let osd_build = std::fs::read_dir(site2.join("builds")).unwrap().count();
    assert_eq!(osd_build, 10, "one build folder per product job");
}

/// A failing test's "file a bug" fills Kubernetes's `file_bug_template` (the default
/// tab's in `default.yaml`) with the test's name and, with `--site-url`, an absolute
/// link to its grid row.
#[test]
fn file_a_bug_links_use_the_template_and_the_site_url() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    // Long enough for a test broken in the simulated history to be alerting.
    common::simulate_and_ingest(&db, &tmp.path().join("ci"), 200, 80, &[]);
    let site = tmp.path().join("site");
    let dashboards = tmp.path().join("ci/dashboards");
    let o = trellis(
        &db,
        &[
            "report",
            "--out",
            site.to_str().unwrap(),
            "--dashboards",
            dashboards.to_str().unwrap(),
            "--site-url",
            "https://ci.example.org/trellis/",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let pages: Vec<String> = std::fs::read_dir(site.join("dashboards"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let page = pages
        .iter()
        .find(|p| p.contains("file a bug"))
        .expect("a dashboard with a failing test");
    assert!(
        page.contains("https://github.com/kubernetes/kubernetes/issues/new?title=E2E%3A+")
            && page.contains("body=https%3A%2F%2Fci.example.org%2Ftrellis%2Ftabs%2F"),
        "{page}"
    );
    let o = trellis(
        &db,
        &[
            "report",
            "--out",
            site.to_str().unwrap(),
            "--site-url",
            "javascript:alert(1)",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("give the http(s) URL"),
        "{}",
        stderr(&o)
    );
}

/// Component readiness groups by a configured mapping before the `[sig-…]` of names;
/// a mapping that is not one is refused naming the file and the entry.
#[test]
fn components_come_from_a_mapping_or_the_sig_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    common::simulate_and_ingest(&db, &tmp.path().join("ci"), 30, 40, &[]);
    let mapping = tmp.path().join("components.yaml");
    std::fs::write(
        &mapping,
        "components:\n  - name: Machinery and apps\n    match: 'sig-api-machinery|sig-apps'\n",
    )
    .unwrap();
    let site = tmp.path().join("site");
    let args = |file: &Path| {
        vec![
            "report".to_string(),
            "--out".into(),
            site.display().to_string(),
            "--days".into(),
            "60".into(),
            "--components".into(),
            file.display().to_string(),
        ]
    };
    let o = trellis(
        &db,
        &args(&mapping)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(site.join("components.html")).unwrap();
    assert!(page.contains(">Machinery and apps</a>"), "{page}");
    assert!(
        !page.contains(">sig-apps</a>") && page.contains(">sig-node</a>"),
        "{page}"
    );
    let tests = std::fs::read_to_string(site.join("tests.html")).unwrap();
    assert!(tests.contains("<td>Machinery and apps</td>"), "{tests}");
    std::fs::write(&mapping, "components:\n  - name: Broken\n    match: '(('\n").unwrap();
    let o = trellis(
        &db,
        &args(&mapping)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("components.yaml") && stderr(&o).contains("entry 1 (Broken): match:"),
        "{}",
        stderr(&o)
    );
}

/// The triage page links each cluster's failing builds to their build pages, anchors
/// each cluster by its id, marks the varying text and offers a prefilled bug.
#[test]
fn the_triage_page_links_clusters_to_their_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    common::simulate_and_ingest(&db, &tmp.path().join("sim"), 30, 40, &[]);
    let site = tmp.path().join("site");
    let o = trellis(&db, &["report", "--out", site.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(site.join("triage.html")).unwrap();
    let o = trellis(&db, &["triage", "--json"]);
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = &json["clusters"][0];
    let id = first["id"].as_str().unwrap();
    assert!(
        page.contains(&format!("id=\"c{id}\"")),
        "cluster {id} anchored"
    );
    assert!(
        page.contains("https://github.com/kubernetes/kubernetes/issues/new?title=Failure+cluster")
    );
    let mut links = 0;
    for part in page.split("href=\"").skip(1) {
        let href = &part[..part.find('"').unwrap()];
        if href.starts_with("builds/") {
            assert!(site.join(href).is_file(), "{href} is a page of the site");
            links += 1;
        }
    }
    assert!(links > 0, "no build links on the triage page");
}

/// #11 item 15: a symbolic link already in --out is replaced, never written through;
/// a symlinked directory is refused, naming it, with its target untouched.
#[test]
fn links_in_the_output_directory_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("t.db");
    common::simulate_and_ingest(&db, &tmp.path().join("sim"), 5, 5, &[]);
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::os::unix::fs::symlink(&victim, site.join("index.html")).unwrap();
    let o = trellis(&db, &["report", "--out", site.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let index = std::fs::symlink_metadata(site.join("index.html")).unwrap();
    assert!(
        index.file_type().is_file(),
        "the link was replaced by the page"
    );

    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let site = tmp.path().join("site2");
    std::fs::create_dir_all(&site).unwrap();
    std::os::unix::fs::symlink(&elsewhere, site.join("builds")).unwrap();
    let o = trellis(&db, &["report", "--out", site.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("builds") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through the link"
    );
}
