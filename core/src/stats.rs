//! Statistics for predictor quality and result tables.

/// Arithmetic mean (NaN for an empty slice).
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample standard deviation (n - 1 in the denominator; 0 for fewer than two values).
pub fn std_dev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// Half-width of the two-sided `confidence` interval (e.g. 0.99) of the mean of `xs`, from
/// Student's t with n - 1 degrees of freedom; NaN for fewer than two values.
pub fn mean_ci_half_width(xs: &[f64], confidence: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    if xs.len() < 2 {
        return f64::NAN;
    }
    let df = (xs.len() - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, df).expect("df is positive");
    t.inverse_cdf(0.5 + confidence / 2.0) * std_dev(xs) / (xs.len() as f64).sqrt()
}

/// Median (NaN for an empty slice).
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Root mean squared error between two equally long series.
pub fn rmse(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "rmse of series of different lengths");
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64).sqrt()
}

/// Kendall's tau-b rank correlation (handles ties), O(n log n) by Knight's algorithm.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "kendall tau of series of different lengths");
    let n = a.len();
    if n < 2 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&i, &j| a[i].total_cmp(&a[j]).then(b[i].total_cmp(&b[j])));
    let pairs = |counts: &mut dyn Iterator<Item = usize>| counts.map(|t| (t * (t.saturating_sub(1)) / 2) as f64).sum::<f64>();
    // Ties in a, and joint ties.
    let runs = |key: &dyn Fn(usize) -> (f64, f64), order: &[usize]| -> Vec<usize> {
        let mut out = Vec::new();
        let mut run = 1;
        for w in order.windows(2) {
            if key(w[0]) == key(w[1]) {
                run += 1;
            } else {
                out.push(run);
                run = 1;
            }
        }
        out.push(run);
        out
    };
    let ties_a = pairs(&mut runs(&|i| (a[i], 0.0), &idx).into_iter());
    let ties_ab = pairs(&mut runs(&|i| (a[i], b[i]), &idx).into_iter());
    // Count discordant pairs by merge sort on b.
    let mut values: Vec<f64> = idx.iter().map(|&i| b[i]).collect();
    let mut buffer = values.clone();
    let swaps = merge_count(&mut values, &mut buffer);
    let sorted_b = values;
    let ties_b = pairs(&mut runs(&|i| (sorted_b[i], 0.0), &(0..n).collect::<Vec<_>>()).into_iter());
    let total = (n * (n - 1) / 2) as f64;
    let concordant_minus_discordant = total - ties_a - ties_b + ties_ab - 2.0 * swaps as f64;
    concordant_minus_discordant / ((total - ties_a) * (total - ties_b)).sqrt()
}

fn merge_count(v: &mut [f64], buf: &mut [f64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut swaps = merge_count(&mut v[..mid], &mut buf[..mid]) + merge_count(&mut v[mid..], &mut buf[mid..]);
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        if v[j] < v[i] {
            buf[k] = v[j];
            swaps += (mid - i) as u64;
            j += 1;
        } else {
            buf[k] = v[i];
            i += 1;
        }
        k += 1;
    }
    buf[k..k + mid - i].copy_from_slice(&v[i..mid]);
    let k2 = k + mid - i;
    buf[k2..k2 + n - j].copy_from_slice(&v[j..n]);
    v.copy_from_slice(&buf[..n]);
    swaps
}

fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&i, &j| xs[i].total_cmp(&xs[j]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = average;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Spearman's rank correlation (average ranks for ties).
pub fn spearman_rho(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_tau_b(a: &[f64], b: &[f64]) -> f64 {
        let (mut c, mut d, mut ta, mut tb) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for i in 0..a.len() {
            for j in i + 1..a.len() {
                let (x, y) = ((a[i] - a[j]).signum(), (b[i] - b[j]).signum());
                if a[i] == a[j] && b[i] == b[j] {
                } else if a[i] == a[j] {
                    ta += 1.0;
                } else if b[i] == b[j] {
                    tb += 1.0;
                } else if x == y {
                    c += 1.0;
                } else {
                    d += 1.0;
                }
            }
        }
        (c - d) / ((c + d + ta) * (c + d + tb)).sqrt()
    }

    #[test]
    fn kendall_matches_naive_with_ties() {
        let a = [1.0, 2.0, 2.0, 3.0, 5.0, 4.0, 4.0, 0.5, 7.0, 1.0];
        let b = [2.0, 1.0, 3.0, 3.0, 6.0, 5.0, 2.0, 0.0, 7.0, 2.0];
        assert!((kendall_tau(&a, &b) - naive_tau_b(&a, &b)).abs() < 1e-12);
        assert!((kendall_tau(&a, &a) - 1.0).abs() < 1e-12);
        let rev: Vec<f64> = a.iter().map(|x| -x).collect();
        assert!((kendall_tau(&a, &rev) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn spearman_and_basic_stats() {
        assert!((spearman_rho(&[1.0, 2.0, 3.0], &[10.0, 20.0, 25.0]) - 1.0).abs() < 1e-12);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert!((std_dev(&[1.0, 2.0, 3.0]) - 1.0).abs() < 1e-12);
        assert!((rmse(&[1.0, 2.0], &[1.0, 4.0]) - 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn confidence_interval_uses_students_t() {
        // t quantiles (two-sided 99%) from standard tables: df 1 63.657, df 9 3.250,
        // df 31 2.744, df 49 2.680.
        for (n, t) in [(2usize, 63.657), (10, 3.250), (32, 2.744), (50, 2.680)] {
            let xs: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
            let expected = t * std_dev(&xs) / (n as f64).sqrt();
            let got = mean_ci_half_width(&xs, 0.99);
            assert!((got - expected).abs() < 1e-3 * expected, "n {n}: {got} vs {expected}");
        }
        assert!(mean_ci_half_width(&[1.0], 0.99).is_nan());
    }
}

/// Standard competition ranks ("1224") of values listed best first: equal values share the
/// rank of the first of them, so that every architecture as good as the optimum ranks 1.
pub fn competition_ranks<T: PartialEq>(sorted_best_first: impl IntoIterator<Item = T>) -> Vec<usize> {
    let mut ranks: Vec<usize> = Vec::new();
    let mut previous: Option<T> = None;
    for (position, value) in sorted_best_first.into_iter().enumerate() {
        let rank = match (&previous, ranks.last()) {
            (Some(p), Some(&r)) if *p == value => r,
            _ => position + 1,
        };
        ranks.push(rank);
        previous = Some(value);
    }
    ranks
}

#[cfg(test)]
mod rank_tests {
    #[test]
    fn ties_share_the_first_rank() {
        assert_eq!(super::competition_ranks([9.0, 8.0, 8.0, 7.0, 7.0, 7.0, 1.0]), [1, 2, 2, 4, 4, 4, 7]);
        assert_eq!(super::competition_ranks(Vec::<f64>::new()), Vec::<usize>::new());
        assert_eq!(super::competition_ranks([Some(1.0), None, None]), [1, 2, 2]);
    }
}
