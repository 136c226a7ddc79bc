//! `trellis bench triage`: trellis's failure clustering on a labelled corpus, timed,
//! its memory measured, and scored against the true causes and against a reference
//! that follows Kubernetes triage's rules.
//!
//! The reference is needed because the Go triage (`k8s.io/test-infra/triage`) cannot
//! be built here: the module proxy refuses `k8s.io/test-infra` (403). It is written
//! from the behaviour test-infra's `triage/summarize` documents and implements:
//! triage's two normalisation patterns (dates to `TIME`; hex constants, IPv4 with port,
//! UUIDs, 12-32 hex runs and `minion-group-`/`default-pool-` node names renumbered
//! `UNIQ1`, `UNIQ2`, … in order of appearance), its `map[…]` sorting and 10,000-byte
//! head and tail; per test, failures in input order join the first existing cluster
//! (tried closest first by a CRC-32 4-gram histogram estimate, which must not exceed
//! the limit) whose edit distance is under 10% of the mean length; then across tests,
//! tests with most failures first and their clusters largest first. Its time is not
//! the Go tool's and is not reported as such.

use super::triage_corpus::{corpus, LabelledFailure, Variation};
use crate::analysis::triage::{self, distance, Failure};
use regex::Regex;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// One corpus size's figures.
pub struct TriageFigures {
    pub failures: usize,
    pub causes: usize,
    pub clusters: usize,
    pub reference_clusters: usize,
    pub elapsed: Duration,
    /// Peak resident memory while clustering (the corpus itself included), if known;
    /// when the kernel would not reset the peak mark, the process's peak so far (an
    /// upper bound).
    pub peak_rss_mb: Option<f64>,
    /// Whether the peak mark was reset before clustering.
    pub peak_is_exact: bool,
    /// The corpus's own text (messages and names), in MB: part of the peak.
    pub corpus_mb: f64,
    /// trellis's clusters scored pairwise against the reference's.
    pub vs_reference: PairScore,
    pub ari_trellis: f64,
    pub ari_reference: f64,
    /// Per cause: failures, then for trellis and the reference the clusters its
    /// failures are spread over and the share in the largest of them.
    pub per_cause: Vec<CauseSpread>,
}

pub struct CauseSpread {
    pub failures: usize,
    pub trellis: (usize, f64),
    pub reference: (usize, f64),
}

/// Over how many clusters each true cause is spread, and its largest share.
fn spread(found: &[usize], truth: &[usize], causes: usize) -> Vec<(usize, usize, f64)> {
    let Contingency { both, right, .. } = contingency(found, truth);
    (0..causes)
        .map(|cause| {
            let total = right.get(&cause).copied().unwrap_or(0);
            let parts: Vec<u64> = both
                .iter()
                .filter(|((_, c), _)| *c == cause)
                .map(|(_, n)| *n)
                .collect();
            let largest = parts.iter().max().copied().unwrap_or(0);
            (
                total as usize,
                parts.len(),
                if total > 0 {
                    largest as f64 / total as f64
                } else {
                    0.0
                },
            )
        })
        .collect()
}

/// Pairwise precision and recall of a clustering against another: of the pairs of
/// failures one puts together, the share the other also does, and the converse.
#[derive(Debug, Clone, Copy)]
pub struct PairScore {
    pub precision: f64,
    pub recall: f64,
}

fn pairs(n: u64) -> f64 {
    (n as f64) * (n as f64 - 1.0) / 2.0
}

/// Contingency counts of two labelings of the same items: per pair of labels, and
/// per label of each.
struct Contingency {
    both: HashMap<(usize, usize), u64>,
    left: HashMap<usize, u64>,
    right: HashMap<usize, u64>,
}

fn contingency(a: &[usize], b: &[usize]) -> Contingency {
    let mut both = HashMap::new();
    let mut left = HashMap::new();
    let mut right = HashMap::new();
    for (x, y) in a.iter().zip(b) {
        *both.entry((*x, *y)).or_insert(0) += 1;
        *left.entry(*x).or_insert(0) += 1;
        *right.entry(*y).or_insert(0) += 1;
    }
    Contingency { both, left, right }
}

/// Pairwise precision and recall of `found` against `truth`.
pub fn pair_score(found: &[usize], truth: &[usize]) -> PairScore {
    let Contingency { both, left, right } = contingency(found, truth);
    let together: f64 = both.values().map(|n| pairs(*n)).sum();
    let found_pairs: f64 = left.values().map(|n| pairs(*n)).sum();
    let true_pairs: f64 = right.values().map(|n| pairs(*n)).sum();
    PairScore {
        precision: if found_pairs > 0.0 {
            together / found_pairs
        } else {
            1.0
        },
        recall: if true_pairs > 0.0 {
            together / true_pairs
        } else {
            1.0
        },
    }
}

/// The adjusted Rand index of two labelings (1 = identical, about 0 = chance).
pub fn adjusted_rand(a: &[usize], b: &[usize]) -> f64 {
    let Contingency { both, left, right } = contingency(a, b);
    let index: f64 = both.values().map(|n| pairs(*n)).sum();
    let sa: f64 = left.values().map(|n| pairs(*n)).sum();
    let sb: f64 = right.values().map(|n| pairs(*n)).sum();
    let total = pairs(a.len() as u64);
    if total == 0.0 {
        return 1.0;
    }
    let expected = sa * sb / total;
    let max = (sa + sb) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

/// Which cluster each failure landed in, from trellis's clusters (matched back by
/// job, test and build: the corpus never repeats a (job, test, build, text)).
fn labels_of(failures: &[Failure<'_>], clusters: &[triage::Cluster]) -> Vec<usize> {
    let mut at: HashMap<(&str, &str, &str), Vec<usize>> = HashMap::new();
    for (i, f) in failures.iter().enumerate() {
        at.entry((f.job, f.test, f.build)).or_default().push(i);
    }
    let mut labels = vec![usize::MAX; failures.len()];
    for (c, cluster) in clusters.iter().enumerate() {
        for t in &cluster.tests {
            for j in &t.jobs {
                for b in &j.builds {
                    if let Some(ids) = at.get(&(j.name.as_str(), t.name.as_str(), b.as_str())) {
                        for &i in ids {
                            labels[i] = c;
                        }
                    }
                }
            }
        }
    }
    labels
}

/// Resets the kernel's peak-RSS mark for this process (Linux); false when it did
/// not take (some kernels and sandboxes accept the write and keep the old peak).
fn reset_peak_rss() -> bool {
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        return false;
    }
    match (status_mb("VmHWM:"), status_mb("VmRSS:")) {
        (Some(peak), Some(now)) => peak <= now + 1.0,
        _ => false,
    }
}

/// Peak resident memory since the last reset, in MB (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// A `/proc/self/status` figure given in kB, in MB.
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn borrow(corpus: &[LabelledFailure]) -> Vec<Failure<'_>> {
    corpus
        .iter()
        .map(|f| Failure {
            job: &f.job,
            test: &f.test,
            build: &f.build,
            text: &f.text,
            started: Some(f.started),
            pr: f.pr,
            passed: Some(false),
        })
        .collect()
}

/// Clusters a corpus of `n` failures and scores the result.
pub fn run(n: usize, variation: Variation) -> TriageFigures {
    let corpus = corpus(n, variation);
    let failures = borrow(&corpus);
    let truth: Vec<usize> = corpus.iter().map(|f| f.cause).collect();
    let peak_is_exact = reset_peak_rss();
    let start = Instant::now();
    let clusters = triage::cluster(&failures);
    let elapsed = start.elapsed();
    let peak_rss_mb = peak_rss_mb();
    let mine = labels_of(&failures, &clusters);
    let (reference, reference_clusters) = reference::cluster(&failures);
    let causes = truth.iter().max().map_or(0, |m| m + 1);
    let per_cause = spread(&mine, &truth, causes)
        .into_iter()
        .zip(spread(&reference, &truth, causes))
        .map(|((failures, tc, ts), (_, rc, rs))| CauseSpread {
            failures,
            trellis: (tc, ts),
            reference: (rc, rs),
        })
        .collect();
    let corpus_mb = corpus
        .iter()
        .map(|f| f.text.len() + f.job.len() + f.test.len() + f.build.len())
        .sum::<usize>() as f64
        / 1e6;
    TriageFigures {
        corpus_mb,
        peak_is_exact,
        per_cause,
        failures: n,
        causes: truth
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        clusters: clusters.len(),
        reference_clusters,
        elapsed,
        peak_rss_mb,
        vs_reference: pair_score(&mine, &reference),
        ari_trellis: adjusted_rand(&mine, &truth),
        ari_reference: adjusted_rand(&reference, &truth),
    }
}

/// Kubernetes triage's rules, for comparison (see the module documentation).
mod reference {
    use super::*;
    use std::sync::LazyLock;

    static DATES: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"[A-Z][a-z]{2}, \d+ \w+ 2\d{3} [\d.-: ]*([-+]\d+)?",
            r"|\w{3}\s+\d{1,2} \d+:\d+:\d+(\.\d+)?",
            r"|(\d{4}-\d\d-\d\d.|.\d{4} )\d\d:\d\d:\d\d(.\d+)?",
        ))
        .expect("valid pattern")
    });
    static ORDINALS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"0x[0-9a-fA-F]+",
            r"|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?",
            r"|[0-9a-fA-F]{8}-\S{4}-\S{4}-\S{4}-\S{12}(-\d+)?",
            r"|[0-9a-f]{12,32}",
            r"|(minion-group-|default-pool-)[-0-9a-z]{4,}",
        ))
        .expect("valid pattern")
    });
    static MAP: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"map\[([^\[\]]*)\]").expect("valid pattern"));

    fn normalize(text: &str) -> String {
        let s = DATES.replace_all(text, "TIME");
        let s = if s.contains("map[") {
            MAP.replace_all(&s, |c: &regex::Captures<'_>| {
                let mut parts: Vec<&str> = c[1].split(' ').collect();
                parts.sort_unstable();
                format!("map[{}]", parts.join(" "))
            })
            .into_owned()
        } else {
            s.into_owned()
        };
        let mut seen: HashMap<String, String> = HashMap::new();
        let s = ORDINALS
            .replace_all(&s, |c: &regex::Captures<'_>| {
                let next = seen.len() + 1;
                seen.entry(c[0].to_string())
                    .or_insert_with(|| format!("UNIQ{next}"))
                    .clone()
            })
            .into_owned();
        // The same long-text rule as trellis: it is triage's.
        triage::normalize::shorten(s)
    }

    struct Key {
        text: String,
        grams: [u32; 64],
    }

    impl Key {
        fn new(text: String) -> Key {
            let mut grams = [0u32; 64];
            for w in text.as_bytes().windows(4) {
                let mut crc = flate2::Crc::new();
                crc.update(w);
                grams[(crc.sum() & 63) as usize] += 1;
            }
            Key { text, grams }
        }

        fn estimate(&self, other: &Key) -> usize {
            let l1: u32 = self
                .grams
                .iter()
                .zip(&other.grams)
                .map(|(a, b)| a.abs_diff(*b))
                .sum();
            l1 as usize / 4
        }
    }

    /// Index of the cluster `key` joins, among `keys` (indexed by length).
    fn find(key: &Key, keys: &[Key], by_len: &BTreeMap<usize, Vec<usize>>) -> Option<usize> {
        if let Some(i) = keys.iter().position(|k| k.text == key.text) {
            return Some(i);
        }
        let len = key.text.len();
        let mut candidates: Vec<(usize, usize)> = by_len
            .range(len * 9 / 10..=len * 10 / 9 + 1)
            .flat_map(|(_, v)| v.iter().copied())
            .map(|i| (key.estimate(&keys[i]), i))
            .collect();
        candidates.sort_unstable();
        candidates.into_iter().find_map(|(estimate, i)| {
            let other = &keys[i].text;
            let limit = distance::limit(len, other.len());
            if estimate > limit || (limit <= 1 && *other != key.text) || limit == 0 {
                return None;
            }
            distance::edit_distance_within(key.text.as_bytes(), other.as_bytes(), limit - 1)
                .map(|_| i)
        })
    }

    struct Clusters {
        keys: Vec<Key>,
        by_len: BTreeMap<usize, Vec<usize>>,
        exact: HashMap<String, usize>,
        members: Vec<Vec<usize>>,
    }

    impl Clusters {
        fn new() -> Clusters {
            Clusters {
                keys: Vec::new(),
                by_len: BTreeMap::new(),
                exact: HashMap::new(),
                members: Vec::new(),
            }
        }

        fn add(&mut self, text: String, members: Vec<usize>) {
            let found = match self.exact.get(&text) {
                Some(&i) => Some(i),
                None => find(&Key::new(text.clone()), &self.keys, &self.by_len),
            };
            match found {
                Some(i) => self.members[i].extend(members),
                None => {
                    let i = self.keys.len();
                    self.by_len.entry(text.len()).or_default().push(i);
                    self.exact.insert(text.clone(), i);
                    self.keys.push(Key::new(text));
                    self.members.push(members);
                }
            }
        }
    }

    /// Each failure's cluster, and how many clusters there are.
    pub fn cluster(failures: &[Failure<'_>]) -> (Vec<usize>, usize) {
        let mut by_test: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, f) in failures.iter().enumerate() {
            by_test.entry(f.test).or_default().push(i);
        }
        let mut tests: Vec<(&str, Clusters)> = by_test
            .into_iter()
            .map(|(test, ids)| {
                let mut local = Clusters::new();
                for i in ids {
                    local.add(normalize(failures[i].text), vec![i]);
                }
                (test, local)
            })
            .collect();
        tests
            .sort_by_key(|(_, c)| std::cmp::Reverse(c.members.iter().map(Vec::len).sum::<usize>()));
        let mut global = Clusters::new();
        for (_, local) in tests {
            let mut order: Vec<usize> = (0..local.keys.len()).collect();
            order.sort_by_key(|i| std::cmp::Reverse(local.members[*i].len()));
            let mut keys: Vec<Option<Key>> = local.keys.into_iter().map(Some).collect();
            let mut members = local.members;
            for i in order {
                if let Some(key) = keys[i].take() {
                    global.add(key.text, std::mem::take(&mut members[i]));
                }
            }
        }
        let mut labels = vec![0; failures.len()];
        for (c, ids) in global.members.iter().enumerate() {
            for &i in ids {
                labels[i] = c;
            }
        }
        let count = global.members.iter().filter(|m| !m.is_empty()).count();
        (labels, count)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_reference_renumbers_as_triage_does() {
            assert_eq!(
                super::normalize("at 0xc000a1 and 10.0.0.1:80 then 0xc000a1"),
                "at UNIQ1 and UNIQ2 then UNIQ1"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_right_on_small_cases() {
        let truth = [0, 0, 1, 1];
        assert!((adjusted_rand(&truth, &truth) - 1.0).abs() < 1e-9);
        let all_one = [0, 0, 0, 0];
        let s = pair_score(&all_one, &truth);
        assert!((s.precision - 2.0 / 6.0).abs() < 1e-9 && (s.recall - 1.0).abs() < 1e-9);
        assert!(adjusted_rand(&all_one, &truth).abs() < 1e-9);
    }

    /// The benchmark's figures on small corpora, which can fail: where only what
    /// triage normalises varies, trellis's clusters are triage's; with all the real
    /// variation, trellis is closer to the true causes.
    #[test]
    fn trellis_agrees_with_triage_where_it_can_and_beats_it_on_real_variation() {
        let same = run(2000, Variation::TriageNormalised);
        assert!(
            same.vs_reference.precision >= 0.9,
            "precision {:.3}",
            same.vs_reference.precision
        );
        assert!(
            same.vs_reference.recall >= 0.9,
            "recall {:.3}",
            same.vs_reference.recall
        );
        let real = run(2000, Variation::Full);
        assert!(
            real.ari_trellis > real.ari_reference,
            "ARI {:.3} <= {:.3}",
            real.ari_trellis,
            real.ari_reference
        );
        assert!(real.ari_trellis >= 0.8, "ARI {:.3}", real.ari_trellis);
    }
}
