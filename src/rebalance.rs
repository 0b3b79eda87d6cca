//! Circular rebalancing: a node whose channels have drifted to one side
//! pays itself around a cycle. It leaves on a channel where it holds too
//! much (`out`), crosses the network, and comes back on a channel where it
//! holds too little (`in`). Its total balance drops only by the fees; the
//! liquidity moves from `out` to `in`.
//!
//! The cycle is an ordinary route search on a graph where our node is split
//! in two. The search starts at us, may leave only over `out`, and ends at a
//! copy of us that only `in` reaches. Our other channels are closed to it, so
//! the cycle never short-cuts through them.
//!
//! The economic check is rebalance-lnd's rule. Moving `amount` into `in` is
//! worth what `in` earns when that liquidity is forwarded out again, at our
//! own fee on `in`. A rebalance that costs more than that loses money.

use std::collections::{HashMap, HashSet};

use crate::graph::{Graph, Policy};
use crate::route::{self, Route, RouteRequest};

/// A cycle to search for.
#[derive(Clone, Debug)]
pub struct CycleRequest {
    /// Our node.
    pub me: u32,
    /// The channel (index) the cycle leaves on.
    pub out_channel: usize,
    /// The channel (index) it comes back on.
    pub in_channel: usize,
    /// What comes back to us.
    pub amount_msat: u64,
    /// The most the cycle may cost.
    pub max_fee_msat: u64,
    /// The final hop's CLTV delta (our own invoice's).
    pub final_cltv_expiry_delta: u32,
    /// Known liquidity per direction (of `g`).
    pub liquidity: HashMap<u32, (u64, u64)>,
    /// Directions not to use.
    pub avoid_directions: HashSet<u32>,
    /// Which limit `max_fee_msat` is, for the error when the cycle costs more.
    pub max_fee_why: String,
}

/// Why no cycle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CycleError {
    /// `out` and `in` are one channel.
    #[error("in: the same channel as out; a rebalance moves liquidity between two channels")]
    SameChannel,
    /// A channel that does not touch our node.
    #[error("{field}: channel {channel} is not ours (its ends are neither this node)")]
    NotOurs {
        /// `out` or `in`.
        field: &'static str,
        /// The channel, as given.
        channel: String,
    },
    /// Nothing connects `out`'s peer back to `in`'s peer for this amount.
    #[error("no cycle for {amount_msat} msat: nothing leads from out's peer back to in's peer within the fee, CLTV, hop and liquidity limits")]
    NoCycle {
        /// What was asked.
        amount_msat: u64,
    },
    /// A cycle exists, but costs more than allowed.
    #[error("the cheapest cycle costs {cheapest_fee_msat} msat, above the limit of {limit_msat} msat ({why})")]
    TooDear {
        /// The cheapest cycle found without a limit.
        cheapest_fee_msat: u64,
        /// The limit.
        limit_msat: u64,
        /// Which limit: the fee cap, or the economic check.
        why: String,
    },
    /// Nothing to move.
    #[error("amount_msat: must be above zero")]
    ZeroAmount,
}

/// The graph the cycle is searched on: `g` with the `in` channel's end at
/// our node moved to a new node, a second copy of our pubkey. Returns the
/// graph and that node.
pub fn split_graph(g: &Graph, me: u32, in_channel: usize) -> (Graph, u32) {
    let mut split = g.clone();
    let back = split.pubkeys.len() as u32;
    split.pubkeys.push(g.pubkeys[me as usize]);
    split.aliases.push(String::new());
    let c = &mut split.channels[in_channel];
    // The channel keeps its BOLT 7 direction numbering: only the node index moves.
    if c.node_1 == me {
        c.node_1 = back;
    } else {
        c.node_2 = back;
    }
    split.index();
    (split, back)
}

/// The direction of channel `c` that leaves `from`.
pub fn direction_from(g: &Graph, c: usize, from: u32) -> u32 {
    2 * c as u32 + u32::from(g.channels[c].node_1 != from)
}

fn touches(g: &Graph, c: usize, me: u32) -> bool {
    g.channels[c].node_1 == me || g.channels[c].node_2 == me
}

/// The cheapest cycle (fees, CLTV risk and uncertainty, as the router
/// weighs them). Its last hop's node is `me` again.
pub fn find_cycle(g: &Graph, req: &CycleRequest, names: [&str; 2]) -> Result<Route, CycleError> {
    if req.out_channel == req.in_channel {
        return Err(CycleError::SameChannel);
    }
    for (field, c, name) in [
        ("out", req.out_channel, names[0]),
        ("in", req.in_channel, names[1]),
    ] {
        if !touches(g, c, req.me) {
            return Err(CycleError::NotOurs {
                field,
                channel: name.to_string(),
            });
        }
    }
    if req.amount_msat == 0 {
        return Err(CycleError::ZeroAmount);
    }
    let (split, back) = split_graph(g, req.me, req.in_channel);
    let out_dir = direction_from(g, req.out_channel, req.me);
    let search = |max_fee_msat: u64| {
        let mut r = RouteRequest::new(req.me, back, req.amount_msat);
        r.final_cltv_expiry_delta = req.final_cltv_expiry_delta;
        r.max_fee_msat = max_fee_msat;
        r.liquidity = req.liquidity.clone();
        r.avoid_directions = req.avoid_directions.clone();
        // Our other channels are not part of the cycle.
        r.avoid_directions
            .extend(split.out(req.me).iter().filter(|d| **d != out_dir));
        r.avoid_directions.extend(split.incoming(req.me));
        route::find_route(&split, &r)
    };
    match search(req.max_fee_msat) {
        Ok(mut route) => {
            if let Some(last) = route.hops.last_mut() {
                last.node = req.me;
            }
            Ok(route)
        }
        Err(_) => match search(u64::MAX) {
            Ok(cheapest) => Err(CycleError::TooDear {
                cheapest_fee_msat: cheapest.total_fee_msat,
                limit_msat: req.max_fee_msat,
                why: req.max_fee_why.clone(),
            }),
            Err(_) => Err(CycleError::NoCycle {
                amount_msat: req.amount_msat,
            }),
        },
    }
}

/// What `in` earns back when `amount_msat` of liquidity leaves through it
/// again, at our fee on it: the most a rebalance into `in` should cost.
pub fn earn_back_msat(our_policy_on_in: &Policy, amount_msat: u64) -> u64 {
    route::fee_msat(our_policy_on_in, amount_msat)
}

/// The fee cap `ppm` parts per million of `amount_msat` allow.
pub fn ppm_cap_msat(ppm: u64, amount_msat: u64) -> u64 {
    (u128::from(amount_msat) * u128::from(ppm) / 1_000_000) as u64
}

/// The most a rebalance of `amount_msat` may cost, and which limit that is.
/// Without `force`: the `max_fee_ppm` cap when it is below what `in` earns
/// back, else the earn-back itself (the economic check). With `force`: the
/// cap alone, or `forced_ppm` of the amount when no cap is given (`None`:
/// no limit at all).
pub fn fee_limit(
    amount_msat: u64,
    earn_back_msat: u64,
    max_fee_ppm: Option<u64>,
    force: bool,
    forced_ppm: Option<u64>,
) -> (u64, String) {
    let cap = max_fee_ppm.map(|p| (ppm_cap_msat(p, amount_msat), format!("max_fee_ppm {p}")));
    match (cap, force) {
        (Some(cap), true) => cap,
        (None, true) => match forced_ppm {
            Some(p) => (
                ppm_cap_msat(p, amount_msat),
                format!("force without max_fee_ppm: {p} ppm"),
            ),
            None => (u64::MAX, "force".into()),
        },
        (Some(cap), false) if cap.0 <= earn_back_msat => cap,
        _ => (
            earn_back_msat,
            format!("the economic check: in earns back {earn_back_msat} msat at its fee; force to pay more"),
        ),
    }
}

/// The fee of `fee_msat` on `amount_msat` in parts per million.
pub fn fee_ppm(fee_msat: u64, amount_msat: u64) -> u64 {
    if amount_msat == 0 {
        return 0;
    }
    (u128::from(fee_msat) * 1_000_000 / u128::from(amount_msat)) as u64
}

/// A channel's balance as rebalancing sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    /// What we hold (and can send).
    pub local_msat: u64,
    /// The capacity.
    pub capacity_msat: u64,
}

impl Balance {
    /// Our share, in percent.
    pub fn local_percent(&self) -> f64 {
        if self.capacity_msat == 0 {
            return 0.0;
        }
        100.0 * self.local_msat as f64 / self.capacity_msat as f64
    }

    /// What we hold above `target_percent` of the capacity (0 if not above).
    pub fn excess_msat(&self, target_percent: u64) -> u64 {
        self.local_msat
            .saturating_sub(self.capacity_msat / 100 * target_percent)
    }

    /// What we hold below `target_percent` of the capacity (0 if not below).
    pub fn deficit_msat(&self, target_percent: u64) -> u64 {
        (self.capacity_msat / 100 * target_percent).saturating_sub(self.local_msat)
    }
}

/// How much to move from `out` to `in` so both come as close to 50/50 as
/// one move can: the smaller of `out`'s excess and `in`'s deficit.
pub fn toward_half(out: Balance, inn: Balance) -> u64 {
    out.excess_msat(50).min(inn.deficit_msat(50))
}

/// One move `rebalanceall` plans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    /// The channel to move from (index into the balances given).
    pub out: usize,
    /// The channel to move to.
    pub inn: usize,
    /// How much.
    pub amount_msat: u64,
}

/// The moves that bring every channel whose share is below `low` or above
/// `high` percent toward `target` percent: the largest excess pays the
/// largest deficit first, until one side runs out. Channels between the
/// thresholds are not touched.
pub fn plan_moves(balances: &[Balance], low: f64, high: f64, target: u64) -> Vec<Move> {
    let mut excess: Vec<(usize, u64)> = balances
        .iter()
        .enumerate()
        .filter(|(_, b)| b.local_percent() > high)
        .map(|(i, b)| (i, b.excess_msat(target)))
        .filter(|(_, e)| *e > 0)
        .collect();
    let mut deficit: Vec<(usize, u64)> = balances
        .iter()
        .enumerate()
        .filter(|(_, b)| b.local_percent() < low)
        .map(|(i, b)| (i, b.deficit_msat(target)))
        .filter(|(_, d)| *d > 0)
        .collect();
    let mut moves = vec![];
    loop {
        excess.sort_by_key(|(_, e)| std::cmp::Reverse(*e));
        deficit.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        let (Some(&(out, e)), Some(&(inn, d))) = (excess.first(), deficit.first()) else {
            break;
        };
        let amount = e.min(d);
        moves.push(Move {
            out,
            inn,
            amount_msat: amount,
        });
        excess[0].1 -= amount;
        deficit[0].1 -= amount;
        excess.retain(|(_, e)| *e > 0);
        deficit.retain(|(_, d)| *d > 0);
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(local: u64, capacity: u64) -> Balance {
        Balance {
            local_msat: local,
            capacity_msat: capacity,
        }
    }

    #[test]
    fn toward_half_moves_the_smaller_of_excess_and_deficit() {
        assert_eq!(toward_half(b(900, 1000), b(100, 1000)), 400);
        assert_eq!(toward_half(b(900, 1000), b(450, 1000)), 50);
        assert_eq!(toward_half(b(400, 1000), b(100, 1000)), 0);
    }

    #[test]
    fn every_channel_outside_the_thresholds_is_moved_and_no_other() {
        let balances = [
            b(950_000, 1_000_000),
            b(100_000, 1_000_000),
            b(500_000, 1_000_000),
            b(0, 2_000_000),
            b(1_700_000, 2_000_000),
        ];
        let moves = plan_moves(&balances, 20.0, 80.0, 50);
        let mut after = balances.to_vec();
        for m in &moves {
            assert!(m.out != 2 && m.inn != 2, "{moves:?}");
            after[m.out].local_msat -= m.amount_msat;
            after[m.inn].local_msat += m.amount_msat;
        }
        // The excess (450,000 + 700,000) fills the deficits (400,000 + 1,000,000) as far as it goes.
        let moved: u64 = moves.iter().map(|m| m.amount_msat).sum();
        assert_eq!(moved, 1_150_000);
        assert_eq!(after[0].local_msat, 500_000);
        assert_eq!(after[4].local_msat, 1_000_000);
        assert!(after[1].local_percent() >= 20.0 || after[3].local_percent() >= 20.0);
    }
}
