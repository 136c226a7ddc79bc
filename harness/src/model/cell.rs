//! One test in one build, and how repeated results of the same test merge into one.

use super::CellStatus;
use serde::Serialize;

/// Longest failure message kept per cell; longer ones are cut and marked.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// A grid cell: one test's result in one build.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// Row name: suite name + "." + testcase name (TestGrid's convention).
    pub test: String,
    pub status: CellStatus,
    /// Seconds, when the artifact says.
    pub duration: Option<f64>,
    /// How many times the test ran in this build (retries included).
    pub attempts: u32,
    pub message: Option<String>,
}

/// One `<testcase>` (or other single result) before repeated ones are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub status: CellStatus,
    pub duration: Option<f64>,
    pub attempts: u32,
    pub message: Option<String>,
}

/// Folds every observation of one test in one build into a cell.
///
/// TestGrid's rule for retries: at least one pass and at least one failure make the
/// cell FLAKY; otherwise the most severe state wins.
#[derive(Debug, Default, Clone)]
pub struct CellMerge {
    status: Option<CellStatus>,
    saw_pass: bool,
    saw_fail: bool,
    duration: Option<f64>,
    attempts: u32,
    /// Observations merged, and how many of them passed (skips count as passing).
    observations: u32,
    passes: u32,
    /// The message of the most severe observation (the latest of equals).
    message: Option<String>,
}

impl CellMerge {
    pub fn add(&mut self, obs: Observation) {
        self.observations += 1;
        match obs.status.bucket() {
            // TestGrid's MergeCells counts a skip as passing: skipped in one place and
            // failed in another is FLAKY, not FAIL.
            crate::model::CountBucket::Pass | crate::model::CountBucket::Skip => {
                self.saw_pass = true;
                self.passes += 1;
            }
            crate::model::CountBucket::Fail => self.saw_fail = true,
            _ => {}
        }
        let most_severe = self
            .status
            .is_none_or(|s| obs.status.severity() >= s.severity());
        self.status = Some(match self.status {
            Some(s) => s.worst(obs.status),
            None => obs.status,
        });
        if let Some(d) = obs.duration {
            *self.duration.get_or_insert(0.0) += d;
        }
        self.attempts += obs.attempts.max(1);
        if most_severe {
            self.message = obs.message;
        }
    }

    pub fn finish(self, test: String) -> Cell {
        let merged = self.status.unwrap_or(CellStatus::NoResult);
        let status = if self.saw_pass && self.saw_fail {
            CellStatus::Flaky
        } else {
            merged
        };
        // TestGrid's MergeCells: the most severe result's message, prefixed with how
        // many of the runs passed.
        let message = if self.observations > 1 {
            Some(clip_message(format!(
                "{}/{} runs passed: {}",
                self.passes,
                self.observations,
                self.message.unwrap_or_default()
            )))
        } else {
            self.message
        };
        Cell {
            test,
            status,
            duration: self.duration,
            attempts: self.attempts,
            message,
        }
    }
}

/// Cuts `text` to at most [`MAX_MESSAGE_BYTES`] on a character boundary.
pub fn clip_message(mut text: String) -> String {
    if text.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" […truncated]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use CellStatus::*;

    fn obs(status: CellStatus) -> Observation {
        Observation {
            status,
            duration: Some(1.0),
            attempts: 1,
            message: (status == Fail).then(|| "boom".to_string()),
        }
    }

    fn merge(states: &[CellStatus]) -> Cell {
        let mut m = CellMerge::default();
        for s in states {
            m.add(obs(*s));
        }
        m.finish("t".into())
    }

    #[test]
    fn pass_and_fail_make_flaky() {
        let c = merge(&[Fail, Pass]);
        assert_eq!(c.status, Flaky);
        assert_eq!(c.attempts, 2);
        assert_eq!(c.duration, Some(2.0));
        assert_eq!(c.message.as_deref(), Some("1/2 runs passed: boom"));
    }

    /// #15 rule 8: a test that failed twice in one build is "0/2 runs passed: …", so
    /// a one-word message no longer reads as an infra failure.
    #[test]
    fn merged_runs_say_how_many_passed() {
        let c = merge(&[Fail, Fail]);
        assert_eq!(c.message.as_deref(), Some("0/2 runs passed: boom"));
        assert_eq!(merge(&[Fail]).message.as_deref(), Some("boom"));
    }

    #[test]
    fn otherwise_most_severe_wins() {
        assert_eq!(merge(&[Fail, Fail]).status, Fail);
        assert_eq!(merge(&[Pass, PassWithSkips]).status, PassWithSkips);
        assert_eq!(merge(&[Pass, Pass]).status, Pass);
        assert_eq!(merge(&[Flaky, Pass]).status, Flaky);
    }

    #[test]
    fn skipped_and_failed_in_one_build_is_flaky() {
        // TestGrid's MergeCells: a skip counts as passing.
        assert_eq!(merge(&[PassWithSkips, Fail]).status, Flaky);
    }

    #[test]
    fn clip_respects_char_boundaries() {
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let clipped = clip_message(long);
        assert!(clipped.len() <= MAX_MESSAGE_BYTES + 20);
        assert!(clipped.ends_with("[…truncated]"));
    }
}
