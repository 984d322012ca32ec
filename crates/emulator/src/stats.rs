//! The statistics behind Faulty Deployment Detection: an exact one-sided conditional binomial test
//! of two error rates.
//!
//! Given `x0` errors in `n0` baseline requests and `x1` errors in `n1` requests of the new
//! version, and assuming both have the same error rate, the new version's share of all
//! `x = x0 + x1` errors follows `Binomial(x, n1 / (n0 + n1))`. The p-value is the chance of it
//! seeing `x1` or more of them. This is exact for any traffic size (no normal approximation), and
//! conditioning on the total removes the unknown common rate.

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const COEFFS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFS[0];
    for (i, c) in COEFFS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

/// P(X ≥ k) for X ~ Binomial(n, p).
pub fn binomial_upper_tail(n: u64, k: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    let ln_pmf = |i: u64| ln_choose(n, i) + i as f64 * ln_p + (n - i) as f64 * ln_q;
    // Sum in log space relative to the first term; stop once the terms past the mode stop
    // mattering.
    let first = ln_pmf(k);
    let mode = ((n + 1) as f64 * p).floor() as u64;
    let mut sum = 0f64;
    let mut i = k;
    while i <= n {
        let term = (ln_pmf(i) - first).exp();
        sum += term;
        if i > mode && term < sum * 1e-17 {
            break;
        }
        i += 1;
    }
    (first + sum.ln()).exp().min(1.0)
}

/// The outcome of comparing the new version's error rate with the baseline's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateComparison {
    pub baseline_rate: f64,
    pub new_rate: f64,
    pub p_value: f64,
}

/// One-sided conditional binomial test that the new rate (`x1`/`n1`) exceeds the baseline rate
/// (`x0`/`n0`).
pub fn compare_error_rates(n0: u64, x0: u64, n1: u64, x1: u64) -> RateComparison {
    let baseline_rate = if n0 == 0 { 0.0 } else { x0 as f64 / n0 as f64 };
    let new_rate = if n1 == 0 { 0.0 } else { x1 as f64 / n1 as f64 };
    let p_value = if n0 + n1 == 0 {
        1.0
    } else {
        binomial_upper_tail(x0 + x1, x1, n1 as f64 / (n0 + n1) as f64)
    };
    RateComparison {
        baseline_rate,
        new_rate,
        p_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1e-300)
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        assert!(close(ln_gamma(1.0), 0.0_f64.max(1e-300), 1e12) || ln_gamma(1.0).abs() < 1e-12);
        assert!(close(ln_gamma(6.0), 120f64.ln(), 1e-12));
        assert!(close(ln_gamma(101.0), 363.739_375_555_563_5, 1e-12));
    }

    #[test]
    fn binomial_tail_matches_hand_computed_values() {
        // P(X >= 2), X ~ Bin(3, 0.5) = 4/8.
        assert!(close(binomial_upper_tail(3, 2, 0.5), 0.5, 1e-12));
        // P(X >= 10), X ~ Bin(10, 0.5) = 1/1024.
        assert!(close(binomial_upper_tail(10, 10, 0.5), 1.0 / 1024.0, 1e-12));
        assert_eq!(binomial_upper_tail(10, 0, 0.3), 1.0);
        assert_eq!(binomial_upper_tail(10, 11, 0.3), 0.0);
    }

    #[test]
    fn a_doubled_error_rate_on_real_traffic_is_significant() {
        // 0.1 % baseline on 100k requests, 1 % on 3k new requests.
        let c = compare_error_rates(100_000, 100, 3_000, 30);
        assert!(c.p_value < 1e-6, "{c:?}");
    }

    #[test]
    fn the_same_error_rate_is_not_significant() {
        let c = compare_error_rates(100_000, 100, 3_000, 3);
        assert!(c.p_value > 0.3, "{c:?}");
    }
}
