//! Headless Chromium for the opt-in browser check and the render benchmark: open a
//! page, collect anything it writes to the console (trellis pages write nothing, so
//! any message is an error), take a screenshot, and read how long the grid took.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Chromium flags for a closed-network machine: no background connections, no sandbox
/// (root in a container), a fresh profile per run.
const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// The Chromium binary, if one is installed.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| Path::new(dir).join(name))
                .find(|p| p.is_file())
        })
}

#[derive(Debug, Default)]
pub struct Rendered {
    /// Console messages the page produced.
    pub console: Vec<String>,
    /// The DOM after load (when asked for).
    pub dom: Option<String>,
    pub wall: Duration,
}

impl Rendered {
    /// `data-drawn-ms` that grid.js sets on `<body>` once the grid is drawn.
    pub fn drawn_ms(&self) -> Option<f64> {
        let dom = self.dom.as_deref()?;
        let at = dom.find("data-drawn-ms=\"")? + "data-drawn-ms=\"".len();
        dom[at..].split('"').next()?.parse().ok()
    }
}

/// Opens `page` in headless Chromium within `deadline`.
pub fn render(
    chromium: &Path,
    page: &Path,
    screenshot: Option<&Path>,
    dump_dom: bool,
    deadline: Duration,
) -> std::io::Result<Rendered> {
    render_view(chromium, page, "", screenshot, dump_dom, deadline)
}

/// Opens `page` with a `#fragment` (a grid's or a table's view: `failing=1&…`).
pub fn render_view(
    chromium: &Path,
    page: &Path,
    fragment: &str,
    screenshot: Option<&Path>,
    dump_dom: bool,
    deadline: Duration,
) -> std::io::Result<Rendered> {
    let profile = tempfile::tempdir()?;
    let mut cmd = Command::new(chromium);
    cmd.args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--enable-logging=stderr", "--v=0", "--window-size=1400,900"]);
    if let Some(shot) = screenshot {
        cmd.arg(format!("--screenshot={}", shot.display()));
    }
    if dump_dom {
        cmd.arg("--dump-dom");
    }
    let mut url = format!("file://{}", page.canonicalize()?.display());
    if !fragment.is_empty() {
        url.push('#');
        url.push_str(fragment);
    }
    cmd.arg(url).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || read_all(stdout));
    let err_reader = std::thread::spawn(move || read_all(stderr));
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "chromium did not finish {} within {deadline:?}",
                    page.display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = start.elapsed();
    let dom = out_reader.join().unwrap_or_default();
    let log = err_reader.join().unwrap_or_default();
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(|l| l.split("] ").nth(1).unwrap_or(l).to_string())
        .collect();
    Ok(Rendered {
        console,
        dom: dump_dom.then_some(dom),
        wall,
    })
}

fn read_all(pipe: Option<impl std::io::Read>) -> String {
    let mut s = String::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_string(&mut s);
    }
    s
}
