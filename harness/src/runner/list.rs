//! Listing a binary's tests the way nextest does: `--list --format terse`.

use super::RunnerError;
use std::path::Path;
use std::process::Command;

/// One test of one binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    pub binary: String,
    pub name: String,
    /// Listed by `--ignored`: run with `--ignored` too.
    pub ignored: bool,
}

/// The tests of `binary` (and, with `ignored`, only its ignored ones, as nextest's
/// `--run-ignored only`).
pub fn list_tests(binary: &Path, ignored: bool) -> Result<Vec<TestCase>, RunnerError> {
    let shown = binary.display().to_string();
    let mut cmd = Command::new(binary);
    cmd.args(["--list", "--format", "terse"]);
    if ignored {
        cmd.arg("--ignored");
    }
    let out = cmd.output().map_err(|source| RunnerError::Spawn {
        binary: shown.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(RunnerError::List {
            binary: shown,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(|name| TestCase {
            binary: shown.clone(),
            name: name.to_string(),
            ignored,
        })
        .collect())
}

/// `--partition K/N` (or nextest's `count:K/N`): every N-th test starting at the K-th.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub shard: usize,
    pub total: usize,
}

impl Partition {
    pub fn parse(text: &str) -> Result<Partition, RunnerError> {
        let bad = || RunnerError::Partition(text.to_string());
        let spec = text.strip_prefix("count:").unwrap_or(text);
        let (k, n) = spec.split_once('/').ok_or_else(bad)?;
        let (shard, total): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if shard == 0 || total == 0 || shard > total {
            return Err(bad());
        }
        Ok(Partition { shard, total })
    }

    pub fn select(&self, tests: Vec<TestCase>) -> Vec<TestCase> {
        tests
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.total == self.shard - 1)
            .map(|(_, t)| t)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        let p = Partition::parse("count:2/3").unwrap();
        let tests: Vec<TestCase> = (0..7)
            .map(|i| TestCase {
                binary: "b".into(),
                name: format!("t{i}"),
                ignored: false,
            })
            .collect();
        let names: Vec<String> = p.select(tests).into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["t1", "t4"]);
        assert!(Partition::parse("0/3").is_err());
        assert!(Partition::parse("4/3").is_err());
        assert!(Partition::parse("x").is_err());
    }
}
