//! The payment loop of Pickhardt & Richter: hidden balances drawn uniformly
//! per channel, parts tried against them, each failure and success narrowing
//! what the sender knows, and the remainder re-split, until paid or out of
//! rounds or budget.

use super::{split, SplitRequest};
use crate::graph::Graph;
use crate::route::Route;

/// Hidden liquidity per direction, msat: channel `c`'s balance `b` uniform on
/// `[0, capacity]`, `b` on direction `2c` and `capacity - b` on `2c + 1`.
pub fn draw_balances(g: &Graph, seed: u64) -> Vec<u64> {
    let mut state = seed;
    let mut next = move || {
        // SplitMix64.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = Vec::with_capacity(2 * g.channels.len());
    for c in &g.channels {
        let cap = c.capacity_sat.saturating_mul(1000);
        let b = if cap == 0 { 0 } else { next() % (cap + 1) };
        out.extend([b, cap - b]);
    }
    out
}

/// How a simulated payment went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The whole amount arrived.
    pub success: bool,
    /// Rounds of splitting and sending.
    pub rounds: usize,
    /// Parts sent.
    pub parts_tried: usize,
    /// Parts that failed.
    pub parts_failed: usize,
    /// Fees of the parts that arrived.
    pub fee_paid_msat: u64,
    /// What arrived.
    pub delivered_msat: u64,
    /// Each round's solve time, µs.
    pub solve_us: Vec<u64>,
    /// Why it stopped, when it failed.
    pub stopped: Option<String>,
}

/// Try `route` against the hidden balances: `Ok` moves the liquidity,
/// `Err(i)` is the index of the failing hop. Either way `known` learns.
pub fn attempt(
    g: &Graph,
    hidden: &mut [u64],
    known: &mut std::collections::HashMap<u32, (u64, u64)>,
    route: &Route,
) -> Result<(), usize> {
    let cap = |d: u32| {
        g.channels[(d / 2) as usize]
            .capacity_sat
            .saturating_mul(1000)
    };
    for (i, h) in route.hops.iter().enumerate() {
        let d = h.direction;
        if hidden[d as usize] < h.amount_msat {
            let e = known.entry(d).or_insert((0, cap(d)));
            e.1 = e.1.min(h.amount_msat - 1);
            e.0 = e.0.min(e.1);
            for prev in &route.hops[..i] {
                let e = known
                    .entry(prev.direction)
                    .or_insert((0, cap(prev.direction)));
                e.0 = e.0.max(prev.amount_msat).min(e.1);
            }
            return Err(i);
        }
    }
    for h in &route.hops {
        let d = h.direction as usize;
        hidden[d] -= h.amount_msat;
        hidden[d ^ 1] += h.amount_msat;
        let e = known.entry(h.direction).or_insert((0, cap(h.direction)));
        *e = (
            e.0.saturating_sub(h.amount_msat),
            e.1.saturating_sub(h.amount_msat),
        );
    }
    Ok(())
}

/// Pay `req.amount_msat` against `hidden`, re-splitting what is left after each round.
pub fn simulate(g: &Graph, req: &SplitRequest, hidden: &mut [u64], max_rounds: usize) -> Outcome {
    let mut out = Outcome::default();
    let mut known = req.liquidity.clone();
    while out.delivered_msat < req.amount_msat && out.rounds < max_rounds {
        let mut r = req.clone();
        r.amount_msat = req.amount_msat - out.delivered_msat;
        r.max_fee_msat = req.max_fee_msat - out.fee_paid_msat;
        r.liquidity = known.clone();
        out.rounds += 1;
        let s = match split(g, &r) {
            Ok(s) => s,
            Err(e) => {
                out.stopped = Some(e.to_string());
                return out;
            }
        };
        out.solve_us.push(s.solver.time_us);
        for part in &s.parts {
            out.parts_tried += 1;
            match attempt(g, hidden, &mut known, part) {
                Ok(()) => {
                    out.delivered_msat += part.hops.last().expect("a hop").amount_msat;
                    out.fee_paid_msat += part.total_fee_msat;
                }
                Err(_) => out.parts_failed += 1,
            }
        }
    }
    out.success = out.delivered_msat == req.amount_msat;
    if !out.success && out.stopped.is_none() {
        out.stopped = Some(format!("out of rounds ({max_rounds})"));
    }
    out
}
