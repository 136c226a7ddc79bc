//! Facts from a Ginkgo `e2e.log`: the closing summary and the version lines.
//!
//! The log is read line by line and never held whole; logs may contain any bytes, so
//! lines are decoded lossily (a log is evidence, not a document to reject).

use super::IngestError;
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// What an e2e.log says about its run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct E2eSummary {
    /// `Ran N of M Specs in S seconds`.
    pub ran: Option<u64>,
    pub specs: Option<u64>,
    pub seconds: Option<f64>,
    /// `SUCCESS` or `FAIL`, from the counts line.
    pub result: Option<String>,
    pub passed: Option<u64>,
    pub failed: Option<u64>,
    pub flaked: Option<u64>,
    pub pending: Option<u64>,
    pub skipped: Option<u64>,
    pub apiserver_version: Option<String>,
    pub e2e_version: Option<String>,
    /// When the run started (Unix seconds), when the log shows it: see [`Self::started`].
    pub started: Option<i64>,
    /// `Random Seed: N`: Ginkgo seeds with the Unix time it starts at, unless told.
    #[serde(skip)]
    seed: Option<i64>,
    /// Month, day and second of the day of the first klog line (`I0527 01:21:16.47…`).
    #[serde(skip)]
    first_klog: Option<(u32, u32, u32)>,
    /// The log names Sonobuoy's pods (`sonobuoy-e2e-job-…`, its namespace): Sonobuoy
    /// ran the tests.
    #[serde(skip)]
    pub sonobuoy_seen: bool,
}

impl E2eSummary {
    /// True when the log carries a counts line.
    pub fn has_verdict(&self) -> bool {
        self.result.is_some()
    }

    pub fn succeeded(&self) -> Option<bool> {
        self.result.as_deref().map(|r| r == "SUCCESS")
    }

    /// `Ran 402 of 7197 specs in 5747 s: SUCCESS (402 passed, 0 failed, 6795 skipped)`.
    pub fn summary_line(&self) -> String {
        let ran = match (self.ran, self.specs, self.seconds) {
            (Some(r), Some(s), Some(secs)) => format!("ran {r} of {s} specs in {secs:.0} s"),
            _ => "no `Ran N of M Specs` line".to_string(),
        };
        match &self.result {
            Some(result) => format!(
                "{ran}: {result} ({} passed, {} failed, {} skipped)",
                self.passed.unwrap_or(0),
                self.failed.unwrap_or(0),
                self.skipped.unwrap_or(0)
            ),
            None => ran,
        }
    }
}

pub fn parse_file(path: &Path) -> Result<E2eSummary, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    parse_reader(BufReader::with_capacity(1 << 16, file)).map_err(io)
}

/// Reads an e2e.log from any buffered reader, one capped line at a time.
pub fn parse_reader(mut reader: impl BufRead) -> std::io::Result<E2eSummary> {
    let mut summary = E2eSummary::default();
    let mut line = Vec::new();
    while read_line_capped(&mut reader, &mut line)? {
        summary.read_line(&String::from_utf8_lossy(&line));
    }
    summary.started = summary.start_time();
    Ok(summary)
}

/// Lines longer than this are cut: the facts read from a log are on short lines, and
/// a log of one endless line must not cost its length in memory.
const MAX_LINE_BYTES: usize = 64 << 10;

/// Reads the next line into `line` (cleared first), keeping at most
/// [`MAX_LINE_BYTES`] of it; false at the end of the input.
fn read_line_capped(r: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<bool> {
    line.clear();
    let mut any = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(any);
        }
        any = true;
        let (len, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        line.extend_from_slice(&buf[..len.min(room)]);
        r.consume(len);
        if done {
            return Ok(true);
        }
    }
}

impl E2eSummary {
    /// The run's start: Ginkgo's default seed is the Unix time the suite started, but
    /// a seed can be chosen, so it is believed only when the first klog line (which
    /// has no year) shows the same day and a time within two minutes of it.
    fn start_time(&self) -> Option<i64> {
        use chrono::{Datelike, Timelike};
        let seed = self.seed?;
        let (month, day, second) = self.first_klog?;
        let at = chrono::DateTime::from_timestamp(seed, 0)?;
        let close = (i64::from(at.num_seconds_from_midnight()) - i64::from(second)).abs() <= 120;
        (at.month() == month && at.day() == day && close).then_some(seed)
    }

    fn read_line(&mut self, line: &str) {
        let line = line.trim();
        if self.first_klog.is_none() {
            self.first_klog = klog_header(line);
        }
        if !self.sonobuoy_seen {
            self.sonobuoy_seen = line.contains("sonobuoy-e2e-job")
                || line.contains("sonobuoy-systemd-logs")
                || line.contains(" from sonobuoy started at");
        }
        if let Some(rest) = line.strip_prefix("Random Seed: ") {
            if self.seed.is_none() {
                self.seed = rest.split_whitespace().next().and_then(|n| n.parse().ok());
            }
        } else if let Some(rest) = line.strip_prefix("Ran ") {
            self.read_ran(rest);
        } else if let Some(rest) = line.strip_prefix("SUCCESS! -- ") {
            self.read_counts("SUCCESS", rest);
        } else if let Some(rest) = line.strip_prefix("FAIL! -- ") {
            self.read_counts("FAIL", rest);
        } else if let Some(v) = version_after(line, "kube-apiserver version: ") {
            self.apiserver_version.get_or_insert(v);
        } else if let Some(v) = version_after(line, "e2e test version: ") {
            self.e2e_version.get_or_insert(v);
        }
    }

    /// `N of M Specs in S seconds`
    fn read_ran(&mut self, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        if let ["of", "Specs", "in", "seconds"] =
            [words.get(1), words.get(3), words.get(4), words.get(6)]
                .map(|w| w.copied().unwrap_or(""))
        {
            if let (Ok(ran), Ok(specs), Ok(secs)) =
                (words[0].parse(), words[2].parse(), words[5].parse())
            {
                self.ran = Some(ran);
                self.specs = Some(specs);
                self.seconds = Some(secs);
            }
        }
    }

    /// `362 Passed | 0 Failed | 1 Flaked | 0 Pending | 6705 Skipped`
    fn read_counts(&mut self, result: &str, rest: &str) {
        let mut any = false;
        for part in rest.split('|') {
            let mut it = part.split_whitespace();
            let (Some(n), Some(word)) = (it.next(), it.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            let slot = match word {
                "Passed" => &mut self.passed,
                "Failed" => &mut self.failed,
                "Flaked" => &mut self.flaked,
                "Pending" => &mut self.pending,
                "Skipped" => &mut self.skipped,
                _ => continue,
            };
            *slot = Some(n);
            any = true;
        }
        if any {
            self.result = Some(result.to_string());
        }
    }
}

/// `I0527 01:21:16.477120 …` → (5, 27, 4876): klog's severity letter, month and day,
/// and the time of day in seconds.
fn klog_header(line: &str) -> Option<(u32, u32, u32)> {
    let b = line.as_bytes();
    if b.len() < 14 || !matches!(b[0], b'I' | b'W' | b'E' | b'F') || b[5] != b' ' {
        return None;
    }
    let num = |from: usize, to: usize| line.get(from..to)?.parse::<u32>().ok();
    let (month, day) = (num(1, 3)?, num(3, 5)?);
    let (h, m, sec) = (num(6, 8)?, num(9, 11)?, num(12, 14)?);
    let valid = (1..=12).contains(&month) && (1..=31).contains(&day) && h < 24 && m < 60;
    (valid && b[8] == b':' && b[11] == b':' && sec < 61).then_some((
        month,
        day,
        h * 3600 + m * 60 + sec,
    ))
}

fn version_after(line: &str, marker: &str) -> Option<String> {
    let at = line.find(marker)?;
    let v = line[at + marker.len()..].split_whitespace().next()?;
    v.starts_with('v').then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> E2eSummary {
        let mut s = E2eSummary::default();
        for l in text.lines() {
            s.read_line(l);
        }
        s.started = s.start_time();
        s
    }

    #[test]
    fn the_start_is_ginkgos_seed_when_the_log_agrees() {
        let log = "I0527 01:21:16.477120      20 e2e.go:129] Starting e2e run\n\
                   Random Seed: 1653614476 - Will randomize all specs\n";
        // 1653614476 is 2022-05-27 01:21:16 UTC.
        assert_eq!(read(log).started, Some(1_653_614_476));
        // A chosen seed does not match the log's clock: no start time.
        let chosen = log.replace("1653614476", "42");
        assert_eq!(read(&chosen).started, None);
        // Nor does a seed without a klog line to check it against.
        assert_eq!(read("Random Seed: 1653614476\n").started, None);
    }

    #[test]
    fn ginkgo_v1_verbose() {
        let s = read(
            "May 27 01:21:18.458: INFO: e2e test version: v1.24.0\n\
             May 27 01:21:18.460: INFO: kube-apiserver version: v1.24.0-gke.1000\n\
             Ran 356 of 6965 Specs in 5615.731 seconds\n\
             FAIL! -- 354 Passed | 2 Failed | 0 Pending | 6609 Skipped\n",
        );
        assert_eq!(s.ran, Some(356));
        assert_eq!(s.specs, Some(6965));
        assert_eq!(s.seconds, Some(5615.731));
        assert_eq!(s.result.as_deref(), Some("FAIL"));
        assert_eq!(
            (s.passed, s.failed, s.pending, s.skipped),
            (Some(354), Some(2), Some(0), Some(6609))
        );
        assert_eq!(s.apiserver_version.as_deref(), Some("v1.24.0-gke.1000"));
        assert_eq!(s.e2e_version.as_deref(), Some("v1.24.0"));
        assert_eq!(s.succeeded(), Some(false));
    }

    #[test]
    fn klog_prefix_and_flaked() {
        let s = read(
            "  I0512 21:01:20.964314 19 e2e.go:254] kube-apiserver version: v1.31.6+k3s1\n\
             SUCCESS! -- 5 Passed | 0 Failed | 1 Flaked | 0 Pending | 2 Skipped\n",
        );
        assert_eq!(s.apiserver_version.as_deref(), Some("v1.31.6+k3s1"));
        assert_eq!(s.flaked, Some(1));
        assert_eq!(s.succeeded(), Some(true));
        assert_eq!(s.ran, None);
    }
}
