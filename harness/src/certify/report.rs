//! The outcome of a verification: every check with its result and the fix.

use serde::Serialize;

/// One check, as the CNCF review bot would report it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier, e.g. `tests.required`.
    pub id: &'static str,
    pub passed: bool,
    /// Passed, but worth a look (a reviewer may ask).
    pub warning: bool,
    pub message: String,
    /// How to fix it (failed checks) or what it means (warnings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The names behind the message: missing tests, extra files, …
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Check {
    pub fn pass(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            passed: true,
            warning: false,
            message: message.into(),
            hint: None,
            details: Vec::new(),
        }
    }

    pub fn fail(id: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            id,
            passed: false,
            warning: false,
            message: message.into(),
            hint: Some(hint.into()),
            details: Vec::new(),
        }
    }

    pub fn warn(id: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            warning: true,
            hint: Some(hint.into()),
            ..Check::pass(id, message)
        }
    }

    pub fn with_details(mut self, details: Vec<String>) -> Check {
        self.details = details;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// `trellis verify-submission --json` prints this.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub version: Option<String>,
    pub product: Option<String>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(version: Option<String>, product: Option<String>, checks: Vec<Check>) -> Report {
        let verdict = if checks.iter().all(|c| c.passed) {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        Report {
            verdict,
            version,
            product,
            checks,
        }
    }

    /// Human-readable listing of every check.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let what = match (&self.version, &self.product) {
            (Some(v), Some(p)) => format!("{v}/{p}"),
            _ => "submission".to_string(),
        };
        for c in &self.checks {
            let mark = match (c.passed, c.warning) {
                (false, _) => "FAIL",
                (true, true) => "WARN",
                (true, false) => "ok  ",
            };
            out.push_str(&format!("{mark} {:<20} {}\n", c.id, c.message));
            for d in c.details.iter().take(50) {
                out.push_str(&format!("       - {d}\n"));
            }
            if c.details.len() > 50 {
                out.push_str(&format!("       … and {} more\n", c.details.len() - 50));
            }
            if let Some(h) = c.hint.as_deref().filter(|_| !c.passed || c.warning) {
                out.push_str(&format!("       hint: {h}\n"));
            }
        }
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        match self.verdict {
            Verdict::Pass => out.push_str(&format!(
                "PASS: {what} passes all {} checks\n",
                self.checks.len()
            )),
            Verdict::Fail => out.push_str(&format!(
                "FAIL: {what}: {failed} of {} checks failed\n",
                self.checks.len()
            )),
        }
        out
    }
}
