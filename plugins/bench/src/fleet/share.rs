//! One worker's share of a step's load: `-c`, `-n` and `--rate` divided exactly among the
//! workers, the remainder going one each to the lowest indexes, so the shares add up to the
//! totals asked for.

/// What worker `index` of `workers` sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    pub concurrency: u32,
    /// `-n`'s share, when the step counts requests.
    pub requests: Option<u64>,
    /// `--rate`'s share, when the step is open loop.
    pub rate: Option<f64>,
}

/// Splits the totals for `index` (0-based) of `workers`; `workers` is at least 1 and at most
/// the concurrency and the request count (checked when the arguments were read).
pub fn share(
    concurrency: u32,
    requests: Option<u64>,
    rate: Option<f64>,
    workers: u32,
    index: u32,
) -> Share {
    let workers = workers.max(1);
    Share {
        concurrency: part(u64::from(concurrency), workers, index) as u32,
        requests: requests.map(|n| part(n, workers, index)),
        // A rate has no remainder: each worker sends the same fraction, and the schedule of
        // each (i / rate_i from the common start) adds up to the total rate.
        rate: rate.map(|r| r / f64::from(workers)),
    }
}

/// `total / workers`, plus one for the first `total % workers` indexes.
fn part(total: u64, workers: u32, index: u32) -> u64 {
    let workers = u64::from(workers);
    let index = u64::from(index);
    total / workers + u64::from(index < total % workers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_totals_and_differ_by_at_most_one() {
        for workers in 1..=13u32 {
            for total in [workers as u64, 30, 31, 3000, 3001, 99_999] {
                if total < u64::from(workers) {
                    continue;
                }
                let parts: Vec<u64> = (0..workers)
                    .map(|i| {
                        share(total as u32, Some(total), None, workers, i)
                            .requests
                            .unwrap_or(0)
                    })
                    .collect();
                assert_eq!(parts.iter().sum::<u64>(), total, "{workers} of {total}");
                let (min, max) = (parts.iter().min(), parts.iter().max());
                assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1), "{parts:?}");
                // The remainder goes to the lowest indexes.
                assert!(parts.windows(2).all(|w| w[0] >= w[1]), "{parts:?}");
                let conns: u64 = (0..workers)
                    .map(|i| u64::from(share(total as u32, None, None, workers, i).concurrency))
                    .sum();
                assert_eq!(conns, total);
            }
        }
    }

    #[test]
    fn the_remainder_is_spread_by_index() {
        let shares: Vec<Share> = (0..3).map(|i| share(31, Some(3002), None, 3, i)).collect();
        assert_eq!(
            shares.iter().map(|s| s.concurrency).collect::<Vec<_>>(),
            [11, 10, 10]
        );
        assert_eq!(
            shares.iter().map(|s| s.requests).collect::<Vec<_>>(),
            [Some(1001), Some(1001), Some(1000)]
        );
        assert_eq!(shares[0].rate, None);
    }

    #[test]
    fn rates_divide_evenly() {
        let shares: Vec<Share> = (0..3).map(|i| share(30, None, Some(600.0), 3, i)).collect();
        assert!(shares.iter().all(|s| s.rate == Some(200.0)));
        let odd: f64 = (0..7)
            .map(|i| share(7, None, Some(1000.0), 7, i).rate.unwrap_or(0.0))
            .sum();
        assert!((odd - 1000.0).abs() < 1e-9, "{odd}");
    }
}
