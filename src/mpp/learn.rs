//! What a sender learns of the network's liquidity from its own payments
//! (Pickhardt & Richter's "learning loop", LDK's `ProbabilisticScorer`
//! bounds): a hop that fails to forward `a` has less than `a` on that side;
//! every hop before it had at least what it forwarded; a settled part moved
//! its amount across each channel. What is learned fades back to the prior
//! (nothing known) with a half-life, since balances move on their own.

use std::collections::HashMap;
use std::hash::Hash;

use crate::route::Route;

/// Bounds learned on one direction, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Learned {
    /// At least this much, msat.
    lower: u64,
    /// At most this much, msat.
    upper: u64,
    /// When learned (seconds, the caller's clock).
    at: u64,
}

/// Liquidity knowledge per direction, under keys the caller chooses (a
/// graph's direction index, or `(short_channel_id, direction)` when the
/// graph is rebuilt between payments).
#[derive(Clone, Debug)]
pub struct Knowledge<K> {
    learned: HashMap<K, Learned>,
    /// After this many seconds, half of what was learned is forgotten (0: never).
    pub half_life_secs: u64,
}

/// One hop of a part as the learner sees it: its key, what crossed it, and
/// the channel's capacity (0: unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HopLiquidity<K> {
    /// The direction.
    pub key: K,
    /// The amount the part put on it, msat.
    pub amount_msat: u64,
    /// The channel's capacity, msat (0: unknown, nothing is learned).
    pub capacity_msat: u64,
}

impl<K: Copy + Eq + Hash> Knowledge<K> {
    /// Nothing known yet; learning fades with `half_life_secs` (0: never).
    pub fn new(half_life_secs: u64) -> Self {
        Knowledge {
            learned: HashMap::new(),
            half_life_secs,
        }
    }

    /// Whether nothing is learned.
    pub fn is_empty(&self) -> bool {
        self.learned.is_empty()
    }

    /// Forget what was learned of `key` (BOLT 4: a channel that failed for
    /// a transient reason is restored when a new `channel_update` for it comes).
    pub fn forget(&mut self, key: K) {
        self.learned.remove(&key);
    }

    /// The bounds on `key` at `now`, decayed toward `(0, capacity)`: `None`
    /// when nothing is known.
    pub fn bounds(&self, key: K, capacity_msat: u64, now: u64) -> Option<(u64, u64)> {
        let l = self.learned.get(&key)?;
        let keep = self.kept(l.at, now);
        let upper = l.upper.min(capacity_msat);
        let lower = (l.lower as f64 * keep) as u64;
        let upper = capacity_msat - ((capacity_msat - upper) as f64 * keep) as u64;
        Some((lower.min(upper), upper))
    }

    /// The share of what was learned at `at` still held at `now`.
    fn kept(&self, at: u64, now: u64) -> f64 {
        if self.half_life_secs == 0 || now <= at {
            return 1.0;
        }
        0.5f64.powf((now - at) as f64 / self.half_life_secs as f64)
    }

    /// The bounds to learn from, decayed to `now` (a fresh prior when none).
    fn current(&self, key: K, capacity_msat: u64, now: u64) -> (u64, u64) {
        self.bounds(key, capacity_msat, now)
            .unwrap_or((0, capacity_msat))
    }

    /// Bounds known by other means (a hint, our own channel's balance).
    pub fn set(&mut self, key: K, lower: u64, upper: u64, now: u64) {
        self.learned.insert(
            key,
            Learned {
                lower: lower.min(upper),
                upper,
                at: now,
            },
        );
    }

    /// The direction could not carry `amount_msat`: it holds less.
    pub fn could_not_carry(&mut self, key: K, amount_msat: u64, capacity_msat: u64, now: u64) {
        if capacity_msat == 0 {
            return;
        }
        let (lower, upper) = self.current(key, capacity_msat, now);
        let upper = upper.min(amount_msat.saturating_sub(1));
        self.set(key, lower.min(upper), upper, now);
    }

    /// The direction carried `amount_msat` on to the next hop: it held at least that.
    pub fn carried(&mut self, key: K, amount_msat: u64, capacity_msat: u64, now: u64) {
        if capacity_msat == 0 {
            return;
        }
        let (lower, upper) = self.current(key, capacity_msat, now);
        // A contradiction (an upper bound learned below what just passed)
        // means the balance moved: what just happened wins.
        let upper = upper.max(amount_msat.min(capacity_msat));
        self.set(key, lower.max(amount_msat).min(upper), upper, now);
    }

    /// A part settled: `amount_msat` moved across the direction.
    pub fn settled(&mut self, key: K, amount_msat: u64, capacity_msat: u64, now: u64) {
        if capacity_msat == 0 {
            return;
        }
        let (lower, upper) = self.current(key, capacity_msat, now);
        self.set(
            key,
            lower.saturating_sub(amount_msat),
            upper.saturating_sub(amount_msat),
            now,
        );
    }

    /// A part failed at hop `failing` (the direction that could not carry
    /// it): that one holds less than its amount, the ones before held enough.
    pub fn learn_failure(&mut self, hops: &[HopLiquidity<K>], failing: usize, now: u64) {
        for h in &hops[..failing.min(hops.len())] {
            self.carried(h.key, h.amount_msat, h.capacity_msat, now);
        }
        if let Some(h) = hops.get(failing) {
            self.could_not_carry(h.key, h.amount_msat, h.capacity_msat, now);
        }
    }

    /// A part arrived: every hop carried it, and its amount moved across.
    pub fn learn_success(&mut self, hops: &[HopLiquidity<K>], now: u64) {
        for h in hops {
            self.carried(h.key, h.amount_msat, h.capacity_msat, now);
            self.settled(h.key, h.amount_msat, h.capacity_msat, now);
        }
    }

    /// Everything known at `now`, as the router's liquidity map: `dir` maps
    /// a key to its direction in the graph at hand, and its capacity.
    pub fn liquidity(
        &self,
        now: u64,
        mut dir: impl FnMut(K) -> Option<(u32, u64)>,
    ) -> HashMap<u32, (u64, u64)> {
        self.learned
            .keys()
            .filter_map(|k| {
                let (d, cap) = dir(*k)?;
                Some((d, self.bounds(*k, cap, now)?))
            })
            .collect()
    }
}

/// A route's hops as the learner sees them, keyed by graph direction.
pub fn route_hops(g: &crate::graph::Graph, route: &Route) -> Vec<HopLiquidity<u32>> {
    route
        .hops
        .iter()
        .map(|h| HopLiquidity {
            key: h.direction,
            amount_msat: h.amount_msat,
            capacity_msat: g.channels[(h.direction / 2) as usize]
                .capacity_sat
                .saturating_mul(1000),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(key: u32, amount_msat: u64) -> HopLiquidity<u32> {
        HopLiquidity {
            key,
            amount_msat,
            capacity_msat: 1_000_000,
        }
    }

    #[test]
    fn a_failure_bounds_the_failing_hop_from_above_and_the_ones_before_from_below() {
        let mut k = Knowledge::new(0);
        k.learn_failure(&[hop(1, 500_000), hop(2, 499_000), hop(3, 498_000)], 2, 0);
        assert_eq!(k.bounds(1, 1_000_000, 0), Some((500_000, 1_000_000)));
        assert_eq!(k.bounds(2, 1_000_000, 0), Some((499_000, 1_000_000)));
        assert_eq!(k.bounds(3, 1_000_000, 0), Some((0, 497_999)));
        assert_eq!(k.bounds(4, 1_000_000, 0), None);
    }

    #[test]
    fn a_success_moves_the_amount_across() {
        let mut k = Knowledge::new(0);
        k.learn_success(&[hop(1, 300_000)], 0);
        // It held at least 300k, and now 300k less: at least 0, at most 700k.
        assert_eq!(k.bounds(1, 1_000_000, 0), Some((0, 700_000)));
    }

    #[test]
    fn what_is_learned_fades_with_the_half_life() {
        let mut k = Knowledge::new(100);
        k.could_not_carry(1, 200_001, 1_000_000, 0);
        k.carried(2, 600_000, 1_000_000, 0);
        assert_eq!(k.bounds(1, 1_000_000, 0), Some((0, 200_000)));
        // One half-life later, half the gap to the prior is gone.
        assert_eq!(k.bounds(1, 1_000_000, 100), Some((0, 600_000)));
        assert_eq!(k.bounds(2, 1_000_000, 100), Some((300_000, 1_000_000)));
        // Long after, nothing is left of it.
        let (lo, hi) = k.bounds(1, 1_000_000, 100_000).unwrap();
        assert_eq!((lo, hi), (0, 1_000_000));
    }

    #[test]
    fn a_contradiction_is_settled_by_the_latest_outcome() {
        let mut k = Knowledge::new(0);
        k.could_not_carry(1, 100_000, 1_000_000, 0);
        k.carried(1, 400_000, 1_000_000, 1);
        assert_eq!(k.bounds(1, 1_000_000, 1), Some((400_000, 400_000)));
    }

    #[test]
    fn unknown_capacity_learns_nothing() {
        let mut k = Knowledge::new(0);
        k.could_not_carry(1, 100, 0, 0);
        assert!(k.is_empty());
    }
}
