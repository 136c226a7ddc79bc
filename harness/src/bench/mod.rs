//! Benchmarks behind `trellis bench`: they measure and print, never pass or fail.

pub mod gate;
pub mod triage;
pub mod triage_corpus;

use crate::ingest::{junit, IngestError};
use crate::model::{Build, Cell, CellStatus};
use crate::store::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Timings of repeated rounds of the same work.
#[derive(Debug, Clone)]
pub struct Rounds {
    pub times: Vec<Duration>,
}

impl Rounds {
    pub fn best(&self) -> Duration {
        self.times.iter().min().copied().unwrap_or_default()
    }

    pub fn median(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        t.get(t.len() / 2).copied().unwrap_or_default()
    }
}

/// JUnit parsing throughput over files held in memory (so the disk is not measured).
pub struct ParseFigures {
    pub files: usize,
    pub bytes: u64,
    pub testcases: usize,
    pub rounds: Rounds,
}

pub fn parse(files: &[PathBuf], rounds: usize) -> Result<ParseFigures, IngestError> {
    let mut docs = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| IngestError::Io {
            path: f.clone(),
            source: e,
        })?;
        docs.push((f.display().to_string(), bytes));
    }
    let bytes = docs.iter().map(|d| d.1.len() as u64).sum();
    let mut testcases = 0;
    let mut times = Vec::new();
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        testcases = 0;
        for (name, doc) in &docs {
            let report = junit::parse_slice(name, doc)?;
            testcases += report.cases.len() + report.dropped_skips as usize;
        }
        times.push(start.elapsed());
    }
    Ok(ParseFigures {
        files: docs.len(),
        bytes,
        testcases,
        rounds: Rounds { times },
    })
}

/// Store write throughput: `writers` concurrent writers, each storing `builds`
/// synthetic builds of `cells` cells into the store at `db`.
pub struct IngestFigures {
    pub writers: usize,
    pub builds: usize,
    pub cells: usize,
    /// From the first write to the last writer's end.
    pub wall: Duration,
    /// Time spent inside `insert_build`, summed over writers.
    pub storing: Duration,
}

pub fn ingest(
    db: &crate::store::Location,
    writers: usize,
    builds: usize,
    cells: usize,
) -> Result<IngestFigures, StoreError> {
    let names: Vec<String> = (0..cells)
        .map(|i| format!("Kubernetes e2e suite.[sig-bench] synthetic spec number {i} should behave [Conformance]"))
        .collect();
    // Jobs no earlier run made, so a reused store (a server) stores every build.
    let run = format!(
        "{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    // The schema is made (or migrated) once, before the clock starts.
    drop(Store::open(db)?);
    let start = Instant::now();
    let results: Vec<Result<Duration, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers.max(1))
            .map(|w| {
                let (names, run) = (&names, &run);
                s.spawn(move || {
                    let mut store = Store::open(db)?;
                    let mut storing = Duration::ZERO;
                    for b in 0..builds {
                        let mut build = synthetic_build(b, names);
                        build.job = format!("bench-job-{run}-{w}");
                        let t = Instant::now();
                        store.insert_build(&build)?;
                        storing += t.elapsed();
                    }
                    Ok(storing)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Ok(Duration::ZERO)))
            .collect()
    });
    let wall = start.elapsed();
    let mut storing = Duration::ZERO;
    for r in results {
        storing += r?;
    }
    Ok(IngestFigures {
        writers: writers.max(1),
        builds: writers.max(1) * builds,
        cells: writers.max(1) * builds * cells,
        wall,
        storing,
    })
}

fn synthetic_build(n: usize, names: &[String]) -> Build {
    let cells = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // A realistic mix: mostly passes, some skips, a few failures and flakes.
            let status = match (i * 7 + n * 13) % 100 {
                0 => CellStatus::Fail,
                1 => CellStatus::Flaky,
                2..=40 => CellStatus::PassWithSkips,
                _ => CellStatus::Pass,
            };
            Cell {
                test: name.clone(),
                status,
                duration: Some((i % 300) as f64 * 0.5),
                attempts: if status == CellStatus::Flaky { 2 } else { 1 },
                message: (status == CellStatus::Fail)
                    .then(|| format!("timed out waiting for pod {i}")),
            }
        })
        .collect();
    Build {
        job: "bench-job".into(),
        build: format!("{}", 1_000_000 + n),
        started: Some(1_700_000_000 + n as i64 * 3600),
        finished: Some(1_700_000_000 + n as i64 * 3600 + 1800),
        passed: Some(true),
        source: "synthetic".into(),
        cells,
        ..Build::default()
    }
}

/// Verification timings of one submission folder.
pub struct VerifyFigures {
    pub rounds: Rounds,
    pub passed: bool,
}

impl VerifyFigures {
    pub fn best(&self) -> Duration {
        self.rounds.best()
    }
}

pub fn verify(dir: &Path, opts: &crate::certify::VerifyOptions, rounds: usize) -> VerifyFigures {
    let mut times = Vec::new();
    let mut passed = false;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let report = crate::certify::verify(dir, opts);
        times.push(start.elapsed());
        passed = report.verdict == crate::certify::Verdict::Pass;
    }
    VerifyFigures {
        rounds: Rounds { times },
        passed,
    }
}

/// Timings of the release-team analysis: store → grids, then statuses and flakes.
pub struct AnalysisFigures {
    pub tabs: usize,
    pub cells: u64,
    pub load: Duration,
    pub analysis: Duration,
    pub blocked: bool,
    pub flaky: usize,
    pub failing: usize,
}

/// A dashboards config over `jobs`: dashboards of ten tabs each, the first blocking.
pub fn dashboards_for(jobs: &[String]) -> crate::config::DashboardConfig {
    use crate::config::{Dashboard, DashboardConfig, Tab};
    let dashboards = jobs
        .chunks(10)
        .enumerate()
        .map(|(i, chunk)| Dashboard {
            name: if i == 0 {
                "bench-blocking".to_string()
            } else {
                format!("bench-informing-{i}")
            },
            release_blocking: i == 0,
            tabs: chunk
                .iter()
                .map(|job| Tab {
                    broken_column_threshold: 0.5,
                    ..Tab::with_kubernetes_defaults(job, job)
                })
                .collect(),
        })
        .collect();
    DashboardConfig {
        dashboards,
        ..DashboardConfig::default()
    }
}

/// Loads every job's grid from `db` and computes every tab's status and the flake
/// table, timing the two halves separately.
pub fn analysis(
    db: &crate::store::Location,
    config: &crate::config::DashboardConfig,
    threads: usize,
    now: i64,
) -> Result<AnalysisFigures, StoreError> {
    let jobs = Store::open(db)?.jobs()?;
    let start = Instant::now();
    let grids = crate::store::load_grids(db, &jobs, crate::model::Span::ALL, threads)?;
    let load = start.elapsed();
    let cells = grids
        .iter()
        .map(|g| (g.rows.len() * g.columns.len()) as u64)
        .sum();
    let start = Instant::now();
    let flakes = crate::analysis::flake_table(config, &grids, threads);
    let by_job: std::collections::HashMap<String, crate::model::Grid> =
        grids.into_iter().map(|g| (g.job.clone(), g)).collect();
    let report = crate::analysis::status(config, &by_job, &flakes, now);
    let flakes: Vec<_> = flakes.into_values().flatten().collect();
    let analysis = start.elapsed();
    use crate::analysis::flakes::Class;
    Ok(AnalysisFigures {
        tabs: config.dashboards.iter().map(|d| d.tabs.len()).sum(),
        cells,
        load,
        analysis,
        blocked: report.release.blocked,
        flaky: flakes.iter().filter(|f| f.class == Class::Flaky).count(),
        failing: flakes.iter().filter(|f| f.class == Class::Failing).count(),
    })
}

/// Fills a store with simulated history: `jobs` × `builds` × `tests`.
pub fn generate(
    db: &crate::store::Location,
    jobs: usize,
    builds: usize,
    tests: usize,
    end: i64,
) -> Result<Duration, StoreError> {
    let names: Vec<String> = (1..=jobs).map(|i| format!("bench-job-{i:02}")).collect();
    let opts = crate::simulate::SimOptions::new(names, builds, tests, end);
    let mut store = Store::open(db)?;
    let start = Instant::now();
    crate::simulate::simulate(&opts, |b| store.insert_build(&b).map(|_| ()))?;
    Ok(start.elapsed())
}

/// One round of `bench local`.
#[derive(Debug, Clone)]
pub struct LocalRound {
    pub ready: Duration,
    pub steps: Vec<(String, Duration)>,
    pub teardown: Duration,
}

/// Starts and tears down a local cluster `rounds` times.
pub fn local(
    opts: &crate::cluster::local::LocalOptions,
    rounds: usize,
) -> Result<Vec<LocalRound>, crate::cluster::ClusterError> {
    use crate::cluster::local::LocalProvider;
    use crate::cluster::provider::Provider;
    let interrupt = crate::interrupt::Interrupt::default();
    let mut out = Vec::new();
    for _ in 0..rounds.max(1) {
        let mut cluster = LocalProvider::new(opts.clone())?;
        let start = Instant::now();
        let provisioned = cluster.provision(&interrupt);
        let ready = start.elapsed();
        let down = Instant::now();
        let torn = cluster.teardown();
        let teardown = down.elapsed();
        provisioned?;
        torn?;
        out.push(LocalRound {
            ready,
            steps: cluster.timings.clone(),
            teardown,
        });
    }
    Ok(out)
}

/// Why a benchmark could not measure.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("could not build the trivial test binary (cargo test -p trellis-suites --test trivial --no-run)")]
    NoTrivialBinary,
    #[error("cargo nextest run failed")]
    Nextest,
    #[error("trellis's runner did not pass all 1,000 trivial tests")]
    NotAllPassed,
    #[error("{0} is empty")]
    EmptyStore(PathBuf),
    #[error("the grid page logged console errors: {0:?}")]
    ConsoleErrors(Vec<String>),
    #[error("chromium could not render {page}: {source}")]
    Render {
        page: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Runner(#[from] crate::runner::RunnerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

impl BenchError {
    pub fn hint(&self) -> &'static str {
        match self {
            BenchError::NoTrivialBinary => "run from the repository root",
            BenchError::Nextest => "cargo install cargo-nextest --locked",
            BenchError::NotAllPassed => {
                "run `trellis test` on the trivial binary to see which failed"
            }
            BenchError::EmptyStore(_) => "run `trellis bench analysis` first",
            BenchError::ConsoleErrors(_) => "open the page in a browser and read its console",
            BenchError::Render { .. } => "check that chromium runs headless here",
            BenchError::Runner(e) => e.hint(),
            BenchError::Store(e) => e.hint(),
            BenchError::Report(e) => e.hint(),
        }
    }
}

/// `bench runner`: wall times of cargo-nextest and trellis's runner on the same
/// 1,000 trivial tests, rounds alternating so both see the same machine.
#[derive(Debug, Clone)]
pub struct RunnerFigures {
    pub nextest: Rounds,
    pub trellis: Rounds,
}

pub fn runner(jobs: usize, rounds: usize) -> Result<RunnerFigures, BenchError> {
    let binary = trivial_binary().ok_or(BenchError::NoTrivialBinary)?;
    let opts = crate::runner::RunOptions {
        jobs,
        timeout: Duration::from_secs(60),
        retries: 0,
        fail_fast: false,
        output_dir: None,
        env: Vec::new(),
        interrupt: None,
        skip: Default::default(),
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let nextest = std::process::Command::new("cargo")
            .args([
                "nextest",
                "run",
                "-p",
                "trellis-suites",
                "--test",
                "trivial",
            ])
            .args(["-j", &jobs.to_string()])
            .output();
        match nextest {
            Ok(o) if o.status.success() => theirs.push(start.elapsed()),
            _ => return Err(BenchError::Nextest),
        }
        let start = Instant::now();
        let cases = crate::runner::list_tests(&binary, false)?;
        let report = crate::runner::run(cases, &opts, |_| {})?;
        if report.count(crate::runner::TestOutcome::Passed) != 1000 {
            return Err(BenchError::NotAllPassed);
        }
        ours.push(start.elapsed());
    }
    Ok(RunnerFigures {
        nextest: Rounds { times: theirs },
        trellis: Rounds { times: ours },
    })
}

/// The trivial test binary cargo builds for `bench runner`.
fn trivial_binary() -> Option<PathBuf> {
    let built = std::process::Command::new("cargo")
        .args([
            "test",
            "-p",
            "trellis-suites",
            "--test",
            "trivial",
            "--no-run",
        ])
        .arg("--message-format=json")
        .output()
        .ok()?;
    String::from_utf8_lossy(&built.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
        .find(|e| e.to_string_lossy().contains("trivial"))
}

/// `bench report`: the whole site from a large store, and the largest grid drawn.
#[derive(Debug)]
pub struct ReportFigures {
    pub tabs: usize,
    pub cells: usize,
    /// Store reads and analysis.
    pub gathered: Duration,
    pub site: crate::report::SiteStats,
    pub render: GridRender,
}

/// How long chromium took to draw the largest grid page, when it could.
#[derive(Debug)]
pub enum GridRender {
    NoChromium,
    NoGridPage,
    Drawn {
        page: PathBuf,
        bytes: u64,
        /// Milliseconds to the grid drawn, one per round.
        drawn_ms: Vec<f64>,
    },
}

/// The report benchmark's window: long enough to hold every build `bench analysis`
/// simulated.
const REPORT_WINDOW_DAYS: i64 = 30;

pub fn report(store: &Path, out: &Path) -> Result<ReportFigures, BenchError> {
    let jobs = Store::open(store)?.jobs()?;
    if jobs.is_empty() {
        return Err(BenchError::EmptyStore(store.to_path_buf()));
    }
    let now = chrono::Utc::now().timestamp();
    let start = Instant::now();
    // A window with a start, as `trellis report` has: the pass-rate, test and
    // component pages compare it with the window before.
    let span = crate::model::Span {
        since: Some(now - REPORT_WINDOW_DAYS * 86_400),
        until: Some(now),
    };
    let site = crate::report::gather(
        &store.into(),
        dashboards_for(&jobs),
        &Default::default(),
        span,
        now,
        false,
    )?;
    let gathered = start.elapsed();
    let _ = std::fs::remove_dir_all(out);
    let stats = crate::report::write_site(&site, out)?;
    let grids = &site.snapshot.grids;
    Ok(ReportFigures {
        tabs: grids.len(),
        cells: grids.values().map(|g| g.rows.len() * g.columns.len()).sum(),
        gathered,
        site: stats,
        render: render_largest_grid(out)?,
    })
}

fn render_largest_grid(out: &Path) -> Result<GridRender, BenchError> {
    let Some(chromium) = crate::report::browser::chromium() else {
        return Ok(GridRender::NoChromium);
    };
    let largest = std::fs::read_dir(out.join("tabs")).ok().and_then(|it| {
        it.filter_map(Result::ok)
            .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
            .map(|e| e.path())
    });
    let Some(page) = largest else {
        return Ok(GridRender::NoGridPage);
    };
    let bytes = std::fs::metadata(&page).map(|m| m.len()).unwrap_or(0);
    let mut drawn_ms = Vec::new();
    for _ in 0..3 {
        let r =
            crate::report::browser::render(&chromium, &page, None, true, Duration::from_secs(60))
                .map_err(|source| BenchError::Render {
                page: page.clone(),
                source,
            })?;
        if !r.console.is_empty() {
            return Err(BenchError::ConsoleErrors(r.console));
        }
        drawn_ms.extend(r.drawn_ms());
    }
    Ok(GridRender::Drawn {
        page,
        bytes,
        drawn_ms,
    })
}
