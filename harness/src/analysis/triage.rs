//! Failure clusters the way Kubernetes triage (test-infra/triage) builds them:
//! normalise the text (timestamps, UUIDs, hex ids, IPs and ports, pod, namespace and
//! node names), then group texts whose edit distance is under 10% of their mean
//! length — first within each test, then the clusters across tests and jobs. A 4-gram
//! histogram gives a cheap lower bound on the edit distance, so most pairs are
//! rejected without computing it.

use regex::Regex;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

/// Texts are compared on their first this-many bytes (after normalisation).
pub const MAX_COMPARED_BYTES: usize = 2000;
/// Distance allowed, as a share of the two texts' mean length.
pub const MAX_DISTANCE_SHARE: f64 = 0.10;

/// One failing cell's message (borrowed from the grids it came from).
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    pub job: &'a str,
    pub test: &'a str,
    pub build: &'a str,
    pub text: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// Failures in the cluster.
    pub count: u64,
    /// The normalised text of its most common member.
    pub representative: String,
    /// One real message from it.
    pub example: String,
    /// Tests with their failure counts, most first.
    pub tests: Vec<(String, u64)>,
    pub jobs: Vec<String>,
}

/// Everything that varies between occurrences of one failure, as one alternation so a
/// message is scanned once. Leftmost match wins, then the first alternative: pod
/// names before hex ids (their hash segment looks like hex), nodes before namespaces.
static NORMALIZER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // 2024-03-01T10:00:01.5Z, 2024-03-01 10:00:01
        r"(?P<time>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
        // May 27 01:21:18.458 (Ginkgo v1), I0512 21:01:20.962188 (klog), 10:04:41.2
        r"|\b[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?",
        r"|\b[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+",
        r"|\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b)",
        // 03/01/24 (Ginkgo v2)
        r"|(?P<date>\b\d{2}/\d{2}/\d{2}\b)",
        r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)",
        r"|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b|\[[0-9a-fA-F:]*:[0-9a-fA-F:]+\](?::\d{1,5})?)",
        // pods from deployments/replica sets and generateName: web-7d9f8b6c4-x2k9p
        r"|(?P<pod>\b(?P<podbase>[a-z0-9]+(?:-[a-z0-9]+)*?)-[a-z0-9]{8,10}-[a-z0-9]{5}\b)",
        // nodes: kind-worker2, e2e-123-minion-group-abcd, gke-pool-1-x7k2
        r"|(?P<node>\b[a-z0-9]+(?:-[a-z0-9]+)*-(?:minion|node|worker|control-plane|master)(?:-[a-z0-9]+)*\d*\b)",
        r"|(?P<hex>\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{8,}\b)",
        // e2e namespaces: services-8543, nsdeletetest-1234
        r"|(?P<ns>\b(?P<nsbase>[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*)-\d{3,6}\b)",
    ))
    .expect("valid normaliser pattern")
});

/// Replaces the parts of a failure message that differ between occurrences of the
/// same failure.
pub fn normalize(text: &str) -> String {
    let out = NORMALIZER.replace_all(text.trim(), |caps: &regex::Captures<'_>| {
        let with = |name: &str| caps.name(name).map(|m| m.as_str()).unwrap_or("");
        if caps.name("time").is_some() {
            "TIME".to_string()
        } else if caps.name("date").is_some() {
            "DATE".to_string()
        } else if caps.name("uuid").is_some() {
            "UUID".to_string()
        } else if caps.name("ip").is_some() {
            "IP".to_string()
        } else if caps.name("pod").is_some() {
            format!("{}-POD", with("podbase"))
        } else if caps.name("node").is_some() {
            "NODE".to_string()
        } else if caps.name("hex").is_some() {
            "HEX".to_string()
        } else {
            format!("{}-N", with("nsbase"))
        }
    });
    let mut out = out.into_owned();
    if out.len() > MAX_COMPARED_BYTES {
        let mut cut = MAX_COMPARED_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// A normalised text with its 4-gram histogram.
struct Shape {
    text: String,
    grams: [u16; 64],
}

impl Shape {
    fn new(text: String) -> Shape {
        let mut grams = [0u16; 64];
        for w in text.as_bytes().windows(4) {
            let h = u32::from_le_bytes([w[0], w[1], w[2], w[3]]).wrapping_mul(0x9E37_79B1);
            let slot = &mut grams[(h >> 26) as usize];
            *slot = slot.saturating_add(1);
        }
        Shape { text, grams }
    }

    /// Whether two texts are within 10% of their mean length of each other.
    fn close_to(&self, other: &Shape) -> bool {
        let (a, b) = (self.text.as_bytes(), other.text.as_bytes());
        let max = (MAX_DISTANCE_SHARE * (a.len() + b.len()) as f64 / 2.0) as usize;
        if a.len().abs_diff(b.len()) > max {
            return false;
        }
        // One edit changes at most 4 grams out and 4 in.
        let l1: usize = self
            .grams
            .iter()
            .zip(&other.grams)
            .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as usize)
            .sum();
        if l1 > 8 * max {
            return false;
        }
        bounded_edit_distance(a, b, max).is_some()
    }
}

/// Levenshtein distance if it is at most `max`, computed in a diagonal band.
pub fn bounded_edit_distance(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let inf = max + 1;
    let mut prev: Vec<usize> = (0..=b.len())
        .map(|j| if j <= max { j } else { inf })
        .collect();
    let mut cur = vec![inf; b.len() + 1];
    for i in 1..=a.len() {
        let lo = i.saturating_sub(max).max(1);
        let hi = (i + max).min(b.len());
        cur.fill(inf);
        cur[0] = if i <= max { i } else { inf };
        let mut row_min = cur[0];
        for j in lo..=hi {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let v = (prev[j - 1] + cost)
                .min(prev[j] + 1)
                .min(cur[j - 1] + 1)
                .min(inf);
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[b.len()] <= max).then_some(prev[b.len()])
}

/// A cluster being built: its shape (of its first, most common text) and members.
struct Group {
    shape: Shape,
    count: u64,
    example: String,
    tests: BTreeMap<String, u64>,
    jobs: BTreeSet<String>,
}

/// Greedy clustering: texts (most common first) join the first group they are close
/// to, else start one. Groups are indexed by length so only plausible ones are tried.
fn cluster_shapes(items: Vec<Group>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for item in items {
        let len = item.shape.text.len();
        let slack = (MAX_DISTANCE_SHARE * len as f64) as usize * 2 + 1;
        let found = by_len
            .range(len.saturating_sub(slack)..=len + slack)
            .flat_map(|(_, ids)| ids.iter().copied())
            .find(|g| groups[*g].shape.close_to(&item.shape));
        match found {
            Some(g) => {
                let group = &mut groups[g];
                group.count += item.count;
                for (t, n) in item.tests {
                    *group.tests.entry(t).or_default() += n;
                }
                group.jobs.extend(item.jobs);
            }
            None => {
                by_len.entry(len).or_default().push(groups.len());
                groups.push(item);
            }
        }
    }
    groups
}

/// Normalises every failure's text, each distinct raw text once, on two threads.
fn normalize_all(failures: &[Failure<'_>]) -> Vec<String> {
    let mut distinct: HashMap<&str, usize> = HashMap::new();
    let mut texts: Vec<&str> = Vec::new();
    let index: Vec<usize> = failures
        .iter()
        .map(|f| {
            *distinct.entry(f.text).or_insert_with(|| {
                texts.push(f.text);
                texts.len() - 1
            })
        })
        .collect();
    let half = texts.len() / 2;
    let (a, b) = texts.split_at(half);
    let (mut done, rest) = std::thread::scope(|s| {
        let other = s.spawn(|| b.iter().map(|t| normalize(t)).collect::<Vec<_>>());
        let mine: Vec<String> = a.iter().map(|t| normalize(t)).collect();
        (mine, other.join().unwrap_or_default())
    });
    done.extend(rest);
    index
        .into_iter()
        .map(|i| done.get(i).cloned().unwrap_or_default())
        .collect()
}

/// Clusters failure messages: within each test first, then across tests and jobs.
/// Clusters come out largest first.
pub fn cluster(failures: &[Failure<'_>]) -> Vec<Cluster> {
    let normalized = normalize_all(failures);
    // Identical normalised texts of one test are one item from the start.
    let mut exact: HashMap<(&str, String), Group> = HashMap::new();
    for (f, norm) in failures.iter().zip(normalized) {
        let g = exact
            .entry((f.test, norm))
            .or_insert_with_key(|(_, norm)| Group {
                shape: Shape::new(norm.clone()),
                count: 0,
                example: f.text.to_string(),
                tests: BTreeMap::new(),
                jobs: BTreeSet::new(),
            });
        g.count += 1;
        // Look up before inserting: a million failures must not mean a million clones.
        match g.tests.get_mut(f.test) {
            Some(n) => *n += 1,
            None => {
                g.tests.insert(f.test.to_string(), 1);
            }
        }
        if !g.jobs.contains(f.job) {
            g.jobs.insert(f.job.to_string());
        }
    }
    let mut per_test: BTreeMap<&str, Vec<Group>> = BTreeMap::new();
    for ((test, _), g) in exact {
        per_test.entry(test).or_default().push(g);
    }
    let mut test_clusters = Vec::new();
    for (_, mut items) in per_test {
        items.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.shape.text.cmp(&b.shape.text))
        });
        test_clusters.extend(cluster_shapes(items));
    }
    test_clusters.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.shape.text.cmp(&b.shape.text))
    });
    let mut global = cluster_shapes(test_clusters);
    global.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.shape.text.cmp(&b.shape.text))
    });
    global
        .into_iter()
        .map(|g| {
            let mut tests: Vec<(String, u64)> = g.tests.into_iter().collect();
            tests.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Cluster {
                count: g.count,
                representative: g.shape.text,
                example: g.example,
                tests,
                jobs: g.jobs.into_iter().collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_removes_what_varies() {
        let a = normalize(
            "I0512 21:01:20.962188 pod web-7d9f8b6c4-x2k9p on node kind-worker2 in ns services-8543 \
             failed: dial tcp 10.96.0.12:443: i/o timeout (uid 6b1e0c1a-1d7e-4a55-9a4e-0f0a1b2c3d4e, 0xc000a1)",
        );
        assert_eq!(
            a,
            "TIME pod web-POD on node NODE in ns services-N failed: dial tcp IP: i/o timeout (uid UUID, HEX)"
        );
        assert_eq!(normalize("at 2024-03-01T10:00:01.5Z"), "at TIME");
    }

    #[test]
    fn edit_distance_is_exact_within_the_band() {
        assert_eq!(bounded_edit_distance(b"kitten", b"sitting", 3), Some(3));
        assert_eq!(bounded_edit_distance(b"kitten", b"sitting", 2), None);
        assert_eq!(bounded_edit_distance(b"", b"abc", 3), Some(3));
        assert_eq!(bounded_edit_distance(b"same", b"same", 0), Some(0));
    }

    fn f<'a>(job: &'a str, test: &'a str, text: &'a str) -> Failure<'a> {
        Failure {
            job,
            test,
            build: "1",
            text,
        }
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
            dns.tests,
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
}
