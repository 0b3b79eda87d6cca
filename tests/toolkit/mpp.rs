//! The min-cost-flow splitter on hand-made graphs where the optimal split is
//! known, its exactness (fees, conservation), AMP's share algebra, and the
//! simulated payment loop.

use crate::common;

use std::collections::HashMap;

use common::graphs::{graph, policy};
use lnkit::graph::Graph;
use lnkit::mpp::{self, amp, simulate, SplitError, SplitRequest};
use lnkit::route::fee_msat;

const S: u32 = 0;
const A: u32 = 1;
const B: u32 = 2;
const D: u32 = 3;

/// Two disjoint paths S→A→D and S→B→D with the given capacities (sat) and A's / B's ppm.
fn two_paths(a_cap: u64, a_ppm: u32, b_cap: u64, b_ppm: u32) -> Graph {
    graph(
        4,
        &[
            (S, A, a_cap, policy(0, 0, 40)),
            (A, D, a_cap, policy(0, a_ppm, 40)),
            (S, B, b_cap, policy(0, 0, 40)),
            (B, D, b_cap, policy(0, b_ppm, 40)),
        ],
    )
}

/// What each part delivers, by the first node after the source.
fn by_first_hop(s: &mpp::Split) -> HashMap<u32, u64> {
    let mut m = HashMap::new();
    for p in &s.parts {
        *m.entry(p.hops[0].node).or_insert(0) += p.hops.last().unwrap().amount_msat;
    }
    m
}

#[test]
fn the_cheap_path_is_filled_first_and_the_rest_takes_the_dear_one() {
    // 1.2M sat over two 1M-sat paths: pure fee puts all A can take on A.
    let g = two_paths(1_000_000, 100, 1_000_000, 1000);
    let mut req = SplitRequest::new(S, D, 1_200_000_000);
    req.probability_weight = 0.0;
    req.max_fee_msat = 10_000_000;
    let s = mpp::split(&g, &req).unwrap();
    let m = by_first_hop(&s);
    // A's channels hold back the fee budget: 1,000,000,000 - 10,000,000 usable, in 1,200,000-msat units.
    let a_units = (1_000_000_000u64 - 10_000_000) / 1_200_000;
    assert_eq!(m[&A], a_units * 1_200_000);
    assert_eq!(m[&A] + m[&B], 1_200_000_000);
    assert_eq!(s.parts.len(), 2);
}

#[test]
fn the_payers_own_channel_is_not_priced_at_its_outgoing_fee() {
    // S's own policy on S→D asks 5,000 ppm of forwarders, but S pays itself
    // nothing: the direct channel is free and the detour through A is not.
    let g = graph(
        4,
        &[
            (S, D, 10_000_000, policy(1000, 5000, 40)),
            (S, A, 10_000_000, policy(0, 0, 40)),
            (A, D, 10_000_000, policy(0, 100, 40)),
        ],
    );
    let mut req = SplitRequest::new(S, D, 1_000_000_000);
    req.probability_weight = 0.0;
    let s = mpp::split(&g, &req).unwrap();
    assert_eq!(by_first_hop(&s), HashMap::from([(D, 1_000_000_000)]));
    assert_eq!(s.fee_msat, 0);
}

#[test]
fn htlc_maximum_caps_the_flow_but_does_not_price_the_balance() {
    // S→A→D is 10 M sat with a 1.1 M sat htlc maximum: sending 1 M sat there
    // succeeds with P = 0.9. S→B→D is 1.2 M sat wide: P = 1/6 or so. The
    // uncertainty must be taken against the capacity, not the htlc maximum.
    let mut narrow = policy(0, 0, 40);
    narrow.htlc_maximum_msat = 1_100_000_000;
    let g = graph(
        4,
        &[
            (S, A, 10_000_000, narrow),
            (A, D, 10_000_000, narrow),
            (S, B, 1_200_000, policy(0, 0, 40)),
            (B, D, 1_200_000, policy(0, 0, 40)),
        ],
    );
    let mut req = SplitRequest::new(S, D, 1_000_000_000);
    req.max_fee_msat = 1_000;
    let s = mpp::split(&g, &req).unwrap();
    assert_eq!(by_first_hop(&s), HashMap::from([(A, 1_000_000_000)]));
    assert!(s.probability > 0.8, "{}", s.probability);
    // And the cap holds: 1.2 M sat cannot all cross the narrow path.
    let mut req = SplitRequest::new(S, D, 1_500_000_000);
    req.max_fee_msat = 1_000;
    let s = mpp::split(&g, &req).unwrap();
    assert!(s
        .parts
        .iter()
        .all(|p| p.hops[0].amount_msat <= 1_100_000_000));
    assert_eq!(s.parts.len(), 2);
}

#[test]
fn a_bottleneck_forces_a_split_and_too_much_is_refused_with_the_max_flow() {
    let g = two_paths(600_000, 100, 600_000, 100);
    let mut req = SplitRequest::new(S, D, 1_000_000_000);
    req.max_fee_msat = 5_000_000;
    let s = mpp::split(&g, &req).unwrap();
    assert_eq!(s.parts.len(), 2, "neither path carries 1M sat alone");
    let m = by_first_hop(&s);
    assert!(m[&A] <= 600_000_000 && m[&B] <= 600_000_000, "{m:?}");
    req.amount_msat = 1_300_000_000;
    match mpp::split(&g, &req) {
        Err(SplitError::InsufficientCapacity {
            side,
            capacity_msat,
            ..
        }) => {
            assert_eq!(side, "out of the source");
            // Two 600k-sat channels less the 5,000-sat fee reserve each, in whole units.
            assert!(capacity_msat <= 1_190_000_000, "{capacity_msat}");
            assert!(capacity_msat >= 1_180_000_000, "{capacity_msat}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bottleneck_in_the_middle_is_reported_as_the_max_flow() {
    // Wide at both ends, 500k sat twice in the middle.
    let g = graph(
        5,
        &[
            (0, 1, 2_000_000, policy(0, 0, 40)),
            (1, 2, 500_000, policy(0, 10, 40)),
            (1, 3, 500_000, policy(0, 10, 40)),
            (2, 4, 2_000_000, policy(0, 10, 40)),
            (3, 4, 2_000_000, policy(0, 10, 40)),
        ],
    );
    let mut req = SplitRequest::new(0, 4, 1_500_000_000);
    req.max_fee_msat = 1_000_000;
    match mpp::split(&g, &req) {
        Err(SplitError::InsufficientFlow { max_flow_msat, .. }) => {
            assert!(max_flow_msat <= 1_000_000_000, "{max_flow_msat}");
            assert!(max_flow_msat >= 990_000_000, "{max_flow_msat}");
        }
        other => panic!("{other:?}"),
    }
    req.amount_msat = 900_000_000;
    let s = mpp::split(&g, &req).unwrap();
    assert_eq!(s.parts.len(), 2, "the middle forces two parts");
}

#[test]
fn fee_against_reliability_flips_with_the_weight() {
    // 100k sat. A is cheap but its 150k-sat channels are a gamble; B is dear and huge.
    let g = two_paths(150_000, 100, 100_000_000, 2000);
    let mut req = SplitRequest::new(S, D, 100_000_000);
    req.max_fee_msat = 1_000_000;
    req.probability_weight = 0.0;
    let cheap = mpp::split(&g, &req).unwrap();
    let cm = by_first_hop(&cheap);
    assert_eq!(cm.get(&A).copied(), Some(100_000_000), "{cm:?}");
    req.probability_weight = 1_000_000.0;
    let safe = mpp::split(&g, &req).unwrap();
    let sm = by_first_hop(&safe);
    assert!(sm.get(&B).copied().unwrap_or(0) > 50_000_000, "{sm:?}");
    assert!(safe.probability > cheap.probability);
    assert!(safe.fee_msat > cheap.fee_msat);
}

#[test]
fn parts_pay_exact_fees_and_conserve_the_amount() {
    // A diamond with a shared middle: S→{A,B}→C→D, with base fees.
    let g = graph(
        5,
        &[
            (0, 1, 2_000_000, policy(0, 0, 40)),
            (0, 2, 2_000_000, policy(0, 0, 40)),
            (1, 3, 1_000_000, policy(1000, 50, 40)),
            (2, 3, 1_000_000, policy(2000, 70, 40)),
            (3, 4, 5_000_000, policy(500, 300, 144)),
        ],
    );
    let mut req = SplitRequest::new(0, 4, 1_500_000_000);
    req.max_fee_msat = 2_000_000;
    let s = mpp::split(&g, &req).unwrap();
    assert!(s.parts.len() >= 2);
    let delivered: u64 = s
        .parts
        .iter()
        .map(|p| p.hops.last().unwrap().amount_msat)
        .sum();
    assert_eq!(delivered, 1_500_000_000);
    let mut kept: HashMap<u32, i128> = HashMap::new();
    for p in &s.parts {
        for i in 0..p.hops.len() - 1 {
            let next = &p.hops[i + 1];
            let fee = fee_msat(&g.policies[next.direction as usize], next.amount_msat);
            assert_eq!(p.hops[i].fee_msat, fee);
            assert_eq!(p.hops[i].amount_msat, next.amount_msat + fee);
            *kept.entry(p.hops[i].node).or_insert(0) += i128::from(fee);
        }
    }
    // In minus out at every intermediate node is exactly the fees it keeps.
    let net = mpp::net_flow(&g, &s.parts, 0);
    for (node, n) in net {
        match node {
            0 => assert_eq!(
                n,
                s.parts
                    .iter()
                    .map(|p| i128::from(p.total_amount_msat))
                    .sum::<i128>()
            ),
            4 => assert_eq!(n, -1_500_000_000),
            v => assert_eq!(-n, kept.get(&v).copied().unwrap_or(0), "node {v}"),
        }
    }
    let paid: u64 = s.parts.iter().map(|p| p.total_fee_msat).sum();
    assert_eq!(s.fee_msat, paid);
    assert!(
        s.fee_msat >= s.flow_fee_estimate_msat,
        "fees on fees only add"
    );
}

#[test]
fn max_parts_min_part_and_the_fee_budget_are_kept() {
    let g = two_paths(1_000_000, 100, 1_000_000, 1000);
    let mut req = SplitRequest::new(S, D, 1_200_000_000);
    req.max_fee_msat = 10_000_000;
    req.max_parts = 1;
    assert!(matches!(
        mpp::split(&g, &req),
        Err(SplitError::Infeasible(_))
    ));
    req.max_parts = 0;
    assert_eq!(mpp::split(&g, &req), Err(SplitError::ZeroParts));
    req.max_parts = 4;
    req.max_fee_msat = 1000;
    match mpp::split(&g, &req) {
        Err(SplitError::FeeBudget { min_fee_msat, .. }) => assert!(min_fee_msat > 1000),
        other => panic!("{other:?}"),
    }
    req.amount_msat = 0;
    assert_eq!(mpp::split(&g, &req), Err(SplitError::ZeroAmount));
    // A tiny remainder part is merged into the other when there is room.
    let g = two_paths(10_000_000, 100, 10_000_000, 100);
    let mut req = SplitRequest::new(S, D, 5_000_000);
    req.min_part_msat = 5_000_000;
    let s = mpp::split(&g, &req).unwrap();
    assert!(s
        .parts
        .iter()
        .all(|p| p.hops.last().unwrap().amount_msat >= 5_000_000));
}

#[test]
fn known_liquidity_moves_the_flow() {
    let g = two_paths(1_000_000, 100, 1_000_000, 100);
    let mut req = SplitRequest::new(S, D, 100_000_000);
    req.max_fee_msat = 1_000_000;
    // An earlier attempt learned S→A holds at most 20k sat: direction 0 of channel 0.
    req.liquidity.insert(0, (0, 20_000_000));
    let s = mpp::split(&g, &req).unwrap();
    let m = by_first_hop(&s);
    assert!(m.get(&A).copied().unwrap_or(0) <= 20_000_000, "{m:?}");
}

#[test]
fn amp_shares_xor_to_the_root_and_children_hash_right() {
    let root = [7u8; 32];
    let random = [[1u8; 32], [2u8; 32], [0xf0u8; 32]];
    let shares = amp::split_root(&root, &random);
    assert_eq!(shares.len(), 4);
    assert_eq!(amp::combine(&shares), root);
    for (i, share) in shares.iter().enumerate() {
        let c = amp::child(&root, *share, i as u32);
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(root);
        h.update(share);
        h.update((i as u32).to_be_bytes());
        let pre: [u8; 32] = h.finalize().into();
        assert_eq!(c.preimage, pre);
        assert_eq!(c.hash, <[u8; 32]>::from(Sha256::digest(pre)));
    }
    // Missing one share gives another root, and other child hashes.
    let wrong = amp::combine(&shares[..3]);
    assert_ne!(wrong, root);
    assert_ne!(
        amp::child(&wrong, shares[0], 0).hash,
        amp::child(&root, shares[0], 0).hash
    );
    // The record: share, set id, then the index as a truncated u32.
    assert_eq!(amp::record(&[1; 32], &[2; 32], 0).len(), 64);
    assert_eq!(amp::record(&[1; 32], &[2; 32], 9)[64..], [9]);
    assert_eq!(amp::record(&[1; 32], &[2; 32], 256)[64..], [1, 0]);
}

#[test]
fn the_simulated_loop_never_sends_more_than_the_amount() {
    let g = ring_with_chords(11);
    let mut successes = 0;
    for seed in 0..20 {
        let mut req = SplitRequest::new(0, 15, 300_000_000);
        req.max_fee_msat = 3_000_000;
        let mut hidden = simulate::draw_balances(&g, seed);
        let total_before: u64 = hidden.iter().sum();
        let o = simulate::simulate(&g, &req, &mut hidden, 10);
        assert!(o.delivered_msat <= req.amount_msat, "{o:?}");
        assert!(o.fee_paid_msat <= req.max_fee_msat, "{o:?}");
        assert!(o.rounds <= 10);
        assert_eq!(o.success, o.delivered_msat == req.amount_msat);
        // Liquidity only moves between the two directions of a channel.
        assert_eq!(hidden.iter().sum::<u64>(), total_before);
        for (c, ch) in g.channels.iter().enumerate() {
            assert_eq!(hidden[2 * c] + hidden[2 * c + 1], ch.capacity_sat * 1000);
        }
        successes += usize::from(o.success);
    }
    assert!(successes > 0, "some payment of 300k sat should arrive");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// The node's payment loop, with parts in flight together and their
    /// outcomes in any order: what is delivered and in flight never exceeds
    /// the amount, nor their fees the budget, whatever fails where.
    #[test]
    fn the_payment_loop_never_sends_more_than_the_amount_nor_fees_past_the_budget(
        graph_seed in 0u64..1000,
        amount in 1_000_000u64..600_000_000,
        budget in 0u64..4_000_000,
        single_first in proptest::bool::ANY,
        events in proptest::collection::vec((0u8..4, 0usize..32, 0usize..8), 1..60),
    ) {
        use lnkit::mpp::learn::{route_hops, Knowledge};
        use lnkit::mpp::session::{PaymentSession, Strategy};
        let g = ring_with_chords(graph_seed);
        let mut req = SplitRequest::new(0, 15, amount);
        req.max_fee_msat = budget;
        let strategy = if single_first {
            Strategy::SinglePathFirst { min_probability: 0.5, mpp: true }
        } else {
            Strategy::Split
        };
        let mut s = PaymentSession::new(req, strategy, 6);
        let mut known = Knowledge::new(0);
        let mut out: Vec<lnkit::route::Route> = vec![];
        for (what, pick, hop) in events {
            if what == 0 || out.is_empty() {
                let liquidity = known.liquidity(0, |d| {
                    Some((d, g.channels[(d / 2) as usize].capacity_sat * 1000))
                });
                if let Ok(parts) = s.plan(&g, liquidity) {
                    out.extend(parts);
                }
            } else {
                let part = out.remove(pick % out.len());
                let hops = route_hops(&g, &part);
                if what == 1 {
                    s.part_settled(&part);
                    known.learn_success(&hops, 0);
                } else {
                    s.part_failed(&part);
                    known.learn_failure(&hops, hop % hops.len(), 0);
                }
            }
            let in_flight: u64 = out.iter().map(|r| r.hops.last().unwrap().amount_msat).sum();
            let fees: u64 = out.iter().map(|r| r.total_fee_msat).sum();
            proptest::prop_assert_eq!(in_flight, s.in_flight_msat);
            proptest::prop_assert!(s.delivered_msat + in_flight <= amount);
            proptest::prop_assert!(s.fee_paid_msat + fees <= budget);
            for r in &out {
                proptest::prop_assert_eq!(g.endpoints(r.hops[0].direction).0, 0);
                proptest::prop_assert_eq!(r.hops.last().unwrap().node, 15);
            }
        }
    }
}

/// A small random network: a ring of 30 nodes with chords.
fn ring_with_chords(seed: u64) -> Graph {
    let n = 30u32;
    let mut chans = vec![];
    let mut seed = seed;
    let mut next = |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    for i in 0..n {
        chans.push((
            i,
            (i + 1) % n,
            200_000 + next(800_000),
            policy(next(2000) as u32, next(500) as u32, 40),
        ));
        let j = next(n as u64) as u32;
        if j != i {
            chans.push((
                i,
                j,
                100_000 + next(900_000),
                policy(next(1000) as u32, next(800) as u32, 40),
            ));
        }
    }
    graph(n as usize, &chans)
}
