//! Pathfinding on the 2024-09-22 mainnet snapshot, lnkit against
//! rust-lightning's `find_route` with its `ProbabilisticScorer`, side by side
//! in the same run.
//!
//! First a harness prints a table: graph load time, peak RSS after loading
//! and routing (before LDK's graph exists), p50/p99 time per route for both
//! routers over the same 1,000 (source, destination, amount) triples, their
//! ratio, and each chosen route's success probability under one shared
//! uniform-liquidity model. Then criterion measures load and routing.
//!
//! The triples are drawn with a fixed seed from the largest strongly connected
//! component; amounts as LDK's own router benchmark spreads them: half
//! `seed % 1,000,000` msat, half `100,000,000 + seed % 1,000,000` msat.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::PublicKey;
use criterion::Criterion;
use lightning::routing::router::{find_route, PaymentParameters, RouteParameters};
use lightning::routing::scoring::{
    ProbabilisticScorer, ProbabilisticScoringDecayParameters, ProbabilisticScoringFeeParameters,
};

use lnkit::graph::Graph;
use lnkit::route::{self, success_probability, RouteRequest};

mod common;

use common::{ldk_graph, load, pct, peak_rss_mib, Quiet};

const TRIPLES: usize = 1000;
const FINAL_CLTV: u32 = 42;

/// LDK's benchmark generator: a 64-bit LCG.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    *seed
}

fn triples(g: &Graph) -> Vec<(u32, u32, u64)> {
    let mut scc = g.largest_scc_nodes();
    scc.sort_unstable();
    let mut seed = 0xdeadbeef;
    (0..TRIPLES)
        .map(|i| {
            let src = scc[(lcg(&mut seed) >> 16) as usize % scc.len()];
            let mut dst = src;
            while dst == src {
                dst = scc[(lcg(&mut seed) >> 16) as usize % scc.len()];
            }
            let base = if i < TRIPLES / 2 { 0 } else { 100_000_000 };
            (src, dst, (base + (lcg(&mut seed) >> 16) % 1_000_000).max(1))
        })
        .collect()
}

/// LDK's default fee budget (1% + 50 sat), given to both routers.
fn max_fee(amount_msat: u64) -> u64 {
    amount_msat / 100 + 50_000
}

fn request(src: u32, dst: u32, amt: u64) -> RouteRequest {
    let mut req = RouteRequest::new(src, dst, amt);
    req.final_cltv_expiry_delta = FINAL_CLTV;
    req.max_fee_msat = max_fee(amt);
    req
}

/// The shared model: each channel's balance uniform on [0, capacity].
fn probability(g: &Graph, hops: &[(u32, u64)]) -> f64 {
    hops.iter()
        .map(|&(chan, amt)| {
            let cap = g.channels[chan as usize].capacity_sat * 1000;
            success_probability(amt, cap, None)
        })
        .product()
}

fn ldk_params(g: &Graph, dst: u32, amt: u64) -> RouteParameters {
    let pk = PublicKey::from_slice(&g.pubkeys[dst as usize]).unwrap();
    let mut pp = PaymentParameters::from_node_id(pk, FINAL_CLTV);
    pp.max_total_cltv_expiry_delta = 2016;
    pp.max_path_count = 1;
    let mut rp = RouteParameters::from_payment_params_and_value(pp, amt);
    rp.max_total_routing_fee_msat = Some(max_fee(amt));
    rp
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn table() {
    // Load: median of five.
    let mut loads: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            black_box(load());
            t.elapsed()
        })
        .collect();
    loads.sort();
    let g = load();
    let ts = triples(&g);

    let mut ours = vec![];
    let mut our_times = vec![];
    for &(s, d, a) in &ts {
        let req = request(s, d, a);
        let t = Instant::now();
        let r = route::find_route(&g, &req);
        our_times.push(t.elapsed());
        ours.push(r.ok().map(|r| {
            let hops: Vec<(u32, u64)> = r
                .hops
                .iter()
                .map(|h| (h.direction / 2, h.amount_msat))
                .collect();
            probability(&g, &hops)
        }));
    }
    let rss = peak_rss_mib();

    let logger = Quiet;
    let ng = ldk_graph(&g, &logger);
    let scorer =
        ProbabilisticScorer::new(ProbabilisticScoringDecayParameters::default(), &ng, &logger);
    let fee_params = ProbabilisticScoringFeeParameters::default();
    let mut theirs = vec![];
    let mut their_times = vec![];
    for &(s, d, a) in &ts {
        let payer = PublicKey::from_slice(&g.pubkeys[s as usize]).unwrap();
        let params = ldk_params(&g, d, a);
        let t = Instant::now();
        let r = find_route(
            &payer,
            &params,
            &ng,
            None,
            &logger,
            &scorer,
            &fee_params,
            &[42; 32],
        );
        their_times.push(t.elapsed());
        theirs.push(r.ok().map(|r| {
            let path = &r.paths[0];
            // What crosses hop i's channel: the fees of the hops after it plus the amount.
            let mut hops = vec![];
            let mut carried = 0;
            for h in path.hops.iter().rev() {
                carried += h.fee_msat;
                hops.push(((h.short_channel_id - 1) as u32, carried));
            }
            probability(&g, &hops)
        }));
    }

    our_times.sort();
    their_times.sort();
    let both: Vec<(f64, f64)> = ours
        .iter()
        .zip(&theirs)
        .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
        .collect();
    let mut ours_p: Vec<f64> = both.iter().map(|x| x.0).collect();
    let mut theirs_p: Vec<f64> = both.iter().map(|x| x.1).collect();
    let mut diff: Vec<f64> = both.iter().map(|x| x.0 - x.1).collect();
    let not_worse = both.iter().filter(|x| x.0 >= x.1 - 1e-12).count();
    let found = |v: &[Option<f64>]| v.iter().filter(|x| x.is_some()).count();

    println!();
    println!("route benchmark: gossip-store-2024-09-22, {TRIPLES} triples (seed 0xdeadbeef, largest SCC: {} nodes)", g.largest_scc());
    println!(
        "graph load (compressed file + node map), median of 5: {:.1} ms",
        loads[2].as_secs_f64() * 1e3
    );
    println!("peak RSS after loading and routing (before LDK's graph): {rss:.1} MiB");
    println!("| router | routes found | p50 per route | p99 per route | median P(success) |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, found: usize, times: &[Duration], p: f64| {
        println!(
            "| {name} | {found} / {TRIPLES} | {:.1} µs | {:.1} µs | {p:.4} |",
            pct(times, 0.5).as_secs_f64() * 1e6,
            pct(times, 0.99).as_secs_f64() * 1e6,
        )
    };
    row("lnkit", found(&ours), &our_times, median(&mut ours_p));
    row(
        "LDK find_route + ProbabilisticScorer",
        found(&theirs),
        &their_times,
        median(&mut theirs_p),
    );
    println!(
        "time ratio lnkit/LDK: p50 {:.3}, p99 {:.3}",
        pct(&our_times, 0.5).as_secs_f64() / pct(&their_times, 0.5).as_secs_f64(),
        pct(&our_times, 0.99).as_secs_f64() / pct(&their_times, 0.99).as_secs_f64()
    );
    println!(
        "on the {} triples both routed: median P(lnkit) - P(LDK) = {:+.4}; lnkit's at least LDK's on {} ({:.1}%)",
        both.len(),
        median(&mut diff),
        not_worse,
        100.0 * not_worse as f64 / both.len().max(1) as f64
    );
    println!();
}

fn bench(c: &mut Criterion) {
    c.bench_function("route/graph_load_2024", |b| b.iter(|| black_box(load())));
    let g = load();
    let ts: Vec<_> = triples(&g).into_iter().step_by(10).collect();
    let mut group = c.benchmark_group("route/100_triples");
    group.sample_size(10);
    group.bench_function("lnkit", |b| {
        b.iter(|| {
            for &(s, d, a) in &ts {
                let _ = black_box(route::find_route(&g, &request(s, d, a)));
            }
        })
    });
    let logger = Quiet;
    let ng = ldk_graph(&g, &logger);
    let scorer =
        ProbabilisticScorer::new(ProbabilisticScoringDecayParameters::default(), &ng, &logger);
    let fee_params = ProbabilisticScoringFeeParameters::default();
    group.bench_function("ldk", |b| {
        b.iter(|| {
            for &(s, d, a) in &ts {
                let payer = PublicKey::from_slice(&g.pubkeys[s as usize]).unwrap();
                let _ = black_box(find_route(
                    &payer,
                    &ldk_params(&g, d, a),
                    &ng,
                    None,
                    &logger,
                    &scorer,
                    &fee_params,
                    &[42; 32],
                ));
            }
        })
    });
    group.finish();
}

fn main() {
    // `cargo bench -- --list` and the like should not run the harness.
    if !std::env::args().any(|a| a == "--list") {
        table();
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
