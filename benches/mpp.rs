//! Multi-part payments on the 2024-09-22 mainnet snapshot: lnkit's
//! min-cost-flow splitter against rust-lightning's MPP router
//! (`find_route` + `ProbabilisticScorer`, basic_mpp on), side by side in the
//! same run, both paying against the same hidden balances.
//!
//! Workloads, as Core Lightning measured askrene:
//! - `test_real_data`: node 3301 to each of the 100 best-connected nodes,
//!   100,000 sat, max fee 0.5%;
//! - PR #8299: node 3301 to the 500 best-connected nodes, 1,000,000 sat,
//!   max fee 1,000 sat.
//!
//! The harness prints a table per workload: solve time p50/p99/max, peak RSS,
//! parts per payment, fee, and under the simulated payment loop (balances
//! uniform per channel, seeds 1–3, at most 10 rounds) success rate, rounds
//! and fees — for both routers, and lnkit's five slowest first solves. Then
//! criterion times one split and one LDK MPP route. `LNKIT_BENCH_LDK=0`
//! leaves LDK's rows out (a quick run while tuning).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::PublicKey;
use criterion::Criterion;
use lightning::routing::gossip::NetworkGraph;
use lightning::routing::router::{find_route, Path, PaymentParameters, RouteParameters};
use lightning::routing::scoring::{
    ProbabilisticScorer, ProbabilisticScoringDecayParameters, ProbabilisticScoringFeeParameters,
    ScoreUpdate,
};
use lightning::types::features::Bolt11InvoiceFeatures;

use common::{ldk_graph, load, pct, peak_rss_mib, Quiet};
use lnkit::graph::Graph;
use lnkit::mpp::{self, simulate, SplitRequest};

const SOURCE: u32 = 3301;
const SEEDS: [u64; 3] = [1, 2, 3];
const MAX_ROUNDS: usize = 10;

struct Workload {
    name: &'static str,
    destinations: usize,
    amount_msat: u64,
    max_fee_msat: u64,
}

const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "CLN test_real_data: 100 best-connected, 100,000 sat, max fee 0.5%",
        destinations: 100,
        amount_msat: 100_000_000,
        max_fee_msat: 500_000,
    },
    Workload {
        name: "CLN PR #8299: 500 best-connected, 1,000,000 sat, max fee 1,000 sat",
        destinations: 500,
        amount_msat: 1_000_000_000,
        max_fee_msat: 1_000_000,
    },
];

/// The best-connected nodes: most channels first, ties by index.
fn best_connected(g: &Graph, k: usize) -> Vec<u32> {
    let mut deg = vec![0usize; g.pubkeys.len()];
    for c in &g.channels {
        deg[c.node_1 as usize] += 1;
        deg[c.node_2 as usize] += 1;
    }
    let mut order: Vec<u32> = (0..g.pubkeys.len() as u32)
        .filter(|&v| v != SOURCE)
        .collect();
    order.sort_by_key(|&v| (std::cmp::Reverse(deg[v as usize]), v));
    order.truncate(k);
    order
}

fn request(dst: u32, w: &Workload) -> SplitRequest {
    let mut r = SplitRequest::new(SOURCE, dst, w.amount_msat);
    r.max_fee_msat = w.max_fee_msat;
    r
}

fn ldk_params(g: &Graph, dst: u32, amount: u64, max_fee: u64) -> RouteParameters {
    let pk = PublicKey::from_slice(&g.pubkeys[dst as usize]).unwrap();
    let mut features = Bolt11InvoiceFeatures::empty();
    features.set_variable_length_onion_optional();
    features.set_payment_secret_optional();
    features.set_basic_mpp_optional();
    let pp = PaymentParameters::from_node_id(pk, 18)
        .with_bolt11_features(features)
        .unwrap();
    let mut rp = RouteParameters::from_payment_params_and_value(pp, amount);
    rp.max_total_routing_fee_msat = Some(max_fee);
    rp
}

/// LDK's path as (direction, amount crossing) pairs in our graph.
fn ldk_hops(g: &Graph, path: &Path) -> Vec<(u32, u64)> {
    let mut from = SOURCE;
    let mut carried: Vec<u64> = path
        .hops
        .iter()
        .rev()
        .scan(0u64, |acc, h| {
            *acc += h.fee_msat;
            Some(*acc)
        })
        .collect();
    carried.reverse();
    path.hops
        .iter()
        .zip(carried)
        .map(|(h, amt)| {
            let c = (h.short_channel_id - 1) as u32;
            let dir = if g.channels[c as usize].node_1 == from {
                2 * c
            } else {
                2 * c + 1
            };
            from = g.endpoints(dir).1;
            (dir, amt)
        })
        .collect()
}

#[derive(Default)]
struct Totals {
    payments: usize,
    success: usize,
    rounds: Vec<usize>,
    fees: Vec<u64>,
    first_times: Vec<Duration>,
    parts: Vec<usize>,
    first_fee: Vec<u64>,
    no_route: usize,
}

/// LDK's payment loop against the same hidden balances: route the remainder,
/// try every path, tell the scorer what failed and what succeeded.
fn ldk_pay(
    g: &Graph,
    ng: &NetworkGraph<&Quiet>,
    logger: &Quiet,
    dst: u32,
    w: &Workload,
    hidden: &mut [u64],
    t: &mut Totals,
) {
    let mut scorer =
        ProbabilisticScorer::new(ProbabilisticScoringDecayParameters::default(), ng, logger);
    let params = ProbabilisticScoringFeeParameters::default();
    let payer = PublicKey::from_slice(&g.pubkeys[SOURCE as usize]).unwrap();
    let (mut delivered, mut paid, mut rounds) = (0u64, 0u64, 0usize);
    let now = Duration::from_secs(1_727_000_000);
    while delivered < w.amount_msat && rounds < MAX_ROUNDS {
        rounds += 1;
        let rp = ldk_params(g, dst, w.amount_msat - delivered, w.max_fee_msat - paid);
        let start = Instant::now();
        let route = find_route(&payer, &rp, ng, None, logger, &scorer, &params, &[42; 32]);
        if rounds == 1 {
            t.first_times.push(start.elapsed());
        }
        let Ok(route) = route else {
            if rounds == 1 {
                t.no_route += 1;
            }
            break;
        };
        if rounds == 1 {
            t.parts.push(route.paths.len());
            t.first_fee
                .push(route.paths.iter().map(|p| p.fee_msat()).sum());
        }
        for path in &route.paths {
            let hops = ldk_hops(g, path);
            match hops.iter().position(|&(d, a)| hidden[d as usize] < a) {
                Some(i) => scorer.payment_path_failed(path, path.hops[i].short_channel_id, now),
                None => {
                    for &(d, a) in &hops {
                        hidden[d as usize] -= a;
                        hidden[(d ^ 1) as usize] += a;
                    }
                    delivered += path.final_value_msat();
                    paid += path.fee_msat();
                    scorer.payment_path_successful(path, now);
                }
            }
        }
    }
    t.payments += 1;
    t.rounds.push(rounds);
    if delivered >= w.amount_msat {
        t.success += 1;
        t.fees.push(paid);
    }
}

fn row(name: &str, t: &Totals) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {name} | {:.1} | {:.1} | {:.1} | {} | {} | {:.1}% ({}/{}) | {:.2} | {} |",
        ms(pct(&t.first_times, 0.5)),
        ms(pct(&t.first_times, 0.99)),
        ms(pct(&t.first_times, 1.0)),
        if t.parts.is_empty() {
            0
        } else {
            pct(&t.parts, 0.5)
        },
        if t.first_fee.is_empty() {
            0
        } else {
            pct(&t.first_fee, 0.5)
        },
        100.0 * t.success as f64 / t.payments as f64,
        t.success,
        t.payments,
        t.rounds.iter().sum::<usize>() as f64 / t.rounds.len() as f64,
        if t.fees.is_empty() {
            0
        } else {
            pct(&t.fees, 0.5)
        },
    );
}

fn table(g: &Graph) {
    let logger = Quiet;
    let mut results = vec![];
    for w in &WORKLOADS {
        let dsts = best_connected(g, w.destinations);
        let mut ours = Totals::default();
        let mut slowest = vec![];
        for &d in &dsts {
            let req = request(d, w);
            let start = Instant::now();
            let first = mpp::split(g, &req);
            let took = start.elapsed();
            ours.first_times.push(took);
            match &first {
                Ok(s) => {
                    ours.parts.push(s.parts.len());
                    ours.first_fee.push(s.fee_msat);
                    slowest.push((took, d, format!("{:?}", s.solver)));
                }
                Err(e) => {
                    ours.no_route += 1;
                    slowest.push((took, d, e.to_string()));
                }
            }
            for seed in SEEDS {
                let mut hidden = simulate::draw_balances(g, seed);
                let o = simulate::simulate(g, &req, &mut hidden, MAX_ROUNDS);
                ours.payments += 1;
                ours.rounds.push(o.rounds);
                if o.success {
                    ours.success += 1;
                    ours.fees.push(o.fee_paid_msat);
                }
            }
        }
        slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
        slowest.truncate(5);
        results.push((w, dsts, ours, slowest));
    }
    let rss = peak_rss_mib();
    let with_ldk = std::env::var("LNKIT_BENCH_LDK").map_or(true, |v| v != "0");
    let ng = ldk_graph(g, &logger);
    for (w, dsts, ours, slowest) in &results {
        let mut theirs = Totals::default();
        for &d in dsts.iter().filter(|_| with_ldk) {
            for seed in SEEDS {
                let mut hidden = simulate::draw_balances(g, seed);
                let mut t = Totals::default();
                ldk_pay(g, &ng, &logger, d, w, &mut hidden, &mut t);
                // Time, parts and first fee from the first seed only (the same route each time).
                if seed == SEEDS[0] {
                    theirs.first_times.extend(t.first_times);
                    theirs.parts.extend(t.parts);
                    theirs.first_fee.extend(t.first_fee);
                    theirs.no_route += t.no_route;
                }
                theirs.payments += t.payments;
                theirs.success += t.success;
                theirs.rounds.extend(t.rounds);
                theirs.fees.extend(t.fees);
            }
        }
        println!();
        println!(
            "{} (source node {SOURCE}, seeds {SEEDS:?}, ≤ {MAX_ROUNDS} rounds)",
            w.name
        );
        println!("| router | solve p50 ms | p99 ms | max ms | median parts | median first fee msat | success | mean rounds | median fee paid msat |");
        println!("|---|---|---|---|---|---|---|---|---|");
        row("lnkit amp-split", ours);
        if with_ldk {
            row("LDK find_route MPP + ProbabilisticScorer", &theirs);
            println!(
                "first solve without any route: lnkit {}, LDK {}",
                ours.no_route, theirs.no_route
            );
            println!(
                "solve time ratio lnkit/LDK: p50 {:.3}",
                pct(&ours.first_times, 0.5).as_secs_f64()
                    / pct(&theirs.first_times, 0.5).as_secs_f64()
            );
        }
        println!("lnkit's slowest first solves:");
        for (took, d, what) in slowest {
            println!("  node {d}: {:.1} ms, {what}", took.as_secs_f64() * 1e3);
        }
    }
    println!("peak RSS after lnkit's workloads (before LDK's graph): {rss:.1} MiB");
    println!();
}

fn bench(c: &mut Criterion, g: &Graph) {
    let w = &WORKLOADS[1];
    let dst = best_connected(g, 1)[0];
    let req = request(dst, w);
    let mut group = c.benchmark_group("mpp/1M_sat_to_best_connected");
    group.sample_size(10);
    group.bench_function("lnkit_split", |b| b.iter(|| black_box(mpp::split(g, &req))));
    let logger = Quiet;
    let ng = ldk_graph(g, &logger);
    let scorer =
        ProbabilisticScorer::new(ProbabilisticScoringDecayParameters::default(), &ng, &logger);
    let params = ProbabilisticScoringFeeParameters::default();
    let payer = PublicKey::from_slice(&g.pubkeys[SOURCE as usize]).unwrap();
    let rp = ldk_params(g, dst, w.amount_msat, w.max_fee_msat);
    group.bench_function("ldk_find_route_mpp", |b| {
        b.iter(|| {
            black_box(find_route(
                &payer, &rp, &ng, None, &logger, &scorer, &params, &[42; 32],
            ))
        })
    });
    group.finish();
}

fn main() {
    let g = load();
    if !std::env::args().any(|a| a == "--list") {
        table(&g);
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &g);
    c.final_summary();
}
