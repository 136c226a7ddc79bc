//! How far a Ginkgo run has got, read from its output as it is written: what a
//! conformance or e2e run reports while it runs (specs done of those it will run,
//! failures so far), so hours of work are not hours of silence.
//!
//! Ginkgo v2 says `Will run 419 of 6731 specs`, then prints `•` for every spec that
//! ran (`S` for a skipped one) and a `• [FAILED]` block for each failure. The
//! Kubernetes e2e framework under Ginkgo v1 prints JSON lines instead:
//! `{"msg":"…","total":356,"completed":12,"skipped":0,"failed":1}`.

use crate::reporter::{EventKind, Reporter, SpecProgress};
use std::time::{Duration, Instant};

/// Counts specs from Ginkgo's output, line by line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpecCounter {
    pub total: Option<u64>,
    pub done: u64,
    pub failed: u64,
}

impl SpecCounter {
    pub fn feed(&mut self, line: &str) {
        // Ginkgo colours its output unless told --no-color, terminal or not.
        let plain = strip_ansi(line);
        let line = plain.trim_start();
        if let Some(rest) = line.strip_prefix("Will run ") {
            // `Will run 419 of 6731 specs`
            self.total = rest.split_whitespace().next().and_then(|n| n.parse().ok());
            return;
        }
        // The run's own summary settles the counts, however the dots went:
        // `Ran 169 of 6731 Specs in 601.2 seconds`, then
        // `SUCCESS! -- 169 Passed | 0 Failed | 0 Pending | 6562 Skipped`.
        if let Some(rest) = line.strip_prefix("Ran ") {
            let mut words = rest.split_whitespace();
            if let (Some(Ok(ran)), Some("of")) = (words.next().map(str::parse), words.next()) {
                self.done = ran;
                return;
            }
        }
        if let Some(counts) = line
            .strip_prefix("SUCCESS! -- ")
            .or_else(|| line.strip_prefix("FAIL! -- "))
        {
            if let Some(failed) = counts
                .split('|')
                .map(str::trim)
                .find_map(|part| part.strip_suffix(" Failed")?.parse().ok())
            {
                self.failed = failed;
            }
            return;
        }
        if line.starts_with("{\"msg\"") {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                let field = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
                if let Some(t) = field("total") {
                    self.total = Some(t);
                }
                // `completed` counts the specs that passed; failed ones are apart.
                let failed = field("failed").unwrap_or(self.failed);
                if let Some(c) = field("completed") {
                    self.done = c + failed;
                }
                self.failed = failed;
            }
            return;
        }
        self.done += line.matches('•').count() as u64;
        if line.starts_with("• [FAILED]")
            || line.starts_with("• [PANICKED]")
            || line.starts_with("• [TIMEDOUT]")
            || line.starts_with("• [INTERRUPTED]")
        {
            self.failed += 1;
        }
    }
}

/// `line` without ANSI escape sequences (CSI: ESC `[` … a final byte in `@`–`~`).
fn strip_ansi(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains('\u{1b}') {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Tells the reporter how a suite is doing: at most every `every`, at once when a
/// spec fails, and when the last spec is done.
pub struct ProgressReporter<'a> {
    suite: String,
    reporter: &'a Reporter,
    every: Duration,
    started: Instant,
    last: Option<(Instant, SpecCounter)>,
    pub counter: SpecCounter,
}

/// How often a run's progress is told when nothing else happens.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(30);

impl<'a> ProgressReporter<'a> {
    pub fn new(suite: &str, reporter: &'a Reporter, every: Duration) -> ProgressReporter<'a> {
        ProgressReporter {
            suite: suite.to_string(),
            reporter,
            every,
            started: Instant::now(),
            last: None,
            counter: SpecCounter::default(),
        }
    }

    pub fn feed(&mut self, line: &str) {
        self.counter.feed(line);
        let c = self.counter;
        let due = match self.last {
            None => c.total.is_some(),
            Some((at, told)) => {
                c != told
                    && (at.elapsed() >= self.every
                        || c.failed > told.failed
                        || Some(c.done) == c.total)
            }
        };
        if due {
            self.last = Some((Instant::now(), c));
            let _ = self.reporter.report(EventKind::Specs(SpecProgress {
                suite: self.suite.clone(),
                done: c.done,
                total: c.total,
                failed: c.failed,
                elapsed: self.started.elapsed(),
            }));
        }
    }
}

/// Follows `path` as a running Ginkgo writes it, telling `reporter` the suite's
/// progress, until `stop` is set (then what is left is read once more). Polls once a
/// second; a file that cannot be read yet is waited for.
pub fn follow_file(
    path: &std::path::Path,
    suite: &str,
    reporter: &Reporter,
    every: Duration,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::io::BufRead;
    use std::sync::atomic::Ordering;
    let mut progress = ProgressReporter::new(suite, reporter, every);
    let mut reader: Option<std::io::BufReader<std::fs::File>> = None;
    let mut pending = Vec::new();
    loop {
        let last = stop.load(Ordering::Acquire);
        if reader.is_none() {
            reader = std::fs::File::open(path).ok().map(std::io::BufReader::new);
        }
        if let Some(r) = &mut reader {
            // Whole lines only; a partial one waits for its end.
            while let Ok(n) = r.read_until(b'\n', &mut pending) {
                if n == 0 || pending.last() != Some(&b'\n') {
                    break;
                }
                progress.feed(&String::from_utf8_lossy(&pending));
                pending.clear();
            }
        }
        if last {
            // The run is over: a last line without its newline still counts.
            if !pending.is_empty() {
                progress.feed(&String::from_utf8_lossy(&pending));
            }
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(path: &str) -> SpecCounter {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
        let text = std::fs::read(data.join(path)).unwrap();
        let mut c = SpecCounter::default();
        for line in String::from_utf8_lossy(&text).lines() {
            c.feed(line);
        }
        c
    }

    /// The counter after `lines`.
    fn counted(lines: &[&str]) -> SpecCounter {
        let mut c = SpecCounter::default();
        for l in lines {
            c.feed(l);
        }
        c
    }

    #[test]
    fn ginkgo_v2_dots_count_the_specs_that_ran() {
        // v1.33/gke: "Ran 419 of 6731 Specs", all passed.
        let c = count("conformance/submissions/v1.33/gke/e2e.log");
        assert_eq!(
            c,
            SpecCounter {
                total: Some(419),
                done: 419,
                failed: 0
            }
        );
    }

    #[test]
    fn ginkgo_v1_json_lines_carry_their_own_counts() {
        // v1.24/openshift-dedicated: 356 specs, 2 failed.
        let c = count("conformance/submissions/v1.24/openshift-dedicated/e2e.log");
        assert_eq!(c.total, Some(356));
        assert_eq!((c.done, c.failed), (356, 2));
    }

    #[test]
    fn progress_is_told_when_known_on_failure_and_at_the_end_not_per_spec() {
        let recording = crate::reporter::Recording::default();
        let reporter = Reporter::new(vec![Box::new(recording.clone())]);
        // A long interval: only the start, the failure and the end are due.
        let mut p = ProgressReporter::new("e2e", &reporter, Duration::from_secs(3600));
        for l in [
            "Will run 4 of 9 specs",
            "S•S",
            "•",
            "• [FAILED] [1.0 seconds]",
            "SS•S",
        ] {
            p.feed(l);
        }
        let told: Vec<(u64, u64)> = recording
            .kinds()
            .iter()
            .filter_map(|k| match k {
                EventKind::Specs(s) => Some((s.done, s.failed)),
                _ => None,
            })
            .collect();
        assert_eq!(told, [(0, 0), (3, 1), (4, 1)]);
    }

    #[test]
    fn coloured_output_counts_the_same() {
        // What ginkgo writes to a file when not given --no-color.
        assert_eq!(
            counted(&[
                "Will run \u{1b}[1m2\u{1b}[0m of \u{1b}[1m9\u{1b}[0m specs",
                "\u{1b}[38;5;10m•\u{1b}[0mSS",
                "\u{1b}[38;5;9m• [FAILED] [1.2 seconds]\u{1b}[0m",
            ]),
            SpecCounter {
                total: Some(2),
                done: 2,
                failed: 1
            }
        );
    }

    #[test]
    fn the_runs_own_summary_settles_the_counts() {
        // One dot lost (written where the counter did not see it): the summary still
        // says what ran and what failed.
        assert_eq!(
            counted(&[
                "Will run 3 of 10 specs",
                "SS•SS•",
                "",
                "Ran 3 of 10 Specs in 12.5 seconds",
                "FAIL! -- 2 Passed | 1 Failed | 0 Pending | 7 Skipped",
            ]),
            SpecCounter {
                total: Some(3),
                done: 3,
                failed: 1
            }
        );
    }

    #[test]
    fn a_failure_block_counts_once() {
        assert_eq!(
            counted(&[
                "Will run 3 of 10 specs",
                "SS•SS",
                "------------------------------",
                "• [FAILED] [12.345 seconds]",
                "[sig-apps] something",
                "SSS•",
            ]),
            SpecCounter {
                total: Some(3),
                done: 3,
                failed: 1
            }
        );
    }
}
