//! Pathfinding: a Dijkstra search from the destination back to the source,
//! so each hop's amount and CLTV accumulate exactly as forwarding nodes charge
//! them (BOLT 7 "HTLC Fees": `fee_base_msat + amount * fee_proportional_millionths / 10^6`).
//!
//! The cost of using a channel direction for `amount` is its fee, plus a CLTV
//! risk term, plus `probability_weight * -ln P(success)` where P is the
//! uniform-balance success probability of Pickhardt & Richter, narrowed by any
//! known liquidity bounds.

pub mod json;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};

use crate::graph::{Graph, Policy};

/// What the sender asks for.
#[derive(Clone, Debug)]
pub struct RouteRequest {
    /// The paying node.
    pub source: u32,
    /// The payee.
    pub destination: u32,
    /// What the payee receives.
    pub amount_msat: u64,
    /// The payee's `min_final_cltv_expiry_delta`.
    pub final_cltv_expiry_delta: u32,
    /// Fee budget.
    pub max_fee_msat: u64,
    /// CLTV budget for the whole route, the final delta included (default 2016, two weeks of blocks).
    pub max_total_cltv_expiry_delta: u32,
    /// Hop budget.
    pub max_hops: usize,
    /// Channel directions to avoid.
    pub avoid_directions: HashSet<u32>,
    /// Nodes to avoid.
    pub avoid_nodes: HashSet<u32>,
    /// Known liquidity per direction: (at least, at most) msat.
    pub liquidity: HashMap<u32, (u64, u64)>,
    /// Weight of -ln P(success), in msat per unit.
    pub probability_weight: f64,
    /// CLTV risk: msat of cost per (msat locked * block locked).
    pub cltv_risk: f64,
    /// Extra cost per direction (how `--alternatives` pushes later routes away from earlier ones).
    pub penalty: HashMap<u32, f64>,
}

impl RouteRequest {
    /// A request with the usual defaults.
    pub fn new(source: u32, destination: u32, amount_msat: u64) -> Self {
        RouteRequest {
            source,
            destination,
            amount_msat,
            final_cltv_expiry_delta: 18,
            max_fee_msat: u64::MAX,
            max_total_cltv_expiry_delta: 2016,
            max_hops: 20,
            avoid_directions: HashSet::new(),
            avoid_nodes: HashSet::new(),
            liquidity: HashMap::new(),
            probability_weight: 10_000.0,
            cltv_risk: 1e-8,
            penalty: HashMap::new(),
        }
    }
}

/// One hop: a channel direction and what crosses it.
#[derive(Clone, Debug, PartialEq)]
pub struct Hop {
    /// The direction id (channel `dir / 2`).
    pub direction: u32,
    /// The node this channel leads to.
    pub node: u32,
    /// The amount that crosses this channel (what `node` receives).
    pub amount_msat: u64,
    /// The CLTV delta above the current height of the HTLC on this channel.
    pub cltv_delta: u32,
    /// What `node` keeps for forwarding (0 at the destination).
    pub fee_msat: u64,
    /// Success probability of this channel for this amount.
    pub probability: f64,
}

/// A route.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Hops from the source.
    pub hops: Vec<Hop>,
    /// What the source sends.
    pub total_amount_msat: u64,
    /// Fees paid.
    pub total_fee_msat: u64,
    /// The first HTLC's CLTV delta.
    pub total_cltv_delta: u32,
    /// Product of the hops' probabilities.
    pub probability: f64,
}

/// Why there is no route.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouteError {
    /// Nothing connects them within the limits.
    #[error("no route: the destination is unreachable from the source for {amount_msat} msat within the fee, CLTV and hop limits")]
    Unreachable {
        /// The amount asked.
        amount_msat: u64,
    },
    /// The amount is zero.
    #[error("amount_msat must be above zero")]
    ZeroAmount,
    /// Source and destination are the same node.
    #[error("source and destination are the same node")]
    SameNode,
}

/// What one hop's onion payload carries for this route (BOLT 4, "Payload
/// Format"): a forwarding hop is told the *next* channel and what crosses it;
/// the final hop gets its own amount and CLTV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HopPayload {
    /// The node that reads this payload.
    pub node: u32,
    /// The direction to forward over (`None` at the final hop).
    pub next_direction: Option<u32>,
    /// `amt_to_forward`.
    pub amt_to_forward_msat: u64,
    /// `outgoing_cltv_value`, as a delta above the current height.
    pub outgoing_cltv_delta: u32,
}

impl Route {
    /// The onion payloads, one per hop, in order.
    pub fn payloads(&self) -> Vec<HopPayload> {
        self.hops
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let out = self.hops.get(i + 1).unwrap_or(h);
                HopPayload {
                    node: h.node,
                    next_direction: self.hops.get(i + 1).map(|n| n.direction),
                    amt_to_forward_msat: out.amount_msat,
                    outgoing_cltv_delta: out.cltv_delta,
                }
            })
            .collect()
    }

    /// The search cost of this route under `req`'s weights (fees + CLTV risk + uncertainty).
    pub fn cost(&self, g: &Graph, req: &RouteRequest) -> f64 {
        let mut cost = 0.0;
        for (i, h) in self.hops.iter().enumerate() {
            let fee = self.hops.get(i + 1).map_or(0, |_| h.fee_msat);
            let delta = u32::from(g.policies[h.direction as usize].cltv_expiry_delta);
            let delta = if i == 0 { 0 } else { delta };
            cost += fee as f64 + req.cltv_risk * h.amount_msat as f64 * f64::from(delta)
                - req.probability_weight * h.probability.ln();
        }
        cost
    }
}

/// BOLT 7: the fee a node charges to forward `amount_msat` over a direction.
pub fn fee_msat(p: &Policy, amount_msat: u64) -> u64 {
    forwarding_fee_msat(p.fee_base_msat, p.fee_proportional_millionths, amount_msat)
}

/// BOLT 7 "HTLC Fees": `fee_base_msat + amount_to_forward * fee_proportional_millionths / 1000000`.
pub fn forwarding_fee_msat(
    fee_base_msat: u32,
    fee_proportional_millionths: u32,
    amount_msat: u64,
) -> u64 {
    // A peer's numbers (an onion's amount, a channel_update's rate) may be
    // anything their widths hold: saturate, never wrap.
    let proportional =
        u128::from(amount_msat) * u128::from(fee_proportional_millionths) / 1_000_000;
    u64::try_from(proportional)
        .unwrap_or(u64::MAX)
        .saturating_add(u64::from(fee_base_msat))
}

/// The uniform-liquidity success probability of sending `amount` over a
/// channel of `capacity_msat`, with known bounds `(min, max)` on its balance.
pub fn success_probability(amount: u64, capacity_msat: u64, known: Option<(u64, u64)>) -> f64 {
    let (lo, hi) = known.unwrap_or((0, capacity_msat));
    let hi = hi.min(capacity_msat);
    if amount <= lo {
        return 1.0;
    }
    if amount > hi || hi <= lo {
        return 0.0;
    }
    (hi - amount + 1) as f64 / (hi - lo + 1) as f64
}

/// Known bounds for a direction; the empty-map check skips hashing on the hot path.
fn known(liquidity: &HashMap<u32, (u64, u64)>, d: u32) -> Option<(u64, u64)> {
    if liquidity.is_empty() {
        None
    } else {
        liquidity.get(&d).copied()
    }
}

#[derive(Clone, Copy, PartialEq)]
struct Entry {
    cost: f64,
    node: u32,
}

impl Eq for Entry {}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .cost
            .partial_cmp(&self.cost)
            .unwrap_or(Ordering::Equal)
    }
}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Copy)]
struct Label {
    cost: f64,
    amount: u64,
    cltv: u32,
    hops: u32,
    /// The direction taken from this node toward the destination.
    next: u32,
}

/// Find the cheapest route (fees + CLTV risk + uncertainty) from `req.source` to `req.destination`.
pub fn find_route(g: &Graph, req: &RouteRequest) -> Result<Route, RouteError> {
    if req.amount_msat == 0 {
        return Err(RouteError::ZeroAmount);
    }
    if req.source == req.destination {
        return Err(RouteError::SameNode);
    }
    let n = g.pubkeys.len();
    let mut best: Vec<Option<Label>> = vec![None; n];
    let mut done = vec![false; n];
    let mut heap = BinaryHeap::new();
    best[req.destination as usize] = Some(Label {
        cost: 0.0,
        amount: req.amount_msat,
        cltv: req.final_cltv_expiry_delta,
        hops: 0,
        next: u32::MAX,
    });
    heap.push(Entry {
        cost: 0.0,
        node: req.destination,
    });
    while let Some(Entry { node: v, .. }) = heap.pop() {
        if done[v as usize] {
            continue;
        }
        done[v as usize] = true;
        if v == req.source {
            break;
        }
        let lv = best[v as usize].expect("set before pushing");
        if lv.hops as usize >= req.max_hops {
            continue;
        }
        for &d in g.incoming(v) {
            let u = g.endpoints(d).0;
            if !g.policies[d as usize].enabled
                || done[u as usize]
                || (!req.avoid_directions.is_empty() && req.avoid_directions.contains(&d))
                || (!req.avoid_nodes.is_empty() && req.avoid_nodes.contains(&u))
            {
                continue;
            }
            let p = &g.policies[d as usize];
            let cap = g.channels[(d / 2) as usize]
                .capacity_sat
                .saturating_mul(1000);
            let amt = lv.amount;
            if amt < p.htlc_minimum_msat || amt > p.htlc_maximum_msat || (cap > 0 && amt > cap) {
                continue;
            }
            let prob = if cap > 0 {
                success_probability(amt, cap, known(&req.liquidity, d))
            } else {
                1.0
            };
            if prob <= 0.0 {
                continue;
            }
            // The source does not charge itself; everyone else charges its fee and adds its delta.
            let (fee, delta) = if u == req.source {
                (0, 0)
            } else {
                (fee_msat(p, amt), u32::from(p.cltv_expiry_delta))
            };
            let amount_u = amt.saturating_add(fee);
            let cltv_u = lv.cltv.saturating_add(delta);
            if amount_u - req.amount_msat > req.max_fee_msat
                || cltv_u > req.max_total_cltv_expiry_delta
            {
                continue;
            }
            let cost = lv.cost + fee as f64 + req.cltv_risk * amt as f64 * f64::from(delta)
                - req.probability_weight * prob.ln()
                + if req.penalty.is_empty() {
                    0.0
                } else {
                    req.penalty.get(&d).copied().unwrap_or(0.0)
                };
            if best[u as usize].is_none_or(|b| cost < b.cost) {
                best[u as usize] = Some(Label {
                    cost,
                    amount: amount_u,
                    cltv: cltv_u,
                    hops: lv.hops + 1,
                    next: d,
                });
                heap.push(Entry { cost, node: u });
            }
        }
    }
    if !done[req.source as usize] {
        return Err(RouteError::Unreachable {
            amount_msat: req.amount_msat,
        });
    }
    // Walk from the source along `next`.
    let mut hops = vec![];
    let mut at = req.source;
    let mut probability = 1.0;
    while at != req.destination {
        let l = best[at as usize].expect("on the path");
        let d = l.next;
        let node = g.endpoints(d).1;
        let ln = best[node as usize].expect("on the path");
        let cap = g.channels[(d / 2) as usize]
            .capacity_sat
            .saturating_mul(1000);
        let prob = if cap > 0 {
            success_probability(ln.amount, cap, req.liquidity.get(&d).copied())
        } else {
            1.0
        };
        probability *= prob;
        let fee = if node == req.destination {
            0
        } else {
            ln.amount
                - best[g.endpoints(ln.next).1 as usize]
                    .expect("on the path")
                    .amount
        };
        hops.push(Hop {
            direction: d,
            node,
            amount_msat: ln.amount,
            cltv_delta: ln.cltv,
            fee_msat: fee,
            probability: prob,
        });
        at = node;
    }
    let total_amount_msat = hops[0].amount_msat;
    Ok(Route {
        total_fee_msat: total_amount_msat - req.amount_msat,
        total_amount_msat,
        total_cltv_delta: hops[0].cltv_delta,
        probability,
        hops,
    })
}

/// Up to `k` diverse routes: after each, the directions it used cost more
/// (the first route's cost, so a detour is taken whenever one is no worse than
/// reusing the same channels twice), and repeats are dropped.
pub fn find_routes(g: &Graph, req: &RouteRequest, k: usize) -> Result<Vec<Route>, RouteError> {
    let first = find_route(g, req)?;
    let step = first.cost(g, req).max(1.0);
    let mut req = req.clone();
    let mut routes = vec![first];
    // Every route's search is independent; a few extra attempts let the
    // penalties push past repeats.
    for _ in 1..k.saturating_mul(3) {
        if routes.len() >= k {
            break;
        }
        for h in &routes.last().expect("at least one").hops {
            *req.penalty.entry(h.direction).or_insert(0.0) += step;
        }
        match find_route(g, &req) {
            Ok(r) if !routes.iter().any(|o| o.hops == r.hops) => routes.push(r),
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    Ok(routes)
}

/// The widest path's bottleneck: the largest amount (msat) any single path
/// from source to destination could carry through enabled, unavoided channel
/// directions, by capacity and `htlc_maximum_msat` (ignoring fees). Reported
/// when no route exists, so the user sees how far short the graph falls.
pub fn bottleneck_msat(g: &Graph, req: &RouteRequest) -> u64 {
    let n = g.pubkeys.len();
    let mut width = vec![0u64; n];
    let mut done = vec![false; n];
    let mut heap = BinaryHeap::new();
    width[req.source as usize] = u64::MAX;
    heap.push((u64::MAX, req.source));
    while let Some((w, u)) = heap.pop() {
        if done[u as usize] {
            continue;
        }
        done[u as usize] = true;
        if u == req.destination {
            return w;
        }
        for &d in g.out(u) {
            let p = &g.policies[d as usize];
            let v = g.endpoints(d).1;
            if !p.enabled || req.avoid_directions.contains(&d) || req.avoid_nodes.contains(&v) {
                continue;
            }
            let cap = g.channels[(d / 2) as usize]
                .capacity_sat
                .saturating_mul(1000);
            let mut lim = p.htlc_maximum_msat;
            if cap > 0 {
                lim = lim.min(cap);
            }
            if let Some(&(_, hi)) = req.liquidity.get(&d) {
                lim = lim.min(hi);
            }
            let nw = w.min(lim);
            if nw > width[v as usize] {
                width[v as usize] = nw;
                heap.push((nw, v));
            }
        }
    }
    0
}
