//! What a cluster says about itself: its tests → jobs → failing builds, when they ran
//! and whether they were pull-request builds, a per-day count for the sparkline, the
//! owning SIG, a stable id and the parts of its text every member shares.

use super::Failure;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// Stable across runs while the key stays the same (see `cluster_seeded`): a
    /// digest of the key, usable as a link anchor.
    pub id: String,
    /// Failures in the cluster.
    pub count: u64,
    /// The normalised text the cluster is keyed by (its most common text).
    pub representative: String,
    /// Byte ranges of `representative` present in every sampled member's text.
    pub common: Vec<(usize, usize)>,
    /// One real message from it.
    pub example: String,
    /// The SIG most of its failures' tests belong to (`[sig-…]` in the name).
    pub sig: Option<String>,
    /// Failures in CI (periodic, post-submit) builds and in pull-request builds.
    pub ci: u64,
    pub pr: u64,
    /// Tests, most failures first, each with its jobs and their failing builds.
    pub tests: Vec<ClusterTest>,
    /// Every job with a failure in the cluster, by name.
    pub jobs: Vec<String>,
    /// Every failing build once, newest first.
    pub builds: Vec<BuildHit>,
    /// Failures per UTC day (day start in Unix seconds), oldest first; failures whose
    /// build has no start time are not in it.
    pub days: Vec<(i64, u64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterTest {
    pub name: String,
    pub count: u64,
    pub jobs: Vec<ClusterJob>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterJob {
    pub name: String,
    pub count: u64,
    /// Failing build ids, newest first.
    pub builds: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildHit {
    pub job: String,
    pub build: String,
    pub started: Option<i64>,
    pub pr: Option<u64>,
    /// The build's result: a passed build had this failure and still passed (a
    /// retried or non-blocking test).
    pub passed: Option<bool>,
    /// This cluster's failures in the build.
    pub failures: u64,
}

const DAY: i64 = 86_400;

/// A cluster's id: 16 hex digits of a 64-bit FNV-1a digest of its key.
pub fn cluster_id(key: &str) -> String {
    format!("{:016x}", crate::model::fnv1a(key.as_bytes()))
}

/// Builds the description of one cluster from its failures (indices into `failures`).
pub fn describe(
    failures: &[Failure<'_>],
    key: String,
    members: &[u32],
    keys: &[String],
) -> Cluster {
    let mine: Vec<&Failure<'_>> = members.iter().map(|i| &failures[*i as usize]).collect();
    let example = mine.first().map(|f| f.text.to_string()).unwrap_or_default();

    // test -> job -> builds (with start times for the newest-first order).
    type Builds<'a> = Vec<(Option<i64>, &'a str)>;
    let mut tree: BTreeMap<&str, BTreeMap<&str, Builds<'_>>> = BTreeMap::new();
    let mut hits: HashMap<(&str, &str), BuildHit> = HashMap::new();
    let mut days: BTreeMap<i64, u64> = BTreeMap::new();
    let mut sigs: HashMap<&str, u64> = HashMap::new();
    let (mut ci, mut pr) = (0, 0);
    for f in &mine {
        tree.entry(f.test)
            .or_default()
            .entry(f.job)
            .or_default()
            .push((f.started, f.build));
        hits.entry((f.job, f.build))
            .or_insert_with(|| BuildHit {
                job: f.job.to_string(),
                build: f.build.to_string(),
                started: f.started,
                pr: f.pr,
                passed: f.passed,
                failures: 0,
            })
            .failures += 1;
        if let Some(t) = f.started {
            *days.entry(t.div_euclid(DAY) * DAY).or_default() += 1;
        }
        if let Some(sig) = sig_of(f.test) {
            *sigs.entry(sig).or_default() += 1;
        }
        if f.is_pr() {
            pr += 1;
        } else {
            ci += 1;
        }
    }
    let mut tests: Vec<ClusterTest> = tree
        .into_iter()
        .map(|(name, jobs)| {
            let mut jobs: Vec<ClusterJob> = jobs
                .into_iter()
                .map(|(job, mut builds)| {
                    let count = builds.len() as u64;
                    builds.sort_by(|a, b| b.cmp(a));
                    let mut seen = HashSet::new();
                    let builds = builds
                        .into_iter()
                        .filter(|(_, b)| seen.insert(*b))
                        .map(|(_, b)| b.to_string())
                        .collect();
                    ClusterJob {
                        name: job.to_string(),
                        count,
                        builds,
                    }
                })
                .collect();
            jobs.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
            ClusterTest {
                name: name.to_string(),
                count: jobs.iter().map(|j| j.count).sum(),
                jobs,
            }
        })
        .collect();
    tests.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    let jobs: BTreeSet<&str> = mine.iter().map(|f| f.job).collect();
    let mut builds: Vec<BuildHit> = hits.into_values().collect();
    builds.sort_by(|a, b| {
        b.started
            .cmp(&a.started)
            .then_with(|| a.job.cmp(&b.job))
            .then_with(|| b.build.cmp(&a.build))
    });
    let sig = sigs
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(s, _)| s.to_string());
    Cluster {
        id: cluster_id(&key),
        count: mine.len() as u64,
        common: common_spans(&key, keys),
        representative: key,
        example,
        sig,
        ci,
        pr,
        tests,
        jobs: jobs.into_iter().map(str::to_string).collect(),
        builds,
        days: days.into_iter().collect(),
    }
}

/// `sig-network` from `[sig-network] Services should …`.
fn sig_of(test: &str) -> Option<&str> {
    let at = test.find("[sig-")?;
    let rest = &test[at + 1..];
    let end = rest.find(']')?;
    Some(&rest[..end])
}

/// Word and non-word runs, the units compared for the common text.
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    let mut out = Vec::new();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut kind: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let k = is_word(c);
        if kind.is_some_and(|prev| prev != k) {
            out.push((start, &text[start..i]));
            start = i;
        }
        kind = Some(k);
    }
    if start < text.len() {
        out.push((start, &text[start..]));
    }
    out.into_iter()
}

/// The byte ranges of `key` made of tokens found in every one of `members`' texts:
/// what to show plainly, with the rest marked as varying.
pub fn common_spans(key: &str, members: &[String]) -> Vec<(usize, usize)> {
    let sets: Vec<HashSet<&str>> = members
        .iter()
        .map(|m| tokens(m).map(|(_, t)| t).collect())
        .collect();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (at, token) in tokens(key) {
        if !sets.iter().all(|s| s.contains(token)) {
            continue;
        }
        let end = at + token.len();
        match spans.last_mut() {
            Some(last) if last.1 == at => last.1 = end,
            _ => spans.push((at, end)),
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_text_is_what_every_member_has() {
        let key = "pod web-POD failed: exit code 137 on NODE";
        let members = [
            key.to_string(),
            "pod web-POD failed: exit code 1 on NODE".to_string(),
        ];
        let spans = common_spans(key, &members);
        let shown: Vec<&str> = spans.iter().map(|(a, b)| &key[*a..*b]).collect();
        assert_eq!(shown, ["pod web-POD failed: exit code ", " on NODE"]);
    }

    #[test]
    fn a_cluster_lists_tests_jobs_builds_days_and_sig() {
        let f = |job, test, build, started, pr| Failure {
            job,
            test,
            build,
            text: "boom",
            started: Some(started),
            pr,
            passed: Some(false),
        };
        let failures = [
            f("ci-e2e", "[sig-network] DNS works", "10", 2 * DAY + 5, None),
            f("ci-e2e", "[sig-network] DNS works", "11", 3 * DAY + 5, None),
            f(
                "pull-e2e",
                "[sig-network] DNS works",
                "7",
                3 * DAY + 9,
                Some(42),
            ),
            f("ci-e2e", "[sig-apps] Deployment", "11", 3 * DAY + 5, None),
        ];
        let c = describe(
            &failures,
            "boom".to_string(),
            &[0, 1, 2, 3],
            &["boom".to_string()],
        );
        assert_eq!(c.count, 4);
        assert_eq!((c.ci, c.pr), (3, 1));
        assert_eq!(c.sig.as_deref(), Some("sig-network"));
        assert_eq!(c.tests[0].name, "[sig-network] DNS works");
        assert_eq!(c.tests[0].jobs[0].name, "ci-e2e");
        assert_eq!(c.tests[0].jobs[0].builds, ["11", "10"]);
        assert_eq!(c.builds.len(), 3, "build 11 of ci-e2e is one build");
        assert_eq!(c.builds[0].build, "7");
        assert_eq!(c.builds[1].failures, 2);
        assert_eq!(c.days, [(2 * DAY, 1), (3 * DAY, 3)]);
        assert_eq!(c.id, cluster_id("boom"));
        assert_eq!(c.id.len(), 16);
    }
}
