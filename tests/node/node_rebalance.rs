//! Circular rebalancing between live lnkit nodes on the embedded chain: A
//! pays itself around the triangle A → B → C → A. It leaves on the channel
//! where it holds too much and comes back on the one where it holds too
//! little. The errors the issue lists are checked too: the economic check,
//! a fee cap below the cheapest cycle, and channels that are not ours or are
//! the same. `rebalanceall` brings every channel outside the thresholds back.

use lnkit::node::core::NodeHandle;
use serde_json::{json, Value};

use crate::common;
use common::inprocess::{call, network, scid_of, try_call, until, Net};

/// A's share of a channel, in percent, and its `to_us_msat`.
async fn share(a: &NodeHandle, scid: &str) -> (f64, u64) {
    let v = call(a, "listpeerchannels", json!({})).await;
    let c = v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["short_channel_id"] == scid)
        .unwrap()
        .clone();
    let ours = c["to_us_msat"].as_u64().unwrap();
    let total = c["total_msat"].as_u64().unwrap();
    (100.0 * ours as f64 / total as f64, ours)
}

/// Wait until the cycle's HTLCs are settled: A holds `msat` on `scid`.
async fn settled(a: &NodeHandle, scid: &str, msat: u64) {
    until(a, "listpeerchannels", json!({}), |v| {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["short_channel_id"] == scid && c["to_us_msat"].as_u64() == Some(msat))
    })
    .await;
}

async fn refused(a: &NodeHandle, params: Value) -> String {
    let e = try_call(a, "rebalance", params.clone())
        .await
        .expect_err(&format!("rebalance {params} should be refused"));
    e.message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_rebalances_around_a_cycle_and_refuses_what_does_not_pay() {
    let net = Net::new();
    // A funds A–B, B funds B–C, C funds C–A: A holds all of A–B and none of C–A.
    let n = network(
        &net,
        &["alice", "bob", "carol"],
        &[
            (0, 1, 1_000_000, true),
            (1, 2, 1_000_000, true),
            (2, 0, 1_000_000, true),
        ],
    )
    .await;
    let (a, b, c) = (&n[0], &n[1], &n[2]);
    let ab = scid_of(a, b).await;
    let ca = scid_of(a, c).await;
    let bc = scid_of(b, c).await;

    // Channels that are not ours, the same channel twice, no channel at all.
    let m = refused(a, json!({"out": ab, "in": ab, "amount_msat": 1000})).await;
    assert!(m.contains("in: the same channel as out"), "{m}");
    let m = refused(a, json!({"out": bc, "in": ca, "amount_msat": 1000})).await;
    assert!(
        m.contains(&format!("out: {bc} is not a channel of this node")),
        "{m}"
    );
    let m = refused(a, json!({"out": ab, "in": "nonsense"})).await;
    assert!(
        m.contains("in: `nonsense`: expected a short channel id"),
        "{m}"
    );

    // At everyone's default fees (1000 msat + 10 ppm), the two forwarding
    // fees of the cycle cost more than C–A earns back at A's one fee: refused.
    let m = refused(
        a,
        json!({"out": ab, "in": ca, "amount_msat": 100_000_000u64}),
    )
    .await;
    assert!(m.contains("the cheapest cycle costs 4000 msat"), "{m}");
    assert!(
        m.contains("above the limit of 2000 msat (the economic check: in earns back 2000 msat"),
        "{m}"
    );

    // A values inbound liquidity on C–A: 100 ppm. Now a cap below the cycle is what refuses.
    call(a, "setchannel", json!({"id": ca, "feeppm": 100})).await;
    let m = refused(
        a,
        json!({"out": ab, "in": ca, "amount_msat": 100_000_000u64, "max_fee_ppm": 1}),
    )
    .await;
    assert!(m.contains("the cheapest cycle costs 4000 msat"), "{m}");
    assert!(
        m.contains("above the limit of 100 msat (max_fee_ppm 1)"),
        "{m}"
    );

    // Without an amount: toward 50/50.
    let (out_before, out_msat) = share(a, &ab).await;
    let (in_before, _) = share(a, &ca).await;
    assert!(out_before > 99.0 && in_before == 0.0);
    let r = call(a, "rebalance", json!({"out": ab, "in": ca})).await;
    let amount = r["amount_msat"].as_u64().unwrap();
    let fee = r["fee_msat"].as_u64().unwrap();
    let route = r["route"].as_array().unwrap();
    assert_eq!(route.len(), 3, "{r}");
    assert_eq!(route[0]["id"], b.node_id.to_string());
    assert_eq!(route[1]["id"], c.node_id.to_string());
    assert_eq!(route[2]["id"], a.node_id.to_string());
    assert_eq!(route[2]["channel"], ca);
    // B's and C's fees, each 1000 msat + 10 ppm of what they forward.
    assert!(
        fee > 2000 && fee <= r["earn_back_msat"].as_u64().unwrap(),
        "{r}"
    );
    assert_eq!(r["out"]["to_us_before_msat"].as_u64(), Some(out_msat));
    assert_eq!(
        r["out"]["to_us_after_msat"].as_u64(),
        Some(out_msat - amount - fee)
    );
    assert_eq!(r["in"]["to_us_after_msat"].as_u64(), Some(amount));
    settled(a, &ca, amount).await;
    settled(a, &ab, out_msat - amount - fee).await;
    let (out_after, _) = share(a, &ab).await;
    let (in_after, _) = share(a, &ca).await;
    assert!((49.0..51.0).contains(&out_after), "{out_after}");
    assert!((49.0..=50.0).contains(&in_after), "{in_after}");
    let m = refused(a, json!({"out": ab, "in": ca})).await;
    assert!(m.contains("nothing to move toward 50/50"), "{m}");

    // Every channel is within 20–80%: rebalanceall moves nothing.
    let all = call(a, "rebalanceall", json!({"max_fee_msat": 50_000})).await;
    assert_eq!(all["moves"], json!([]), "{all}");

    // The other way round, by hand: at A–B's default fee the economic check
    // refuses; --force pays up to its cap.
    let back = json!({"out": ca, "in": ab, "amount_msat": 350_000_000u64});
    let m = refused(a, back.clone()).await;
    assert!(m.contains("the economic check"), "{m}");
    let mut forced = back.clone();
    forced["force"] = json!(true);
    forced["max_fee_ppm"] = json!(100);
    let r = call(a, "rebalance", forced).await;
    assert_eq!(r["amount_msat"].as_u64(), Some(350_000_000));
    settled(a, &ab, r["in"]["to_us_after_msat"].as_u64().unwrap()).await;
    settled(a, &ca, r["out"]["to_us_after_msat"].as_u64().unwrap()).await;
    assert!(r["fee_msat"].as_u64().unwrap() > r["earn_back_msat"].as_u64().unwrap());
    let (low, _) = share(a, &ca).await;
    let (high, _) = share(a, &ab).await;
    assert!(low < 20.0 && high > 80.0, "{low} {high}");

    // rebalanceall brings both back toward 50%, within its budget.
    let (_, ca_before) = share(a, &ca).await;
    let all = call(a, "rebalanceall", json!({"max_fee_msat": 50_000})).await;
    let moves = all["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "{all}");
    assert_eq!(moves[0]["out"], ab);
    assert_eq!(moves[0]["in"], ca);
    assert_eq!(moves[0]["status"], "complete", "{all}");
    let spent = all["fee_msat"].as_u64().unwrap();
    assert!(spent > 0 && spent <= 50_000);
    assert_eq!(all["budget_left_msat"].as_u64(), Some(50_000 - spent));
    let moved = moves[0]["amount_msat"].as_u64().unwrap();
    settled(a, &ca, ca_before + moved).await;
    let (ca_now, _) = share(a, &ca).await;
    let (ab_now, _) = share(a, &ab).await;
    assert!(
        (45.0..=50.0).contains(&ca_now) && (45.0..55.0).contains(&ab_now),
        "{ca_now} {ab_now}"
    );

    // B forwarded all three cycles.
    let fwd = call(b, "listforwards", json!({})).await;
    let settled = fwd["forwards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "settled")
        .count();
    assert_eq!(settled, 3, "{fwd}");
}
