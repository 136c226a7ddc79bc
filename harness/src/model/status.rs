//! TestGrid's cell states (`pb/test_status/test_status.proto`).
//!
//! The numeric codes are the proto enum numbers, which is what the store keeps, so a
//! database can be read next to TestGrid's own data without translation. The severity
//! order is *not* the enum order: it is the one TestGrid's `internal/result` package
//! uses when it picks the worst of several results (BUILD_PASSED sits just above PASS,
//! TOOL_FAIL below TIMED_OUT, FLAKY above FAIL).

use serde::{Serialize, Serializer};
use std::fmt;

/// The state of one cell: one test in one build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellStatus {
    NoResult,
    Pass,
    PassWithErrors,
    PassWithSkips,
    Running,
    CategorizedAbort,
    Unknown,
    Cancel,
    Blocked,
    TimedOut,
    CategorizedFail,
    BuildFail,
    Fail,
    Flaky,
    ToolFail,
    BuildPassed,
}

use CellStatus::*;

impl CellStatus {
    /// Every state, in proto enum order.
    pub const ALL: [CellStatus; 16] = [
        NoResult,
        Pass,
        PassWithErrors,
        PassWithSkips,
        Running,
        CategorizedAbort,
        Unknown,
        Cancel,
        Blocked,
        TimedOut,
        CategorizedFail,
        BuildFail,
        Fail,
        Flaky,
        ToolFail,
        BuildPassed,
    ];

    /// The proto enum number (what the store keeps).
    pub fn code(self) -> u8 {
        match self {
            NoResult => 0,
            Pass => 1,
            PassWithErrors => 2,
            PassWithSkips => 3,
            Running => 4,
            CategorizedAbort => 5,
            Unknown => 6,
            Cancel => 7,
            Blocked => 8,
            TimedOut => 9,
            CategorizedFail => 10,
            BuildFail => 11,
            Fail => 12,
            Flaky => 13,
            ToolFail => 14,
            BuildPassed => 15,
        }
    }

    pub fn from_code(code: i64) -> Option<CellStatus> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Rank used to pick the worst of several results (higher is worse).
    pub fn severity(self) -> u8 {
        match self {
            NoResult => 0,
            Pass => 1,
            BuildPassed => 2,
            PassWithErrors => 3,
            PassWithSkips => 4,
            Running => 5,
            CategorizedAbort => 6,
            Unknown => 7,
            Cancel => 8,
            Blocked => 9,
            ToolFail => 10,
            TimedOut => 11,
            CategorizedFail => 12,
            BuildFail => 13,
            Fail => 14,
            Flaky => 15,
        }
    }

    /// The more severe of two states.
    pub fn worst(self, other: CellStatus) -> CellStatus {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// The proto name, e.g. `PASS_WITH_SKIPS`.
    pub fn name(self) -> &'static str {
        match self {
            NoResult => "NO_RESULT",
            Pass => "PASS",
            PassWithErrors => "PASS_WITH_ERRORS",
            PassWithSkips => "PASS_WITH_SKIPS",
            Running => "RUNNING",
            CategorizedAbort => "CATEGORIZED_ABORT",
            Unknown => "UNKNOWN",
            Cancel => "CANCEL",
            Blocked => "BLOCKED",
            TimedOut => "TIMED_OUT",
            CategorizedFail => "CATEGORIZED_FAIL",
            BuildFail => "BUILD_FAIL",
            Fail => "FAIL",
            Flaky => "FLAKY",
            ToolFail => "TOOL_FAIL",
            BuildPassed => "BUILD_PASSED",
        }
    }

    /// Which bucket of the per-build counts (`pass`, `fail`, `flaky`, `skip`, `other`)
    /// this state falls in.
    pub fn bucket(self) -> CountBucket {
        match self {
            Pass | PassWithErrors | BuildPassed => CountBucket::Pass,
            PassWithSkips => CountBucket::Skip,
            Flaky => CountBucket::Flaky,
            Fail | TimedOut | CategorizedFail | BuildFail | ToolFail => CountBucket::Fail,
            NoResult | Running | CategorizedAbort | Unknown | Cancel | Blocked => {
                CountBucket::Other
            }
        }
    }
}

impl fmt::Display for CellStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for CellStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The coarse buckets `trellis runs` counts cells in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountBucket {
    Pass,
    Fail,
    Flaky,
    Skip,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in CellStatus::ALL {
            assert_eq!(CellStatus::from_code(i64::from(s.code())), Some(s));
        }
        assert_eq!(CellStatus::from_code(16), None);
        assert_eq!(CellStatus::from_code(-1), None);
    }

    #[test]
    fn severity_is_testgrids_order() {
        let mut by_severity = CellStatus::ALL.to_vec();
        by_severity.sort_by_key(|s| s.severity());
        let names: Vec<_> = by_severity.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "NO_RESULT",
                "PASS",
                "BUILD_PASSED",
                "PASS_WITH_ERRORS",
                "PASS_WITH_SKIPS",
                "RUNNING",
                "CATEGORIZED_ABORT",
                "UNKNOWN",
                "CANCEL",
                "BLOCKED",
                "TOOL_FAIL",
                "TIMED_OUT",
                "CATEGORIZED_FAIL",
                "BUILD_FAIL",
                "FAIL",
                "FLAKY"
            ]
        );
        assert_eq!(Pass.worst(Fail), Fail);
        assert_eq!(Flaky.worst(Fail), Flaky);
        assert_eq!(PassWithSkips.worst(Pass), PassWithSkips);
    }
}
