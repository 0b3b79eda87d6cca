//! The pathfinder on small hand-made graphs, where each of the cheapest route,
//! the most reliable route, htlc limits, CLTV limits and disabled channels
//! changes the answer in a known way.

use crate::common;

use common::graphs::{graph, policy};
use lnkit::graph::{Graph, Policy};
use lnkit::route::{self, fee_msat, RouteError, RouteRequest};

const S: u32 = 0;
const A: u32 = 1;
const B: u32 = 2;
const D: u32 = 3;

/// S→A→D and S→B→D; A is the cheaper forwarder, B charges more.
fn diamond(a: Policy, a_cap: u64, b: Policy, b_cap: u64) -> Graph {
    graph(
        4,
        &[
            (S, A, 10_000_000, policy(0, 0, 40)),
            (A, D, a_cap, a),
            (S, B, 10_000_000, policy(0, 0, 40)),
            (B, D, b_cap, b),
        ],
    )
}

fn via(g: &Graph, req: &RouteRequest) -> u32 {
    let r = route::find_route(g, req).expect("a route");
    assert_eq!(r.hops.len(), 2);
    assert_eq!(r.hops[1].node, D);
    r.hops[0].node
}

#[test]
fn the_cheapest_route_wins_when_all_else_is_equal() {
    let g = diamond(
        policy(1000, 100, 40),
        1_000_000,
        policy(2000, 100, 40),
        1_000_000,
    );
    let req = RouteRequest::new(S, D, 50_000_000);
    assert_eq!(via(&g, &req), A);
    let r = route::find_route(&g, &req).unwrap();
    assert_eq!(r.total_fee_msat, 1000 + 50_000_000 * 100 / 1_000_000);
}

#[test]
fn a_much_more_reliable_route_beats_a_slightly_cheaper_one() {
    // 50,000 sat over A's 60,000-sat channel is a coin toss; B's 10 BTC channel is near certain.
    let g = diamond(
        policy(1000, 0, 40),
        60_000,
        policy(2000, 0, 40),
        1_000_000_000,
    );
    let mut req = RouteRequest::new(S, D, 50_000_000);
    assert_eq!(via(&g, &req), B);
    // With no weight on uncertainty, the fee decides.
    req.probability_weight = 0.0;
    assert_eq!(via(&g, &req), A);
}

#[test]
fn known_liquidity_changes_the_answer() {
    let g = diamond(
        policy(1000, 0, 40),
        1_000_000,
        policy(2000, 0, 40),
        1_000_000,
    );
    let mut req = RouteRequest::new(S, D, 50_000_000);
    assert_eq!(via(&g, &req), A);
    // An earlier attempt failed at A→D for 40,000 sat: at most 39,999,999 msat there.
    let a_d = 2; // channel 1, from node_1 = A
    req.liquidity.insert(a_d, (0, 39_999_999));
    assert_eq!(via(&g, &req), B);
    // Knowing at least the amount is there makes A certain.
    req.liquidity.insert(a_d, (60_000_000, 1_000_000_000));
    let r = route::find_route(&g, &req).unwrap();
    assert_eq!(r.hops[0].node, A);
    assert_eq!(r.hops[1].probability, 1.0);
}

#[test]
fn htlc_maximum_and_minimum_exclude_a_channel() {
    let mut a = policy(1000, 0, 40);
    a.htlc_maximum_msat = 10_000_000;
    let g = diamond(a, 1_000_000, policy(2000, 0, 40), 1_000_000);
    assert_eq!(via(&g, &RouteRequest::new(S, D, 50_000_000)), B);
    assert_eq!(via(&g, &RouteRequest::new(S, D, 5_000_000)), A);

    let mut a = policy(1000, 0, 40);
    a.htlc_minimum_msat = 1_000_000;
    let g = diamond(a, 1_000_000, policy(2000, 0, 40), 1_000_000);
    assert_eq!(via(&g, &RouteRequest::new(S, D, 999_999)), B);
}

#[test]
fn capacity_excludes_a_channel() {
    let g = diamond(policy(1000, 0, 40), 40_000, policy(2000, 0, 40), 1_000_000);
    assert_eq!(via(&g, &RouteRequest::new(S, D, 50_000_000)), B);
}

#[test]
fn the_cltv_budget_excludes_a_slow_route() {
    let g = diamond(
        policy(1000, 0, 144),
        1_000_000,
        policy(2000, 0, 40),
        1_000_000,
    );
    let mut req = RouteRequest::new(S, D, 1_000_000);
    req.cltv_risk = 0.0;
    assert_eq!(via(&g, &req), A);
    req.max_total_cltv_expiry_delta = 100;
    assert_eq!(via(&g, &req), B);
    let r = route::find_route(&g, &req).unwrap();
    assert_eq!(r.total_cltv_delta, 40 + req.final_cltv_expiry_delta);
    req.max_total_cltv_expiry_delta = 30;
    assert_eq!(
        route::find_route(&g, &req),
        Err(RouteError::Unreachable {
            amount_msat: 1_000_000
        })
    );
}

#[test]
fn a_disabled_channel_is_not_used() {
    let mut a = policy(1000, 0, 40);
    a.enabled = false;
    let g = diamond(a, 1_000_000, policy(2000, 0, 40), 1_000_000);
    assert_eq!(via(&g, &RouteRequest::new(S, D, 1_000_000)), B);
}

#[test]
fn avoided_nodes_and_channels_are_not_used() {
    let g = diamond(
        policy(1000, 0, 40),
        1_000_000,
        policy(2000, 0, 40),
        1_000_000,
    );
    let mut req = RouteRequest::new(S, D, 1_000_000);
    req.avoid_nodes.insert(A);
    assert_eq!(via(&g, &req), B);
    let mut req = RouteRequest::new(S, D, 1_000_000);
    req.avoid_directions.insert(2);
    assert_eq!(via(&g, &req), B);
}

#[test]
fn the_fee_budget_and_hop_limit_are_kept() {
    let g = diamond(
        policy(1000, 0, 40),
        1_000_000,
        policy(2000, 0, 40),
        1_000_000,
    );
    let mut req = RouteRequest::new(S, D, 1_000_000);
    req.max_fee_msat = 999;
    assert!(route::find_route(&g, &req).is_err());
    req.max_fee_msat = 1000;
    assert_eq!(via(&g, &req), A);
    req.max_hops = 1;
    assert!(route::find_route(&g, &req).is_err());
}

#[test]
fn each_hop_charges_exactly_its_fee_formula() {
    // A chain S→1→2→3→4→D with different fees; every amount follows BOLT 7's formula.
    let fees = [
        policy(0, 0, 40),
        policy(1000, 1, 40),
        policy(21, 2500, 18),
        policy(7, 999_999, 144),
        policy(3333, 17, 6),
    ];
    let chans: Vec<_> = fees
        .iter()
        .enumerate()
        .map(|(i, p)| (i as u32, i as u32 + 1, 50_000_000, *p))
        .collect();
    let g = graph(6, &chans);
    let req = RouteRequest::new(0, 5, 12_345_678);
    let r = route::find_route(&g, &req).unwrap();
    assert_eq!(r.hops.len(), 5);
    assert_eq!(r.hops[4].amount_msat, 12_345_678);
    assert_eq!(r.hops[4].fee_msat, 0);
    assert_eq!(r.hops[4].cltv_delta, req.final_cltv_expiry_delta);
    for i in 0..4 {
        let next = &r.hops[i + 1];
        // Hop i's node forwards over the next channel, under that channel's policy.
        let p = &g.policies[next.direction as usize];
        assert_eq!(r.hops[i].fee_msat, fee_msat(p, next.amount_msat));
        assert_eq!(r.hops[i].amount_msat, next.amount_msat + r.hops[i].fee_msat);
        assert_eq!(
            r.hops[i].cltv_delta,
            next.cltv_delta + u32::from(p.cltv_expiry_delta)
        );
    }
    // BOLT 4 payloads: each hop is told the next channel and what crosses it.
    let payloads = r.payloads();
    for (p, next) in payloads.iter().zip(&r.hops[1..]) {
        assert_eq!(p.next_direction, Some(next.direction));
        assert_eq!(p.amt_to_forward_msat, next.amount_msat);
        assert_eq!(p.outgoing_cltv_delta, next.cltv_delta);
    }
    assert_eq!(payloads[4].next_direction, None);
    assert_eq!(payloads[4].amt_to_forward_msat, 12_345_678);
    let fees: u64 = r.hops.iter().map(|h| h.fee_msat).sum();
    assert_eq!(r.total_fee_msat, fees);
    assert_eq!(r.total_amount_msat, 12_345_678 + fees);
}

#[test]
fn alternatives_are_distinct_and_start_with_the_best() {
    let g = diamond(
        policy(1000, 0, 40),
        1_000_000,
        policy(2000, 0, 40),
        1_000_000,
    );
    let req = RouteRequest::new(S, D, 1_000_000);
    let routes = route::find_routes(&g, &req, 3).unwrap();
    assert_eq!(routes.len(), 2, "only two paths exist");
    assert_eq!(routes[0], route::find_route(&g, &req).unwrap());
    assert_ne!(routes[0].hops, routes[1].hops);
    assert_eq!(routes[1].hops[0].node, B);
}

#[test]
fn the_bottleneck_is_the_widest_path() {
    let mut a = policy(1000, 0, 40);
    a.htlc_maximum_msat = 7_000_000;
    let g = diamond(a, 1_000_000, policy(2000, 0, 40), 5_000);
    let req = RouteRequest::new(S, D, 100_000_000_000);
    assert!(route::find_route(&g, &req).is_err());
    assert_eq!(route::bottleneck_msat(&g, &req), 7_000_000);
}

#[test]
fn zero_amount_and_same_node_are_refused() {
    let g = diamond(policy(1, 0, 40), 1_000, policy(2, 0, 40), 1_000);
    assert_eq!(
        route::find_route(&g, &RouteRequest::new(S, D, 0)),
        Err(RouteError::ZeroAmount)
    );
    assert_eq!(
        route::find_route(&g, &RouteRequest::new(S, S, 1)),
        Err(RouteError::SameNode)
    );
}
