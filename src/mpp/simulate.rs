//! The payment loop of Pickhardt & Richter: hidden balances drawn uniformly
//! per channel, parts tried against them, each failure and success narrowing
//! what the sender knows, and the remainder re-split, until paid or out of
//! rounds or budget.

use super::learn::{route_hops, Knowledge};
use super::session::{PaymentSession, PlanError, Strategy};
use super::SplitRequest;
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
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
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
    known: &mut Knowledge<u32>,
    route: &Route,
) -> Result<(), usize> {
    let hops = route_hops(g, route);
    if let Some(i) = route
        .hops
        .iter()
        .position(|h| hidden[h.direction as usize] < h.amount_msat)
    {
        known.learn_failure(&hops, i, 0);
        return Err(i);
    }
    for h in &route.hops {
        let d = h.direction as usize;
        hidden[d] -= h.amount_msat;
        hidden[d ^ 1] += h.amount_msat;
    }
    known.learn_success(&hops, 0);
    Ok(())
}

/// Pay `req.amount_msat` against `hidden`: the node's payment loop
/// (`PaymentSession` and `Knowledge`), each round split by min-cost flow.
pub fn simulate(g: &Graph, req: &SplitRequest, hidden: &mut [u64], max_rounds: usize) -> Outcome {
    let mut out = Outcome::default();
    let mut known = Knowledge::new(0);
    for (d, (lo, hi)) in &req.liquidity {
        known.set(*d, *lo, *hi, 0);
    }
    let mut session = PaymentSession::new(req.clone(), Strategy::Split, max_rounds);
    while !session.is_complete() {
        let liquidity = known.liquidity(0, |d| Some((d, capacity(g, d))));
        let parts = match session.plan(g, liquidity) {
            Ok(parts) => parts,
            Err(PlanError::Attempts(_)) => break,
            Err(e) => {
                out.stopped = Some(e.to_string());
                break;
            }
        };
        for part in &parts {
            match attempt(g, hidden, &mut known, part) {
                Ok(()) => session.part_settled(part),
                Err(_) => session.part_failed(part),
            }
        }
    }
    out.rounds = session.attempts;
    out.parts_tried = session.parts_tried;
    out.parts_failed = session.parts_failed;
    out.fee_paid_msat = session.fee_paid_msat;
    out.delivered_msat = session.delivered_msat;
    out.success = session.is_complete();
    out.solve_us = session.solve_us;
    if !out.success && out.stopped.is_none() {
        out.stopped = Some(format!("out of rounds ({max_rounds})"));
    }
    out
}

fn capacity(g: &Graph, d: u32) -> u64 {
    g.channels[(d / 2) as usize]
        .capacity_sat
        .saturating_mul(1000)
}
