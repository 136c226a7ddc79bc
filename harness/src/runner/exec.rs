//! Running tests: one process per attempt, a pool of workers, a deadline per attempt.

use super::{RunnerError, TestCase};
use crate::process::Waited;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Tests run at once.
    pub jobs: usize,
    /// Deadline for one attempt; the process is killed after it.
    pub timeout: Duration,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Stop starting tests after the first one that fails for good.
    pub fail_fast: bool,
    /// Where attempt output is captured (a scratch directory when `None`).
    pub output_dir: Option<PathBuf>,
    /// Extra environment for every test process (suites get KUBECONFIG this way).
    pub env: Vec<(String, String)>,
    /// When set, running tests are killed and no more start.
    pub interrupt: Option<crate::interrupt::Interrupt>,
    /// Tests not to run, by name, with the reason they are reported skipped for
    /// (quarantined tests, `trellis test --skip-quarantined`).
    pub skip: std::sync::Arc<std::collections::HashMap<String, String>>,
}

impl RunOptions {
    fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(|i| i.is_set())
    }
}

/// One run of one test.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub passed: bool,
    pub timed_out: bool,
    pub duration: Duration,
    /// stdout and stderr as the test wrote them, at most [`OUTPUT_KEPT`] bytes of
    /// each end (the middle of a longer output is cut, with a line saying so; with
    /// `output_dir` the whole stays in the attempt's log file there).
    pub output: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOutcome {
    Passed,
    /// Failed, then passed on a retry.
    Flaky,
    Failed,
    /// Not run (`--fail-fast`, an interrupt), or the test said it cannot run here
    /// ([`SKIP_MARKER`]).
    Skipped,
}

impl TestOutcome {
    /// The word progress lines show.
    pub fn word(self) -> &'static str {
        match self {
            TestOutcome::Passed => "PASS",
            TestOutcome::Flaky => "FLAKY",
            TestOutcome::Failed => "FAIL",
            TestOutcome::Skipped => "SKIP",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestRun {
    pub case: TestCase,
    pub outcome: TestOutcome,
    pub attempts: Vec<Attempt>,
    /// Why it was skipped: the test's own reason, or the run's (`--fail-fast`, an
    /// interrupt).
    pub skip_reason: Option<String>,
}

/// A test that cannot run where it is (say, DNS from a pod on simulated nodes) prints
/// a line starting with this and exits 0; the runner records it as skipped with the
/// rest of the line as the reason, never as passed. libtest has no runtime skip, and
/// this keeps the reason in the JUnit where a reader looks for it.
pub const SKIP_MARKER: &str = "trellis-skip: ";

/// The reason a passing attempt's output gives for skipping, if it gives one. The
/// marker may follow other text on its line: with one test thread, libtest prints
/// `test NAME ... ` before the test runs and `ok` after it.
pub fn skip_reason(output: &str) -> Option<String> {
    output
        .lines()
        .rev()
        .find_map(|l| l.find(SKIP_MARKER).map(|at| &l[at + SKIP_MARKER.len()..]))
        .map(|r| r.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_output_keeps_its_ends_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut text = String::from("SETUP\n");
        text.push_str(&"x".repeat(300 << 10));
        text.push_str("\nPANIC at the end\n");
        std::fs::write(&log, &text).unwrap();
        let kept = read_bounded(&log, OUTPUT_KEPT);
        assert!(
            kept.len() < 2 * OUTPUT_KEPT as usize + 100,
            "{}",
            kept.len()
        );
        assert!(kept.starts_with("SETUP") && kept.ends_with("PANIC at the end\n"));
        assert!(kept.contains("bytes of output left out"));
        std::fs::write(&log, "short\n").unwrap();
        assert_eq!(read_bounded(&log, OUTPUT_KEPT), "short\n");
        // One invalid UTF-8 byte does not throw the output away.
        std::fs::write(&log, b"assertion failed \xff here\n").unwrap();
        assert_eq!(
            read_bounded(&log, OUTPUT_KEPT),
            "assertion failed \u{fffd} here\n"
        );
    }

    #[test]
    fn a_skip_reason_is_read_wherever_libtest_put_it_on_the_line() {
        let out = "\nrunning 1 test\ntest dns ... trellis-skip: needs a real kubelet\nok\n";
        assert_eq!(skip_reason(out).as_deref(), Some("needs a real kubelet"));
        assert_eq!(skip_reason("test a ... ok\n"), None);
    }
}

/// A test run's lifecycle, as it happens: workers send these while tests run, and the
/// caller's reporter sees them in the order they occurred.
#[derive(Debug, Clone)]
pub enum TestEvent {
    /// The run is about to start `total` tests.
    RunStarted { total: usize },
    /// A worker started the test's first attempt.
    TestStarted { name: String },
    /// An attempt failed; another follows when `will_retry`.
    AttemptFailed {
        name: String,
        attempt: u32,
        will_retry: bool,
    },
    /// The test is done for good (run, or skipped without running). `index` is its
    /// place in the list the run was given; `done` counts finished tests.
    TestFinished {
        index: usize,
        run: TestRun,
        done: usize,
        total: usize,
    },
    /// Every test is done.
    RunFinished { elapsed: Duration },
}

impl TestRun {
    /// Time spent in all attempts.
    pub fn duration(&self) -> Duration {
        self.attempts.iter().map(|a| a.duration).sum()
    }

    /// Skipped without a single attempt (`--fail-fast`, an interrupt).
    pub fn never_ran(&self) -> bool {
        self.attempts.is_empty()
    }
}

/// What a worker tells the collecting thread.
enum WorkerMessage {
    Event(TestEvent),
    Done(usize, Result<TestRun, RunnerError>),
}

#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub tests: Vec<TestRun>,
    /// Wall-clock start, Unix seconds (the JUnit `timestamp`).
    pub started: i64,
    pub elapsed: Duration,
}

impl RunReport {
    pub fn count(&self, outcome: TestOutcome) -> usize {
        self.tests.iter().filter(|t| t.outcome == outcome).count()
    }
}

/// Runs `cases` and reports each step to `on_event` as it happens (called from this
/// thread).
pub fn run(
    cases: Vec<TestCase>,
    opts: &RunOptions,
    mut on_event: impl FnMut(TestEvent),
) -> Result<RunReport, RunnerError> {
    let start = Instant::now();
    let started = chrono::Utc::now().timestamp();
    let scratch = tempfile::Builder::new()
        .prefix("trellis-run-")
        .tempdir()
        .map_err(|source| RunnerError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let out_dir = opts
        .output_dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&out_dir).map_err(|source| RunnerError::Io {
        path: out_dir.clone(),
        source,
    })?;
    let total = cases.len();
    on_event(TestEvent::RunStarted { total });
    let queue: Arc<Mutex<VecDeque<(usize, TestCase)>>> =
        Arc::new(Mutex::new(cases.into_iter().enumerate().collect()));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<WorkerMessage>();
    let workers: Vec<_> = (0..opts.jobs.max(1))
        .map(|w| {
            let (queue, stop, tx, opts, out_dir) = (
                queue.clone(),
                stop.clone(),
                tx.clone(),
                opts.clone(),
                out_dir.clone(),
            );
            std::thread::spawn(move || loop {
                let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                let Some((index, case)) = next else { break };
                if let Some(reason) = opts.skip.get(&case.name) {
                    let skipped = TestRun {
                        case,
                        outcome: TestOutcome::Skipped,
                        attempts: Vec::new(),
                        skip_reason: Some(reason.clone()),
                    };
                    let _ = tx.send(WorkerMessage::Done(index, Ok(skipped)));
                    continue;
                }
                if stop.load(Ordering::SeqCst) || opts.interrupted() {
                    let skipped = TestRun {
                        case,
                        outcome: TestOutcome::Skipped,
                        attempts: Vec::new(),
                        skip_reason: Some(if opts.interrupted() {
                            "not run: the run was interrupted".into()
                        } else {
                            "not run: --fail-fast stopped the run".into()
                        }),
                    };
                    let _ = tx.send(WorkerMessage::Done(index, Ok(skipped)));
                    continue;
                }
                let _ = tx.send(WorkerMessage::Event(TestEvent::TestStarted {
                    name: case.name.clone(),
                }));
                let result = run_test(&case, &opts, &out_dir.join(format!("{w}")), &tx);
                if opts.fail_fast && matches!(&result, Ok(r) if r.outcome == TestOutcome::Failed) {
                    stop.store(true, Ordering::SeqCst);
                }
                let _ = tx.send(WorkerMessage::Done(index, result));
            })
        })
        .collect();
    drop(tx);
    let mut results: Vec<Option<TestRun>> = vec![None; total];
    let mut done = 0;
    let mut first_error = None;
    for message in rx {
        let (index, result) = match message {
            WorkerMessage::Event(e) => {
                on_event(e);
                continue;
            }
            WorkerMessage::Done(index, result) => (index, result),
        };
        match result {
            Ok(run) => {
                done += 1;
                results[index] = Some(run.clone());
                on_event(TestEvent::TestFinished {
                    index,
                    run,
                    done,
                    total,
                });
            }
            Err(e) => {
                stop.store(true, Ordering::SeqCst);
                first_error.get_or_insert(e);
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let elapsed = start.elapsed();
    on_event(TestEvent::RunFinished { elapsed });
    Ok(RunReport {
        tests: results.into_iter().flatten().collect(),
        started,
        elapsed,
    })
}

fn run_test(
    case: &TestCase,
    opts: &RunOptions,
    out_dir: &std::path::Path,
    events: &mpsc::Sender<WorkerMessage>,
) -> Result<TestRun, RunnerError> {
    std::fs::create_dir_all(out_dir).map_err(|source| RunnerError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut attempts = Vec::new();
    for attempt in 1..=opts.retries + 1 {
        let a = run_attempt(case, opts, &out_dir.join("attempt.log"))?;
        let passed = a.passed;
        attempts.push(a);
        if passed || opts.interrupted() {
            break;
        }
        let _ = events.send(WorkerMessage::Event(TestEvent::AttemptFailed {
            name: case.name.clone(),
            attempt,
            will_retry: attempt <= opts.retries,
        }));
    }
    let last_passed = attempts.last().is_some_and(|a| a.passed);
    let skip_reason = attempts
        .last()
        .filter(|a| a.passed)
        .and_then(|a| skip_reason(&a.output));
    let outcome = match (last_passed, attempts.len()) {
        _ if skip_reason.is_some() => TestOutcome::Skipped,
        (true, 1) => TestOutcome::Passed,
        (true, _) => TestOutcome::Flaky,
        (false, _) => TestOutcome::Failed,
    };
    Ok(TestRun {
        case: case.clone(),
        outcome,
        attempts,
        skip_reason,
    })
}

/// How much of each end of a test's output is kept in memory (and in the JUnit):
/// failures show at the end, setup at the start; six tests printing 200 MB each must
/// not cost 1.2 GB.
pub const OUTPUT_KEPT: u64 = 64 << 10;

/// The first and last `keep` bytes of the file at `path`, with a line between them
/// saying how much was left out.
fn read_bounded(path: &std::path::Path, keep: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = Vec::new();
    let _ = (&mut f).take(keep.min(len)).read_to_end(&mut head);
    if len <= 2 * keep {
        let _ = f.read_to_end(&mut head);
        return String::from_utf8_lossy(&head).into_owned();
    }
    let mut tail = Vec::new();
    if f.seek(SeekFrom::Start(len - keep)).is_ok() {
        let _ = f.take(keep).read_to_end(&mut tail);
    }
    format!(
        "{}\n[trellis] … {} bytes of output left out …\n{}",
        String::from_utf8_lossy(&head),
        len - 2 * keep,
        String::from_utf8_lossy(&tail)
    )
}

/// One process: `BINARY --exact NAME --nocapture [--ignored]`, output to a file (no
/// pipe to drain, so a chatty test cannot block), killed at the deadline.
fn run_attempt(
    case: &TestCase,
    opts: &RunOptions,
    log: &std::path::Path,
) -> Result<Attempt, RunnerError> {
    let timeout = opts.timeout;
    let io = |source| RunnerError::Io {
        path: log.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(log).map_err(io)?;
    let err_file = file.try_clone().map_err(io)?;
    let mut cmd = Command::new(&case.binary);
    cmd.args(["--exact", &case.name, "--nocapture", "--test-threads", "1"]);
    if case.ignored {
        cmd.arg("--ignored");
    }
    cmd.envs(opts.env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::null()).stdout(file).stderr(err_file);
    crate::process::own_group(&mut cmd);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|source| RunnerError::Spawn {
        binary: case.binary.clone(),
        source,
    })?;
    let waited = crate::process::wait(&mut child, timeout, opts.interrupt.as_ref()).map_err(io)?;
    let duration = start.elapsed();
    let mut output = read_bounded(log, OUTPUT_KEPT);
    if waited == Waited::TimedOut {
        output.push_str(&format!(
            "\n[trellis] killed after the {timeout:?} deadline\n"
        ));
    }
    if waited == Waited::Interrupted {
        output.push_str("\n[trellis] killed: the run was interrupted\n");
    }
    Ok(Attempt {
        passed: matches!(waited, Waited::Exited(s) if s.success()),
        timed_out: waited == Waited::TimedOut,
        duration,
        output,
    })
}
