//! Statistics that admit uncertainty: Wilson score intervals for rates, and the
//! one-sided Fisher exact test for "did the failure rate go up?".

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score 95% interval for `k` successes in `n` trials, as (low, high).
/// With no trials the rate is unknown: (0, 1).
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n_f = n as f64;
    let p = k as f64 / n_f;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n_f;
    let center = (p + z2 / (2.0 * n_f)) / denom;
    let half = Z95 * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// ln(n!) via a running table (exact sums; inputs here are run counts, not huge).
struct LnFactorial(Vec<f64>);

impl LnFactorial {
    fn new(n: u64) -> Self {
        let mut t = Vec::with_capacity(n as usize + 1);
        t.push(0.0);
        for i in 1..=n {
            let prev = t[i as usize - 1];
            t.push(prev + (i as f64).ln());
        }
        LnFactorial(t)
    }

    fn get(&self, n: u64) -> f64 {
        self.0[n as usize]
    }
}

/// One-sided Fisher exact test on the 2×2 table
/// `[[sample_fail, sample_pass], [basis_fail, basis_pass]]`: the probability, with the
/// margins fixed, of seeing at least `sample_fail` failures in the sample by chance.
/// Small p means the sample fails more than the basis.
pub fn fisher_greater(sample_fail: u64, sample_pass: u64, basis_fail: u64, basis_pass: u64) -> f64 {
    let n = sample_fail + sample_pass + basis_fail + basis_pass;
    if n == 0 {
        return 1.0;
    }
    let lf = LnFactorial::new(n);
    let row1 = sample_fail + sample_pass;
    let row2 = basis_fail + basis_pass;
    let col1 = sample_fail + basis_fail;
    let col2 = sample_pass + basis_pass;
    let fixed = lf.get(row1) + lf.get(row2) + lf.get(col1) + lf.get(col2) - lf.get(n);
    let max_a = row1.min(col1);
    let mut p = 0.0;
    for a in sample_fail..=max_a {
        let b = row1 - a;
        let c = col1 - a;
        let Some(d) = row2.checked_sub(c) else {
            continue;
        };
        p += (fixed - lf.get(a) - lf.get(b) - lf.get(c) - lf.get(d)).exp();
    }
    p.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn wilson_matches_published_values() {
        // 1 of 10: (0.0179, 0.4041); 0 of 10: (0, 0.2775); 50 of 100: (0.4038, 0.5962).
        let (l, h) = wilson(1, 10);
        assert!(close(l, 0.01787) && close(h, 0.40415), "{l} {h}");
        let (l, h) = wilson(0, 10);
        assert!(close(l, 0.0) && close(h, 0.27753), "{l} {h}");
        let (l, h) = wilson(50, 100);
        assert!(close(l, 0.40383) && close(h, 0.59617), "{l} {h}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn fisher_matches_published_values() {
        // Tea tasting: [[3,1],[1,3]] one-sided p = 0.2429.
        assert!(close(fisher_greater(3, 1, 1, 3), 0.24286));
        // [[10, 0], [0, 10]]: p = 1/184756.
        assert!(close(fisher_greater(10, 0, 0, 10), 1.0 / 184_756.0));
        // No evidence either way.
        assert!(close(fisher_greater(0, 10, 0, 10), 1.0));
        // Sample better than basis: p near 1.
        assert!(fisher_greater(0, 20, 10, 10) > 0.99);
    }
}
