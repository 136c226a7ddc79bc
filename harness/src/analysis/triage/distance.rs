//! When two normalised failure texts are "the same failure": Kubernetes triage's rule,
//! computed fast.
//!
//! The rule (test-infra `triage/summarize` `findMatch`): with `limit` = 10% of the two
//! texts' mean length, rounded down, two texts match when their edit distance is
//! *below* `limit`. Candidates are first screened by a 4-gram histogram estimate (the
//! L1 distance of two 64-bucket histograms, divided by 4) which must not exceed
//! `limit`, and tried closest first. The estimate is triage's, and like triage's it is
//! a heuristic, not a strict lower bound: keeping it keeps trellis's clusters triage's.
//!
//! The edit distance is computed by furthest-reaching diagonals (Ukkonen, Landau and
//! Vishkin): cost grows with the distance, not with the product of the lengths, so two
//! 4 KB texts that differ in a few line numbers compare in microseconds, and the search
//! stops as soon as the distance reaches `limit`.

/// Histogram buckets of 4-grams.
const BUCKETS: usize = 64;

/// A normalised text with its 4-gram histogram.
#[derive(Debug, Clone)]
pub struct Shape {
    pub text: String,
    grams: [u16; BUCKETS],
}

impl Shape {
    pub fn new(text: String) -> Shape {
        let mut grams = [0u16; BUCKETS];
        for w in text.as_bytes().windows(4) {
            let h = u32::from_le_bytes([w[0], w[1], w[2], w[3]]).wrapping_mul(0x9E37_79B1);
            let slot = &mut grams[(h >> 26) as usize];
            *slot = slot.saturating_add(1);
        }
        Shape { text, grams }
    }

    /// The text's length in bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Triage's histogram estimate of the edit distance.
    pub fn gram_distance(&self, other: &Shape) -> usize {
        let l1: u32 = self
            .grams
            .iter()
            .zip(&other.grams)
            .map(|(x, y)| u32::from(x.abs_diff(*y)))
            .sum();
        l1 as usize / 4
    }
}

/// The distance two texts of these lengths must stay under to match: 10% of their
/// mean length, in single precision as triage computes it (so 40 and 40 give 4).
pub fn limit(a: usize, b: usize) -> usize {
    ((a + b) as f32 / 2.0 * 0.10) as usize
}

/// Whether a candidate passes the cheap checks: the gram estimate within `limit`, the
/// length difference (itself a lower bound) under it, and a limit of at least 2 unless
/// the texts are equal (triage: "no chance").
pub fn plausible(a: &Shape, b: &Shape, gram_distance: usize) -> bool {
    if a.text == b.text {
        return true;
    }
    let limit = limit(a.len(), b.len());
    gram_distance <= limit && a.len().abs_diff(b.len()) < limit && (limit > 1 || a.text == b.text)
}

/// Whether the two texts' edit distance is under their limit.
pub fn matches(a: &Shape, b: &Shape) -> bool {
    let limit = limit(a.len(), b.len());
    limit > 0 && edit_distance_within(a.text.as_bytes(), b.text.as_bytes(), limit - 1).is_some()
}

/// Levenshtein distance of `a` and `b` if it is at most `max`, else None.
///
/// For each number of edits `e`, `reach[d]` is the furthest row of `a` reached on
/// diagonal `d` (column − row) with `e` edits; each step extends a diagonal by a
/// substitution, an insertion or a deletion and then slides along equal bytes.
pub fn edit_distance_within(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let target = m - n;
    if target.unsigned_abs() > max {
        return None;
    }
    let k = max as isize;
    // Diagonals -k..=k, stored at d + k; NONE marks one not reached yet.
    const NONE: isize = isize::MIN / 2;
    let width = (2 * k + 1) as usize;
    let mut reach = vec![NONE; width];
    let mut next = vec![NONE; width];
    reach[k as usize] = slide(a, b, 0, 0);
    if reach[k as usize] == n && target == 0 {
        return Some(0);
    }
    for e in 1..=k {
        next.fill(NONE);
        // A diagonal can still end on the target only if the edits left cover the
        // distance between them.
        let lo = (-e).max(target - (k - e)).max(-n);
        let hi = e.min(target + (k - e)).min(m);
        for d in lo..=hi {
            let at = |v: &Vec<isize>, d: isize| -> isize {
                if d < -k || d > k {
                    NONE
                } else {
                    v[(d + k) as usize]
                }
            };
            let substitute = at(&reach, d).saturating_add(1);
            let delete = at(&reach, d + 1).saturating_add(1);
            let insert = at(&reach, d - 1);
            let mut row = substitute.max(delete).max(insert);
            if row < 0 {
                // Unreached, except the start of a diagonal below the main one.
                if d < 0 && e == -d {
                    row = -d;
                } else {
                    continue;
                }
            }
            let row = row.min(n).min(m - d);
            let row = slide(a, b, row, d);
            next[(d + k) as usize] = row;
            if d == target && row == n {
                return Some(e as usize);
            }
        }
        std::mem::swap(&mut reach, &mut next);
    }
    None
}

/// The furthest row from `row` on diagonal `d` along which `a` and `b` are equal,
/// compared eight bytes at a time.
fn slide(a: &[u8], b: &[u8], row: isize, d: isize) -> isize {
    let (i, j) = (row as usize, (row + d) as usize);
    if i > a.len() || j > b.len() {
        return row;
    }
    let (x, y) = (&a[i..], &b[j..]);
    let len = x.len().min(y.len());
    let mut same = 0;
    while same + 8 <= len {
        let u = u64::from_le_bytes(x[same..same + 8].try_into().unwrap_or([0; 8]));
        let v = u64::from_le_bytes(y[same..same + 8].try_into().unwrap_or([0; 8]));
        if u != v {
            return row + (same + ((u ^ v).trailing_zeros() / 8) as usize) as isize;
        }
        same += 8;
    }
    while same < len && x[same] == y[same] {
        same += 1;
    }
    row + same as isize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain quadratic definition, to check the fast one against.
    fn levenshtein(a: &[u8], b: &[u8]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len() + 1];
            for j in 1..=b.len() {
                cur[j] = (prev[j - 1] + usize::from(a[i - 1] != b[j - 1]))
                    .min(prev[j] + 1)
                    .min(cur[j - 1] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }

    #[test]
    fn edit_distance_is_exact_up_to_the_bound() {
        assert_eq!(edit_distance_within(b"kitten", b"sitting", 3), Some(3));
        assert_eq!(edit_distance_within(b"kitten", b"sitting", 2), None);
        assert_eq!(edit_distance_within(b"", b"abc", 3), Some(3));
        assert_eq!(edit_distance_within(b"abc", b"", 3), Some(3));
        assert_eq!(edit_distance_within(b"same", b"same", 0), Some(0));
        // Random pairs over a small alphabet (many near-misses), every bound.
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize
        };
        for _ in 0..3000 {
            let a: Vec<u8> = (0..next() % 24).map(|_| b"abc"[next() % 3]).collect();
            let mut b = a.clone();
            for _ in 0..next() % 6 {
                let at = next() % (b.len() + 1);
                match next() % 3 {
                    0 => b.insert(at, b"abcd"[next() % 4]),
                    1 if at < b.len() => {
                        b.remove(at);
                    }
                    _ if at < b.len() => b[at] = b"abcd"[next() % 4],
                    _ => {}
                }
            }
            let truth = levenshtein(&a, &b);
            for max in 0..10 {
                let want = (truth <= max).then_some(truth);
                assert_eq!(edit_distance_within(&a, &b, max), want, "{a:?} {b:?} {max}");
            }
        }
    }

    /// #16 item 1: triage merges only when the distance is *below* the limit.
    #[test]
    fn a_distance_equal_to_the_limit_does_not_match() {
        // 40 + 40 bytes: limit 4; four substitutions apart is not a match, three is.
        let a = Shape::new("dial tcp IP: connect: connection refused".to_string());
        let four = Shape::new("dial tcp IP: connect: connection reXXXXd".to_string());
        let three = Shape::new("dial tcp IP: connect: connection refXXXd".to_string());
        assert_eq!(a.len(), 40);
        assert_eq!(limit(a.len(), four.len()), 4);
        assert!(!matches(&a, &four));
        assert!(matches(&a, &three));
    }

    #[test]
    fn short_texts_match_only_when_equal() {
        let a = Shape::new("timeout".to_string());
        let b = Shape::new("timeout".to_string());
        let c = Shape::new("timeouT".to_string());
        assert!(plausible(&a, &b, a.gram_distance(&b)));
        assert!(!plausible(&a, &c, a.gram_distance(&c)));
    }
}
