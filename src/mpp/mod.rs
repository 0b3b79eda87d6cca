//! Multi-part payments by min-cost flow (Pickhardt & Richter, "Optimally
//! Reliable & Cheap Payment Flows on the Lightning Network").
//!
//! The amount is quantised into units; each channel direction becomes a few
//! arcs whose per-unit costs linearise its convex cost — the proportional
//! fee plus `probability_weight * -ln P(success)` under a uniform prior on its
//! balance (narrowed by known bounds, as `route` does). Successive shortest
//! paths with Johnson potentials solve the flow on a graph pruned to the
//! nodes that lie on cheap source–destination paths; the flow is decomposed
//! into paths, tiny parts are merged, and each part's per-hop amounts are
//! recomputed exactly as forwarding nodes charge them (BOLT 7 "HTLC Fees").

pub mod amp;
pub mod learn;
pub mod session;
pub mod simulate;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::graph::Graph;
use crate::route::{fee_msat, success_probability, Hop, Route};

/// What the sender asks for.
#[derive(Clone, Debug)]
pub struct SplitRequest {
    /// The paying node.
    pub source: u32,
    /// The payee.
    pub destination: u32,
    /// What the payee receives in total.
    pub amount_msat: u64,
    /// Fee budget over all parts.
    pub max_fee_msat: u64,
    /// At most this many parts.
    pub max_parts: usize,
    /// No part below this (unless the whole amount is smaller).
    pub min_part_msat: u64,
    /// msat of cost per unit of -ln P(success).
    pub probability_weight: f64,
    /// Known liquidity per direction: (at least, at most) msat.
    pub liquidity: HashMap<u32, (u64, u64)>,
    /// Linearisation pieces per channel direction.
    pub pieces: usize,
    /// The payee's final CLTV delta.
    pub final_cltv_expiry_delta: u32,
    /// CLTV budget per part, final delta included.
    pub max_total_cltv_expiry_delta: u32,
    /// Hop budget per part.
    pub max_hops: usize,
}

impl SplitRequest {
    /// A request with the usual defaults.
    pub fn new(source: u32, destination: u32, amount_msat: u64) -> Self {
        SplitRequest {
            source,
            destination,
            amount_msat,
            max_fee_msat: amount_msat / 100 + 5_000,
            max_parts: 16,
            min_part_msat: 10_000,
            // Uncertainty must weigh like the money at stake: 0.1% of the
            // amount per unit of -ln P (at least 10 sat).
            probability_weight: (amount_msat as f64 / 1000.0).max(10_000.0),
            liquidity: HashMap::new(),
            pieces: 5,
            final_cltv_expiry_delta: 18,
            max_total_cltv_expiry_delta: 2016,
            max_hops: 20,
        }
    }
}

/// The solver's own figures.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SolverStats {
    /// Wall time of the solve, µs.
    pub time_us: u64,
    /// Nodes kept after pruning.
    pub nodes: usize,
    /// Channel directions kept after pruning.
    pub arcs: usize,
    /// Linearisation pieces per direction.
    pub pieces: usize,
    /// The quantisation unit, msat.
    pub unit_msat: u64,
    /// Shortest-path augmentations.
    pub augmentations: usize,
    /// The weight that produced this split (after any search for the fee budget).
    #[serde(rename = "probability_weight_msat")]
    pub probability_weight: f64,
}

/// A split payment.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The parts, each a route delivering its share.
    pub parts: Vec<Route>,
    /// What the parts really pay in fees.
    pub fee_msat: u64,
    /// The flow's linear fee estimate: proportional fees on the flow plus base fees per part.
    pub flow_fee_estimate_msat: u64,
    /// Probability that all parts succeed, with each channel's parts combined.
    pub probability: f64,
    /// Solver figures.
    pub solver: SolverStats,
}

/// Why there is no split.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// The amount is zero.
    #[error("amount_msat must be above zero")]
    ZeroAmount,
    /// No parts allowed.
    #[error("max_parts must be at least 1")]
    ZeroParts,
    /// Source and destination are the same node.
    #[error("source and destination are the same node")]
    SameNode,
    /// Not enough capacity even with unlimited parts.
    #[error("no split: the maximum flow from source to destination is {max_flow_msat} msat, below the {amount_msat} msat asked")]
    InsufficientFlow {
        /// The largest amount the graph can carry.
        max_flow_msat: u64,
        /// The amount asked.
        amount_msat: u64,
    },
    /// The channels at one end cannot carry the amount (a cut, found before solving).
    #[error("no split: the channels {side} can carry at most {capacity_msat} msat (after the fee reserve), below the {amount_msat} msat asked")]
    InsufficientCapacity {
        /// "out of the source" or "into the destination".
        side: &'static str,
        /// What that cut can carry.
        capacity_msat: u64,
        /// The amount asked.
        amount_msat: u64,
    },
    /// The fee budget is below the cheapest split found.
    #[error("no split within max_fee_msat {max_fee_msat}: the cheapest split found pays {min_fee_msat} msat")]
    FeeBudget {
        /// The budget.
        max_fee_msat: u64,
        /// The cheapest found.
        min_fee_msat: u64,
    },
    /// A limit (parts, htlc limits, CLTV, hops) cannot be kept.
    #[error("no split: {0}")]
    Infeasible(String),
}

/// What one direction offers this payment.
#[derive(Clone, Copy)]
struct Limits {
    /// The balance is known to be at least this, msat.
    lo: u64,
    /// And at most this (the capacity, or less when learned), msat.
    hi: u64,
    /// The most the flow may put on it: `hi`, `htlc_maximum_msat`, less the
    /// fee reserve.
    max_flow: u64,
}

impl Limits {
    /// -ln P(the balance carries `a` msat): the uncertainty the cost model
    /// prices. It depends on the balance bounds only: `htlc_maximum_msat`
    /// caps what may be sent, it says nothing of the balance (pricing
    /// against it made a 10 M sat channel with a 1 M sat htlc maximum look
    /// certain to fail at 1 M sat).
    fn uncertainty(&self, a: u64) -> f64 {
        if a <= self.lo {
            0.0
        } else {
            -success_probability(a, self.hi, Some((self.lo, self.hi)))
                .max(1e-9)
                .ln()
        }
    }
}

/// The limits of one direction for this payment, or `None` when unusable.
fn bounds(g: &Graph, req: &SplitRequest, d: u32) -> Option<Limits> {
    let p = &g.policies[d as usize];
    if !p.enabled || p.htlc_minimum_msat > req.amount_msat {
        return None;
    }
    let cap = g.channels[(d / 2) as usize]
        .capacity_sat
        .saturating_mul(1000);
    let mut hi = if cap > 0 { cap } else { p.htlc_maximum_msat };
    let mut lo = 0;
    if let Some(&(min, max)) = req.liquidity.get(&d) {
        hi = hi.min(max);
        lo = min.min(hi);
    }
    // htlc_maximum_msat limits each part; using it for the whole flow keeps
    // every part within it. The fee budget is held back so that what crosses
    // a channel — the flow plus downstream fees — still fits.
    let max_flow = hi
        .min(p.htlc_maximum_msat)
        .saturating_sub(req.max_fee_msat.min(req.amount_msat));
    (max_flow > 0).then_some(Limits { lo, hi, max_flow })
}

/// Whether a part crossing `d` pays its fee: the payer's own channels
/// charge it nothing (BOLT 7: a `channel_update`'s fee is what its node asks
/// to forward, and the payer forwards nothing). Pricing them made a payer
/// with a dear outgoing policy avoid its own best channel.
fn pays_fee(g: &Graph, req: &SplitRequest, d: u32) -> bool {
    g.endpoints(d).0 != req.source
}

/// Arcs grouped by their tail node (compressed sparse rows): each node's
/// first index into `order`, and `order` itself.
fn by_tail(n: usize, tail: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n + 1];
    for &t in tail {
        start[t as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; tail.len()];
    for (a, &t) in tail.iter().enumerate() {
        order[fill[t as usize] as usize] = a as u32;
        fill[t as usize] += 1;
    }
    (start, order)
}

/// Residual network: arcs in pairs (`a ^ 1` is the reverse), CSR by tail.
struct Network {
    head: Vec<u32>,
    cap: Vec<i64>,
    cost: Vec<i64>,
    /// The channel direction of each forward arc pair.
    dir: Vec<u32>,
    start: Vec<u32>,
    order: Vec<u32>,
}

/// Per-unit cost (milli-msat) of each linear piece of a direction.
fn piece_costs(
    g: &Graph,
    req: &SplitRequest,
    d: u32,
    unit: u64,
    lim: Limits,
    weight: f64,
) -> Vec<(i64, i64)> {
    let p = &g.policies[d as usize];
    let cap_units = (lim.max_flow / unit) as i64;
    if cap_units == 0 {
        return vec![];
    }
    let amount_units = req.amount_msat.div_ceil(unit).max(1) as f64;
    // Base fees are per HTLC, not per msat: spread over what could pass.
    let fee = if pays_fee(g, req, d) {
        p.fee_proportional_millionths as f64 * unit as f64 / 1e6
            + p.fee_base_msat as f64 / amount_units.min(cap_units as f64)
    } else {
        0.0
    };
    let uncertainty = |x: i64| lim.uncertainty(x as u64 * unit);
    let lo_units = (lim.lo / unit) as i64;
    let mut cuts = vec![0];
    if lo_units > 0 {
        cuts.push(lo_units.min(cap_units));
    }
    let from = *cuts.last().expect("nonempty");
    let n = req.pieces.max(1) as i64;
    for k in 1..=n {
        let c = from + (cap_units - from) * k / n;
        if c > *cuts.last().expect("nonempty") {
            cuts.push(c);
        }
    }
    cuts.windows(2)
        .map(|w| {
            let slope = (uncertainty(w[1]) - uncertainty(w[0])) / (w[1] - w[0]) as f64;
            let c = (fee + weight * slope) * 1000.0;
            (w[1] - w[0], c.round().max(0.0) as i64)
        })
        .collect()
}

/// Dijkstra over a per-unit cost of sending the whole amount on one path:
/// the distances prune the graph to what can matter.
fn distances(g: &Graph, req: &SplitRequest, from: u32, forward: bool, weight: f64) -> Vec<f64> {
    let n = g.pubkeys.len();
    let mut dist = vec![f64::INFINITY; n];
    let mut heap = BinaryHeap::new();
    dist[from as usize] = 0.0;
    heap.push(Reverse((0u64, from)));
    let unit = req.amount_msat;
    while let Some(Reverse((key, v))) = heap.pop() {
        let dv = dist[v as usize];
        if key != dv.to_bits() {
            continue;
        }
        let edges = if forward { g.out(v) } else { g.incoming(v) };
        for &d in edges {
            let Some(lim) = bounds(g, req, d) else {
                continue;
            };
            let w = if forward {
                g.endpoints(d).1
            } else {
                g.endpoints(d).0
            };
            let p = &g.policies[d as usize];
            // The cost of a small (tenth) share: channels too small for it still count, dearly.
            let share = (unit / 10).max(1);
            let fee = if pays_fee(g, req, d) {
                fee_msat(p, share)
            } else {
                0
            };
            let c = fee as f64 + weight * lim.uncertainty(share.min(lim.max_flow)) + 1.0;
            let nd = dv + c;
            if nd < dist[w as usize] {
                dist[w as usize] = nd;
                heap.push(Reverse((nd.to_bits(), w)));
            }
        }
    }
    dist
}

impl Network {
    fn build(
        g: &Graph,
        req: &SplitRequest,
        keep: &[bool],
        unit: u64,
        weight: f64,
    ) -> (Self, usize) {
        let (mut head, mut cap, mut cost, mut tail, mut dir) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut directions = 0;
        for d in 0..g.policies.len() as u32 {
            let (u, v) = g.endpoints(d);
            if !keep[u as usize] || !keep[v as usize] {
                continue;
            }
            let Some(lim) = bounds(g, req, d) else {
                continue;
            };
            let pieces = piece_costs(g, req, d, unit, lim, weight);
            if !pieces.is_empty() {
                directions += 1;
            }
            for (c, k) in pieces {
                head.extend([v, u]);
                tail.extend([u, v]);
                cap.extend([c, 0]);
                cost.extend([k, -k]);
                dir.push(d);
            }
        }
        let (start, order) = by_tail(g.pubkeys.len(), &tail);
        (
            Network {
                head,
                cap,
                cost,
                dir,
                start,
                order,
            },
            directions,
        )
    }

    fn arcs(&self, v: u32) -> &[u32] {
        &self.order[self.start[v as usize] as usize..self.start[v as usize + 1] as usize]
    }

    /// Successive shortest paths: push `want` units; returns units pushed and augmentations.
    fn min_cost_flow(&mut self, s: u32, t: u32, want: i64) -> (i64, usize) {
        let n = self.start.len() - 1;
        let mut pot = vec![0i64; n];
        let mut dist = vec![i64::MAX; n];
        let mut via = vec![u32::MAX; n];
        let mut touched: Vec<u32> = vec![];
        let (mut sent, mut rounds) = (0i64, 0usize);
        while sent < want {
            for &v in &touched {
                dist[v as usize] = i64::MAX;
                via[v as usize] = u32::MAX;
            }
            touched.clear();
            dist[s as usize] = 0;
            touched.push(s);
            let mut heap = BinaryHeap::new();
            heap.push(Reverse((0i64, s)));
            while let Some(Reverse((dv, v))) = heap.pop() {
                if dv > dist[v as usize] {
                    continue;
                }
                if v == t {
                    break;
                }
                for &a in self.arcs(v) {
                    let a = a as usize;
                    if self.cap[a] == 0 {
                        continue;
                    }
                    let w = self.head[a];
                    let rc = self.cost[a] + pot[v as usize] - pot[w as usize];
                    let nd = dv + rc.max(0);
                    if nd < dist[w as usize] {
                        if dist[w as usize] == i64::MAX {
                            touched.push(w);
                        }
                        dist[w as usize] = nd;
                        via[w as usize] = a as u32;
                        heap.push(Reverse((nd, w)));
                    }
                }
            }
            if dist[t as usize] == i64::MAX {
                break;
            }
            // Johnson: nodes settled beyond t keep reduced costs non-negative with dist capped at t's.
            let dt = dist[t as usize];
            for &v in &touched {
                pot[v as usize] += dist[v as usize].min(dt);
            }
            let mut push = want - sent;
            let mut v = t;
            while v != s {
                let a = via[v as usize] as usize;
                push = push.min(self.cap[a]);
                v = self.head[a ^ 1];
            }
            let mut v = t;
            while v != s {
                let a = via[v as usize] as usize;
                self.cap[a] -= push;
                self.cap[a ^ 1] += push;
                v = self.head[a ^ 1];
            }
            sent += push;
            rounds += 1;
        }
        (sent, rounds)
    }

    /// One arc per usable direction of the whole graph, its capacity in
    /// units and no cost: for `max_flow`.
    fn capacities(g: &Graph, req: &SplitRequest, unit: u64) -> Self {
        let n = g.pubkeys.len();
        let (mut head, mut cap, mut tail, mut dir) = (vec![], vec![], vec![], vec![]);
        for d in 0..g.policies.len() as u32 {
            let Some(lim) = bounds(g, req, d) else {
                continue;
            };
            let units = (lim.max_flow / unit) as i64;
            if units == 0 {
                continue;
            }
            let (u, v) = g.endpoints(d);
            head.extend([v, u]);
            tail.extend([u, v]);
            cap.extend([units, 0]);
            dir.push(d);
        }
        let (start, order) = by_tail(n, &tail);
        Network {
            cost: vec![0; head.len()],
            head,
            cap,
            dir,
            start,
            order,
        }
    }

    /// Dinic's max flow from `s` to `t`, stopping at `want` units.
    fn max_flow(&mut self, s: u32, t: u32, want: i64) -> i64 {
        let n = self.start.len() - 1;
        let mut level = vec![u32::MAX; n];
        let mut next = vec![0u32; n];
        let mut queue = Vec::with_capacity(n);
        let mut path: Vec<u32> = vec![];
        let mut sent = 0;
        while sent < want {
            // Levels by breadth-first search over arcs with room.
            level.fill(u32::MAX);
            level[s as usize] = 0;
            queue.clear();
            queue.push(s);
            let mut i = 0;
            while i < queue.len() {
                let v = queue[i];
                i += 1;
                for &a in self.arcs(v) {
                    let w = self.head[a as usize];
                    if self.cap[a as usize] > 0 && level[w as usize] == u32::MAX {
                        level[w as usize] = level[v as usize] + 1;
                        queue.push(w);
                    }
                }
            }
            if level[t as usize] == u32::MAX {
                break;
            }
            next.copy_from_slice(&self.start[..n]);
            // Blocking flow: walk forward along the levels, retreat from dead ends.
            path.clear();
            let mut v = s;
            loop {
                if v == t {
                    let push = path
                        .iter()
                        .map(|&a| self.cap[a as usize])
                        .min()
                        .expect("t is not s")
                        .min(want - sent);
                    for &a in &path {
                        self.cap[a as usize] -= push;
                        self.cap[a as usize ^ 1] += push;
                    }
                    sent += push;
                    if sent == want {
                        return sent;
                    }
                    path.clear();
                    v = s;
                    continue;
                }
                let end = self.start[v as usize + 1];
                let mut found = None;
                while next[v as usize] < end {
                    let a = self.order[next[v as usize] as usize];
                    let w = self.head[a as usize];
                    if self.cap[a as usize] > 0 && level[w as usize] == level[v as usize] + 1 {
                        found = Some(a);
                        break;
                    }
                    next[v as usize] += 1;
                }
                match found {
                    Some(a) => {
                        path.push(a);
                        v = self.head[a as usize];
                    }
                    None if v == s => break,
                    None => {
                        // A dead end: no path through `v` in this phase.
                        level[v as usize] = u32::MAX;
                        let a = path.pop().expect("v is not s");
                        v = self.head[a as usize ^ 1];
                        next[v as usize] += 1;
                    }
                }
            }
        }
        sent
    }

    /// The nodes a flow passes through.
    fn support(&self) -> Vec<u32> {
        let mut nodes = vec![];
        for pair in 0..self.dir.len() {
            if self.cap[2 * pair + 1] > 0 {
                nodes.extend([self.head[2 * pair], self.head[2 * pair + 1]]);
            }
        }
        nodes
    }

    /// Units on each channel direction.
    fn flows(&self) -> HashMap<u32, i64> {
        let mut f = HashMap::new();
        for (pair, &d) in self.dir.iter().enumerate() {
            let back = self.cap[2 * pair + 1];
            if back > 0 {
                *f.entry(d).or_insert(0) += back;
            }
        }
        f
    }
}

/// Decompose a flow (units per direction) into paths from `s` to `t`,
/// cancelling any cycle met on the way.
fn decompose(g: &Graph, mut flow: HashMap<u32, i64>, s: u32, t: u32) -> Vec<(Vec<u32>, i64)> {
    let mut paths = vec![];
    loop {
        let mut path: Vec<u32> = vec![];
        let mut seen: HashMap<u32, usize> = HashMap::new();
        let mut v = s;
        seen.insert(s, 0);
        while v != t {
            let best = g
                .out(v)
                .iter()
                .filter_map(|d| flow.get(d).filter(|f| **f > 0).map(|f| (*f, *d)))
                .max();
            let Some((_, d)) = best else {
                return paths;
            };
            path.push(d);
            v = g.endpoints(d).1;
            if let Some(&at) = seen.get(&v) {
                // A cycle: cancel it and start over.
                let cycle = path.split_off(at);
                let m = cycle.iter().map(|d| flow[d]).min().expect("nonempty");
                for d in cycle {
                    *flow.get_mut(&d).expect("on the flow") -= m;
                }
                break;
            }
            seen.insert(v, path.len());
        }
        if v != t {
            continue;
        }
        let m = path.iter().map(|d| flow[d]).min().expect("nonempty");
        for d in &path {
            *flow.get_mut(d).expect("on the flow") -= m;
        }
        paths.push((path, m));
    }
}

/// A part's route: per-hop amounts and CLTVs computed back from the destination.
pub fn part_route(
    g: &Graph,
    req: &SplitRequest,
    path: &[u32],
    amount_msat: u64,
) -> Result<Route, String> {
    let mut hops = vec![];
    let (mut amount, mut cltv) = (amount_msat, req.final_cltv_expiry_delta);
    for (i, &d) in path.iter().enumerate().rev() {
        let p = &g.policies[d as usize];
        let cap = g.channels[(d / 2) as usize]
            .capacity_sat
            .saturating_mul(1000);
        if amount < p.htlc_minimum_msat || amount > p.htlc_maximum_msat {
            return Err(format!(
                "a part of {amount_msat} msat would put {amount} msat on a channel whose htlc limits are {}..{} msat",
                p.htlc_minimum_msat, p.htlc_maximum_msat
            ));
        }
        let prob = success_probability(amount, cap, req.liquidity.get(&d).copied());
        let next = hops.last().map(|h: &Hop| h.amount_msat);
        hops.push(Hop {
            direction: d,
            node: g.endpoints(d).1,
            amount_msat: amount,
            cltv_delta: cltv,
            fee_msat: next.map_or(0, |n| amount - n),
            probability: prob,
        });
        if i > 0 {
            // The node before this channel forwards over it and charges for it.
            amount += fee_msat(p, amount);
            cltv += u32::from(p.cltv_expiry_delta);
        }
    }
    hops.reverse();
    if hops.len() > req.max_hops {
        return Err(format!(
            "a part needs {} hops, above max_hops {}",
            hops.len(),
            req.max_hops
        ));
    }
    if cltv > req.max_total_cltv_expiry_delta {
        return Err(format!(
            "a part needs CLTV delta {cltv}, above max_total_cltv_expiry_delta {}",
            req.max_total_cltv_expiry_delta
        ));
    }
    let total = hops[0].amount_msat;
    Ok(Route {
        total_fee_msat: total - amount_msat,
        total_amount_msat: total,
        total_cltv_delta: hops[0].cltv_delta,
        probability: hops.iter().map(|h| h.probability).product(),
        hops,
    })
}

/// Joint success probability: every direction must carry all its parts at once.
pub fn joint_probability(g: &Graph, liquidity: &HashMap<u32, (u64, u64)>, parts: &[Route]) -> f64 {
    let mut load: HashMap<u32, u64> = HashMap::new();
    for r in parts {
        for h in &r.hops {
            *load.entry(h.direction).or_insert(0) += h.amount_msat;
        }
    }
    load.iter()
        .map(|(&d, &a)| {
            let cap = g.channels[(d / 2) as usize]
                .capacity_sat
                .saturating_mul(1000);
            success_probability(a, cap, liquidity.get(&d).copied())
        })
        .product()
}

/// Solve once with `weight`.
fn solve(g: &Graph, req: &SplitRequest, weight: f64) -> Result<Split, SplitError> {
    let t0 = Instant::now();
    // Quantise: about 1,000 units, never below 1 msat.
    let unit = req.amount_msat.div_ceil(1000).max(1);
    let want = req.amount_msat.div_ceil(unit) as i64;
    let ds = distances(g, req, req.source, true, weight);
    let dt = distances(g, req, req.destination, false, weight);
    let best = ds[req.destination as usize];
    if !best.is_finite() {
        return Err(SplitError::InsufficientFlow {
            max_flow_msat: 0,
            amount_msat: req.amount_msat,
        });
    }
    // The cuts around both ends bound the flow: refuse at once when they are too small.
    for (side, edges) in [
        ("out of the source", g.out(req.source)),
        ("into the destination", g.incoming(req.destination)),
    ] {
        let units: u64 = edges
            .iter()
            .filter_map(|&d| bounds(g, req, d))
            .map(|lim| lim.max_flow / unit)
            .sum();
        if units < want as u64 {
            return Err(SplitError::InsufficientCapacity {
                side,
                capacity_msat: units * unit,
                amount_msat: req.amount_msat,
            });
        }
    }
    // Keep the 400 nodes on the cheapest paths.
    // (Also keeping every neighbour of both ends was measured: it raised the
    // fees and lowered the simulated success on the PR #8299 workload.)
    let mut order: Vec<(f64, u32)> = (0..g.pubkeys.len() as u32)
        .filter(|&v| ds[v as usize].is_finite() && dt[v as usize].is_finite())
        .map(|v| (ds[v as usize] + dt[v as usize], v))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut keep = vec![false; g.pubkeys.len()];
    for &(_, v) in &order[..400.min(order.len())] {
        keep[v as usize] = true;
    }
    let (mut net, mut directions) = Network::build(g, req, &keep, unit, weight);
    let (mut sent, mut rounds) = net.min_cost_flow(req.source, req.destination, want);
    if sent < want {
        // The cheap nodes cannot carry it all. Rather than widen and solve
        // again and again, one max flow over the whole graph either proves
        // the amount cannot pass (its exact maximum) or shows nodes that
        // carry it: kept too, the next min-cost flow is sure to succeed.
        let mut whole = Network::capacities(g, req, unit);
        let max = whole.max_flow(req.source, req.destination, want);
        if max < want {
            return Err(SplitError::InsufficientFlow {
                max_flow_msat: (max as u64 * unit).min(req.amount_msat),
                amount_msat: req.amount_msat,
            });
        }
        for v in whole.support() {
            keep[v as usize] = true;
        }
        (net, directions) = Network::build(g, req, &keep, unit, weight);
        (sent, rounds) = net.min_cost_flow(req.source, req.destination, want);
        if sent < want {
            return Err(SplitError::InsufficientFlow {
                max_flow_msat: (sent as u64 * unit).min(req.amount_msat),
                amount_msat: req.amount_msat,
            });
        }
    }
    let kept = keep.iter().filter(|k| **k).count();
    let flows = net.flows();
    let mut paths = decompose(g, flows, req.source, req.destination);
    paths.sort_by_key(|p| Reverse(p.1));
    // Amounts: units × unit, the rounding excess taken off the largest part.
    let mut amounts: Vec<u64> = paths.iter().map(|p| p.1 as u64 * unit).collect();
    let excess = amounts.iter().sum::<u64>() - req.amount_msat;
    amounts[0] -= excess;
    let mut parts: Vec<(Vec<u32>, u64)> = paths.into_iter().map(|p| p.0).zip(amounts).collect();
    merge_small(g, req, &mut parts)?;
    // Over budget is decided before any limit: the fee reserve held back on
    // each channel only covers fees within the budget.
    let fee: u64 = parts
        .iter()
        .map(|(path, amount)| {
            path.iter()
                .skip(1)
                .rev()
                .fold(*amount, |a, &d| a + fee_msat(&g.policies[d as usize], a))
                - amount
        })
        .sum();
    if fee > req.max_fee_msat {
        return Err(SplitError::FeeBudget {
            max_fee_msat: req.max_fee_msat,
            min_fee_msat: fee,
        });
    }
    let mut routes = vec![];
    for (path, amount) in &parts {
        routes.push(part_route(g, req, path, *amount).map_err(SplitError::Infeasible)?);
    }
    let paid: u64 = routes.iter().map(|r| r.total_fee_msat).sum();
    // The flow's own estimate: each channel's fee on the part's amount, as the
    // linear model sees it — no fee on downstream fees, so it can fall short
    // of what the parts really pay.
    let flow_fee_estimate_msat = parts
        .iter()
        .flat_map(|(path, amount)| path.iter().skip(1).map(move |d| (*d, *amount)))
        .map(|(d, amount)| fee_msat(&g.policies[d as usize], amount))
        .sum::<u64>();
    let probability = joint_probability(g, &req.liquidity, &routes);
    Ok(Split {
        parts: routes,
        fee_msat: paid,
        flow_fee_estimate_msat,
        probability,
        solver: SolverStats {
            time_us: t0.elapsed().as_micros() as u64,
            nodes: kept,
            arcs: directions,
            pieces: req.pieces,
            unit_msat: unit,
            augmentations: rounds,
            probability_weight: weight,
        },
    })
}

/// Merge parts below `min_part_msat`, and the smallest beyond `max_parts`,
/// into the part with the most room left on its path.
fn merge_small(
    g: &Graph,
    req: &SplitRequest,
    parts: &mut Vec<(Vec<u32>, u64)>,
) -> Result<(), SplitError> {
    loop {
        parts.sort_by_key(|p| Reverse(p.1));
        let last = parts.len() - 1;
        if parts.len() <= req.max_parts && (parts[last].1 >= req.min_part_msat || parts.len() == 1)
        {
            return Ok(());
        }
        if parts.len() == 1 {
            return Ok(());
        }
        let (_, extra) = parts.pop().expect("more than one");
        let mut load: HashMap<u32, u64> = HashMap::new();
        for (path, a) in parts.iter() {
            for d in path {
                *load.entry(*d).or_insert(0) += a;
            }
        }
        let room = |path: &[u32]| {
            path.iter()
                .map(|&d| {
                    let max = bounds(g, req, d).map_or(0, |lim| lim.max_flow);
                    max.saturating_sub(load[&d])
                })
                .min()
                .unwrap_or(0)
        };
        let (i, r) = parts
            .iter()
            .enumerate()
            .map(|(i, p)| (i, room(&p.0)))
            .max_by_key(|x| x.1)
            .expect("nonempty");
        if r < extra {
            return Err(SplitError::Infeasible(format!(
                "{} msat cannot be merged into {} parts of at least {} msat",
                req.amount_msat, req.max_parts, req.min_part_msat
            )));
        }
        parts[i].1 += extra;
    }
}

/// Split a payment: solve, and when the fee is over budget, search down the
/// uncertainty weight (÷4 each step, then 0) for a split that fits.
pub fn split(g: &Graph, req: &SplitRequest) -> Result<Split, SplitError> {
    if req.amount_msat == 0 {
        return Err(SplitError::ZeroAmount);
    }
    if req.max_parts == 0 {
        return Err(SplitError::ZeroParts);
    }
    if req.source == req.destination {
        return Err(SplitError::SameNode);
    }
    let mut weight = req.probability_weight;
    let mut cheapest = u64::MAX;
    for step in 0..5 {
        if step == 4 {
            weight = 0.0;
        }
        match solve(g, req, weight) {
            Ok(s) => return Ok(s),
            Err(SplitError::FeeBudget { min_fee_msat, .. }) => {
                cheapest = cheapest.min(min_fee_msat);
            }
            Err(e) => return Err(e),
        }
        if weight == 0.0 {
            break;
        }
        weight /= 4.0;
    }
    Err(SplitError::FeeBudget {
        max_fee_msat: req.max_fee_msat,
        min_fee_msat: cheapest,
    })
}

/// Units of flow out of each node minus into it (for tests: zero everywhere
/// but the ends).
pub fn net_flow(g: &Graph, parts: &[Route], source: u32) -> HashMap<u32, i128> {
    let mut net: HashMap<u32, i128> = HashMap::new();
    for r in parts {
        let mut from = source;
        for h in &r.hops {
            // What crosses the channel leaves `from` and arrives at `h.node`.
            *net.entry(from).or_insert(0) += i128::from(h.amount_msat);
            *net.entry(h.node).or_insert(0) -= i128::from(h.amount_msat);
            debug_assert_eq!(g.endpoints(h.direction).0, from);
            from = h.node;
        }
    }
    net
}
