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

/// How long a binary may take to list its tests.
const LIST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// The tests of `binary` (and, with `ignored`, only its ignored ones, as nextest's
/// `--run-ignored only`).
pub fn list_tests(binary: &Path, ignored: bool) -> Result<Vec<TestCase>, RunnerError> {
    let shown = binary.display().to_string();
    let mut cmd = Command::new(binary);
    cmd.args(["--list", "--format", "terse"]);
    if ignored {
        cmd.arg("--ignored");
    }
    // Output to files, not pipes: a grandchild that keeps a pipe open cannot hang
    // the listing; and the listing has a deadline of its own.
    let spawn_err = |source| RunnerError::Spawn {
        binary: shown.clone(),
        source,
    };
    let stdout = tempfile::tempfile().map_err(spawn_err)?;
    let stderr = tempfile::tempfile().map_err(spawn_err)?;
    cmd.stdin(std::process::Stdio::null())
        .stdout(stdout.try_clone().map_err(spawn_err)?)
        .stderr(stderr.try_clone().map_err(spawn_err)?);
    crate::process::own_group(&mut cmd);
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let waited = crate::process::wait(&mut child, LIST_DEADLINE, None).map_err(spawn_err)?;
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut bytes = Vec::new();
        let _ = f.rewind();
        let _ = f.take(64 << 20).read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let status = match waited {
        crate::process::Waited::Exited(status) => status,
        _ => {
            return Err(RunnerError::List {
                binary: shown,
                stderr: format!(
                    "did not list its tests within {} s",
                    LIST_DEADLINE.as_secs()
                ),
            })
        }
    };
    if !status.success() {
        return Err(RunnerError::List {
            binary: shown,
            stderr: read(stderr).trim().to_string(),
        });
    }
    Ok(read(stdout)
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
