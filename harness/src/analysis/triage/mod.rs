//! Failure clusters the way Kubernetes triage (test-infra `triage/summarize`) builds
//! them: normalise each failure's text ([`normalize`]), group a test's texts whose
//! edit distance is under 10% of their mean length ([`distance`]), then merge those
//! clusters across tests and jobs by the same rule.
//!
//! Where trellis differs from triage, on purpose: it normalises more (namespaces, pod
//! hashes, node names, IPv6), tries texts most common first (so a cluster's key is its
//! most common text, not whichever came first), and is deterministic (triage merges
//! across tests in parallel, in whatever order its goroutines run).
//!
//! Each cluster comes with what a triage user reads: its tests, jobs and failing builds,
//! when they ran and whether they were pull-request builds, the owning SIG, a stable id,
//! and which parts of its text every member shares ([`detail`]).

pub mod detail;
pub mod distance;
mod labels;
pub mod normalize;

pub use detail::{BuildHit, Cluster, ClusterJob, ClusterTest};
pub use distance::Shape;
pub use labels::InfraMatcher;
pub use normalize::{normalize, MAX_COMPARED_BYTES};

/// A failure text as triage compares it: normalised, with its gram histogram.
pub fn shape_of(text: &str) -> Shape {
    Shape::new(normalize(text))
}

/// Whether triage would put the two texts in one cluster: equal once normalised, or
/// within the edit distance its rule allows.
pub fn same_failure(a: &Shape, b: &Shape) -> bool {
    a.text == b.text || (distance::plausible(a, b, a.gram_distance(b)) && distance::matches(a, b))
}

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One failing cell's message (borrowed from the grids it came from).
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    pub job: &'a str,
    pub test: &'a str,
    pub build: &'a str,
    pub text: &'a str,
    /// When the build started (Unix seconds).
    pub started: Option<i64>,
    /// The pull request the build tested, for presubmits.
    pub pr: Option<u64>,
    /// The build's own result, when it finished.
    pub passed: Option<bool>,
}

impl Failure<'_> {
    /// A pull-request build: it names a PR, or its job is a Prow presubmit (`pull-…`).
    pub fn is_pr(&self) -> bool {
        self.pr.is_some() || self.job.starts_with("pull-")
    }
}

/// Normalised texts of a cluster's members kept to find the text they all share.
const COMMON_SAMPLE: usize = 32;

/// A cluster being built: the shape of its key (its first, most common text), the
/// failures in it (indices into the input) and a sample of the other texts it took
/// in. Only a sample: a cluster of 50,000 distinct texts must not hold them all.
struct Group {
    shape: Shape,
    members: Vec<u32>,
    keys: Vec<String>,
}

impl Group {
    fn absorb(&mut self, other: Group) {
        self.members.extend(other.members);
        let room = COMMON_SAMPLE.saturating_sub(self.keys.len());
        let taken = std::iter::once(other.shape.text).chain(other.keys);
        self.keys.extend(taken.take(room));
    }
}

/// Groups by edit distance, most common first. Each item joins the closest plausible
/// group (by the gram estimate) whose distance is under the limit, else starts one.
/// Groups are indexed by length: only those within the limit's reach are looked at.
#[derive(Default)]
struct Clusterer {
    groups: Vec<Group>,
    by_key: HashMap<String, usize>,
    by_len: BTreeMap<usize, Vec<usize>>,
}

impl Clusterer {
    fn seed(&mut self, key: String) {
        if self.by_key.contains_key(&key) {
            return;
        }
        self.start(Group {
            shape: Shape::new(key),
            members: Vec::new(),
            keys: Vec::new(),
        });
    }

    fn start(&mut self, group: Group) {
        let id = self.groups.len();
        self.by_key.insert(group.shape.text.clone(), id);
        self.by_len.entry(group.shape.len()).or_default().push(id);
        self.groups.push(group);
    }

    /// The group `shape` belongs to, if any.
    fn find(&self, shape: &Shape) -> Option<usize> {
        if let Some(&id) = self.by_key.get(&shape.text) {
            return Some(id);
        }
        // limit(a, b) <= 0.1 * max(a, b): a longer text within reach has
        // len <= a / 0.9, a shorter one len >= 0.9 * a.
        let len = shape.len();
        let (lo, hi) = (len * 9 / 10, len * 10 / 9 + 1);
        let mut candidates: Vec<(usize, usize)> = self
            .by_len
            .range(lo..=hi)
            .flat_map(|(_, ids)| ids.iter().copied())
            .filter_map(|id| {
                let other = &self.groups[id].shape;
                let estimate = shape.gram_distance(other);
                distance::plausible(shape, other, estimate).then_some((estimate, id))
            })
            .collect();
        candidates.sort_unstable();
        candidates
            .into_iter()
            .map(|(_, id)| id)
            .find(|id| distance::matches(shape, &self.groups[*id].shape))
    }

    fn add(&mut self, group: Group) {
        match self.find(&group.shape) {
            Some(id) => self.groups[id].absorb(group),
            None => self.start(group),
        }
    }
}

/// Most failures first, then by text, then by first failure: the order groups are
/// tried and printed in. The last key matters: two tests' groups may share size and
/// text, and the threads clustering tests finish in any order, so without it which
/// group absorbs the other (and so a cluster's example) changed from run to run.
fn by_size(a: &Group, b: &Group) -> std::cmp::Ordering {
    b.members
        .len()
        .cmp(&a.members.len())
        .then_with(|| a.shape.text.cmp(&b.shape.text))
        .then_with(|| a.members.first().cmp(&b.members.first()))
}

/// One test's failures clustered: identical normalised texts first, then by distance.
fn cluster_test(failures: &[Failure<'_>], members: &[u32]) -> Vec<Group> {
    let mut normalized: HashMap<&str, usize> = HashMap::new();
    let mut keys: Vec<Group> = Vec::new();
    let mut by_text: HashMap<String, usize> = HashMap::new();
    for &i in members {
        let text = failures[i as usize].text;
        let slot = match normalized.get(text) {
            Some(&slot) => slot,
            None => {
                let key = normalize(text);
                let slot = *by_text.entry(key.clone()).or_insert_with(|| {
                    keys.push(Group {
                        shape: Shape::new(key),
                        members: Vec::new(),
                        keys: Vec::new(),
                    });
                    keys.len() - 1
                });
                normalized.insert(text, slot);
                slot
            }
        };
        keys[slot].members.push(i);
    }
    keys.sort_by(by_size);
    let mut clusterer = Clusterer::default();
    for item in keys {
        clusterer.add(item);
    }
    clusterer.groups
}

/// Clusters failure messages: within each test first (tests spread over the machine's
/// cores), then across tests and jobs. Clusters come out largest first.
pub fn cluster(failures: &[Failure<'_>]) -> Vec<Cluster> {
    cluster_seeded(failures, &[])
}

/// [`cluster`], keeping the keys of an earlier run's clusters (Kubernetes triage's
/// `--previous`): a failure that matches one joins it, so its id stays the same from
/// one run to the next.
pub fn cluster_seeded(failures: &[Failure<'_>], previous: &[String]) -> Vec<Cluster> {
    let mut by_test: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (i, f) in failures.iter().enumerate() {
        by_test.entry(f.test).or_default().push(i as u32);
    }
    let mut tests: Vec<(&str, Vec<u32>)> = by_test.into_iter().collect();
    // Biggest tests first, so the last one to finish is a small one.
    tests.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));

    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Group>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(16));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let at = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, members)) = tests.get(at) else {
                    break;
                };
                let groups = cluster_test(failures, members);
                done.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(groups);
            });
        }
    });
    let mut local = done.into_inner().unwrap_or_else(|e| e.into_inner());
    local.sort_by(by_size);

    let mut global = Clusterer::default();
    for key in previous {
        global.seed(key.clone());
    }
    for group in local {
        global.add(group);
    }
    let mut groups: Vec<Group> = global
        .groups
        .into_iter()
        .filter(|g| !g.members.is_empty())
        .collect();
    groups.sort_by(by_size);
    groups
        .into_iter()
        .map(|mut g| {
            // The key is a member text too.
            g.keys.push(g.shape.text.clone());
            detail::describe(failures, g.shape.text, &g.members, &g.keys)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f<'a>(job: &'a str, test: &'a str, text: &'a str) -> Failure<'a> {
        Failure {
            job,
            test,
            build: "1",
            text,
            started: None,
            pr: None,
            passed: Some(false),
        }
    }

    fn test_counts(c: &Cluster) -> Vec<(String, u64)> {
        c.tests.iter().map(|t| (t.name.clone(), t.count)).collect()
    }

    #[test]
    fn clusters_within_and_across_tests() {
        let timeout = |ns: u32, ip: &str| {
            format!("timed out waiting for the condition on pods in namespace dns-{ns}: dial {ip}:53 refused")
        };
        let texts = [
            timeout(1234, "10.0.0.1"),
            timeout(5678, "10.0.0.2"),
            timeout(9012, "10.0.0.3"),
            timeout(3456, "10.0.0.4"),
        ];
        let failures = vec![
            f("job-a", "DNS works", &texts[0]),
            f("job-a", "DNS works", &texts[1]),
            f("job-b", "DNS works", &texts[2]),
            f("job-b", "DNS for services", &texts[3]),
            f(
                "job-a",
                "Pods start",
                "expected pod phase Running, got Pending after 5m0s",
            ),
            f(
                "job-a",
                "Pods start",
                "expected pod phase Running, got Pending after 10m0s",
            ),
            f(
                "job-c",
                "Volumes",
                "mount failed: exit status 32: wrong fs type, bad option, bad superblock",
            ),
        ];
        let clusters = cluster(&failures);
        assert_eq!(clusters.len(), 3, "{clusters:#?}");
        let dns = &clusters[0];
        assert_eq!(dns.count, 4);
        assert_eq!(
            test_counts(dns),
            [
                ("DNS works".to_string(), 3),
                ("DNS for services".to_string(), 1)
            ]
        );
        assert_eq!(dns.jobs, ["job-a", "job-b"]);
        assert!(dns.representative.contains("dns-N") && dns.representative.contains("IP"));
        assert_eq!(clusters[1].count, 2, "5m0s vs 10m0s is a small edit");
        // "Pending" vs "Failed" is 6 edits in a 50-byte text: over 10%, two clusters.
        let split = cluster(&[
            f(
                "j",
                "t",
                "expected pod phase Running, got Pending after 5m0s",
            ),
            f(
                "j",
                "t",
                "expected pod phase Running, got Failed after 5m0s",
            ),
        ]);
        assert_eq!(split.len(), 2);
    }

    /// #16 item 1, across tests: two causes whose texts are exactly `limit` apart stay
    /// two clusters.
    #[test]
    fn texts_exactly_at_the_limit_stay_apart_across_tests() {
        let refused = "dial tcp IP: connect: connection refused";
        let other = "dial tcp IP: connect: connection reXXXXd";
        let clusters = cluster(&[f("j", "a", refused), f("j", "b", other)]);
        assert_eq!(clusters.len(), 2, "{clusters:#?}");
    }

    /// #16 item 4: 20 failures of one cause whose Go map prints in a different order
    /// each time are one cluster.
    #[test]
    fn go_map_orders_do_not_split_a_cause() {
        let entries = ["app:web", "tier:front", "zone:us-a", "pool:blue", "rev:7"];
        let texts: Vec<String> = (0..20)
            .map(|i| {
                let mut e = entries.to_vec();
                e.rotate_left(i % 5);
                if i % 2 == 1 {
                    e.reverse();
                }
                format!("selector map[{}] matched no pods", e.join(" "))
            })
            .collect();
        let failures: Vec<Failure<'_>> = texts.iter().map(|t| f("j", "t", t)).collect();
        assert_eq!(cluster(&failures).len(), 1);
    }

    /// #16 item 2: three bring-up failures sharing a 2.3 KB log differ only after it;
    /// compared on 10,000 bytes they stay three clusters.
    #[test]
    fn failures_that_differ_after_a_long_shared_log_stay_apart() {
        let log: String = (0..60)
            .map(|i| format!("[certs] Generating certificate {i} and key\n"))
            .collect();
        assert!(log.len() > 2300);
        let endings = [
            "[kubelet-check] Initial timeout of 40s passed. Unfortunately, an error has occurred: \
             timed out waiting for the condition. This error is likely caused by: the kubelet is \
             not running, or the kubelet is unhealthy due to a misconfiguration of the node in \
             some way (required cgroups disabled). ERROR: failed to init node with kubeadm",
            "error execution phase upload-config/kubelet: Error writing Crisocket information \
             for the control-plane node: nodes \"kind-control-plane\" not found. The API server \
             accepted the kubeadm configuration but the node object never appeared, so the \
             upload of the kubelet configuration could not finish. ERROR: exit status 1",
            "ERROR: failed to join node with kubeadm: command \"kubeadm join --config \
             /kind/kubeadm.conf --skip-phases=preflight\" failed with error: exit status 1. \
             Command Output: error execution phase kubelet-start: error uploading crisocket: \
             Unauthorized; the bootstrap token had expired before the worker came up at all",
        ];
        // Each failure's own part, with its detail, is about 700 bytes.
        let texts: Vec<String> = endings
            .iter()
            .map(|e| format!("{log}{e}\ndetail: {e}"))
            .collect();
        let failures: Vec<Failure<'_>> = texts
            .iter()
            .flat_map(|t| [f("j", "setup", t), f("k", "setup", t)])
            .collect();
        let clusters = cluster(&failures);
        assert_eq!(
            clusters.len(),
            3,
            "{:?}",
            clusters.iter().map(|c| c.count).collect::<Vec<_>>()
        );
        assert!(clusters
            .iter()
            .all(|c| c.representative.ends_with(|ch: char| ch.is_alphanumeric())));
    }

    #[test]
    fn previous_keys_keep_their_ids() {
        let first = cluster(&[f("j", "t", "etcd leader changed 3 times")]);
        let id = first[0].id.clone();
        let keys: Vec<String> = first.iter().map(|c| c.representative.clone()).collect();
        // A later run whose most common text differs slightly still lands on the old key.
        let later = cluster_seeded(
            &[
                f("j", "t", "etcd leader changed 4 times"),
                f("j", "t", "etcd leader changed 4 times"),
            ],
            &keys,
        );
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].id, id);
        assert_eq!(later[0].representative, "etcd leader changed 3 times");
    }
}
