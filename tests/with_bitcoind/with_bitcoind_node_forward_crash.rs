//! A forwarding node killed (-9) in the middle of payments across it: three
//! `lnkit node run` processes on a real regtest bitcoind, a → b → c, and b
//! killed at random instants while a pays c. Every payment completes or
//! fails cleanly; afterwards no HTLC is left anywhere, a payment is complete
//! at a exactly when c's invoice is paid, and every msat is accounted for:
//! what c received, and what b kept in fees, came from a.

use crate::common;

use std::time::Duration;

use common::bitcoind::Bitcoind;
use common::node::{NodeProc, SocketCall};
use serde_json::{json, Value};

const BURN: &str = "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw";
const FUNDING_SAT: u64 = 1_000_000;

fn mine(btc: &Bitcoind, n: u32, to: &str) {
    btc.cli(&["generatetoaddress", &n.to_string(), to]);
}

/// `to_us_msat` of `n`'s channel with `peer`, once it holds no HTLC.
fn settled_balance(n: &NodeProc, peer: &NodeProc) -> u64 {
    let v = n.until("listpeerchannels", 90, |v| {
        v["channels"].as_array().unwrap().iter().any(|c| {
            c["peer_id"] == peer.node_id.as_str()
                && c["htlcs"].as_array().unwrap().is_empty()
                && c["state"] == "CHANNELD_NORMAL"
        })
    });
    v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["peer_id"] == peer.node_id.as_str())
        .unwrap()["to_us_msat"]
        .as_u64()
        .unwrap()
}

fn connected(n: &NodeProc) -> bool {
    n.try_call("listpeerchannels", json!({}))
        .map(|v| {
            v["channels"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["peer_connected"] == true && c["state"] == "CHANNELD_NORMAL")
        })
        .unwrap_or(false)
}

fn all_active(n: &NodeProc) -> bool {
    n.try_call("listchannels", json!({}))
        .map(|v| {
            let cs = v["channels"].as_array().unwrap();
            cs.len() == 4 && cs.iter().all(|c| c["active"] == true)
        })
        .unwrap_or(false)
}

#[test]
fn a_forwarding_node_killed_mid_payment_loses_nothing_and_settles_everything_once() {
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let fast = ["--dev-fast-gossip"];
    let mut nodes: Vec<NodeProc> = ["a", "b", "c"]
        .iter()
        .map(|n| NodeProc::start_with(dir.path(), n, &btc, &[&fast[..], &["--alias", n]].concat()))
        .collect();
    for n in &nodes {
        let addr = n.call("newaddr", json!({}))["bech32"]
            .as_str()
            .unwrap()
            .to_string();
        mine(&btc, 1, &addr);
    }
    mine(&btc, 100, BURN);
    for n in &nodes {
        n.until("listfunds", 60, |v| {
            !v["outputs"].as_array().unwrap().is_empty()
        });
    }
    for (i, j) in [(0, 1), (1, 2)] {
        nodes[i].call("connect", json!({"id": nodes[j].address()}));
        nodes[i].call(
            "fundchannel",
            json!({"id": nodes[j].node_id, "amount": FUNDING_SAT}),
        );
    }
    // Announced at 6 confirmations: a learns b—c.
    for _ in 0..6 {
        mine(&btc, 1, BURN);
        std::thread::sleep(Duration::from_millis(300));
    }
    nodes[0].until("listchannels", 90, |v| {
        v["channels"].as_array().unwrap().len() == 4
    });
    let (a_before, c_before) = (
        settled_balance(&nodes[0], &nodes[1]),
        settled_balance(&nodes[2], &nodes[1]),
    );

    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut labels = vec![];
    let mut kills = 0;
    for i in 0..40u64 {
        let label = format!("f{i}");
        // Falling amounts: what a learns from a failure (BOLT 4's
        // temporary_channel_failure: "at most this much") does not rule out the next.
        let amount = 2_000_000 + 1_000 * (40 - i);
        let inv = nodes[2].call(
            "invoice",
            json!({"amount_msat": amount, "label": label, "description": "forwarded"}),
        );
        labels.push((
            label,
            inv["payment_hash"].as_str().unwrap().to_string(),
            amount,
        ));
        let bolt11 = inv["bolt11"].clone();
        let a_dir = nodes[0].datadir.clone();
        let payer = std::thread::spawn(move || {
            let _ = SocketCall(a_dir).call("pay", json!({"bolt11": bolt11, "retry_for": 10}));
        });
        if next() % 5 == 0 {
            // b dies somewhere in the payment's rounds, and comes back.
            std::thread::sleep(Duration::from_micros(next() % 40_000));
            kills += 1;
            nodes[1].kill_and_restart();
        }
        let _ = payer.join();
        // Both of b's peers reconnect, and a sees b's channels enabled
        // again (BOLT 7: disabled while b was away), before the next payment.
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while !(connected(&nodes[0])
            && connected(&nodes[2])
            && connected(&nodes[1])
            && all_active(&nodes[0]))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "b's peers never came back:\n{}",
                nodes[1].log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert!(kills >= 4, "the schedule kills b several times ({kills})");

    // Nothing pending, no HTLC anywhere.
    nodes[0].until("listpays", 120, |v| {
        v["pays"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] != "pending")
    });
    let a_after = settled_balance(&nodes[0], &nodes[1]);
    let b_in = settled_balance(&nodes[1], &nodes[0]);
    let b_out = settled_balance(&nodes[1], &nodes[2]);
    let c_after = settled_balance(&nodes[2], &nodes[1]);
    let pays = nodes[0].call("listpays", json!({}));
    let invoices = nodes[2].call("listinvoices", json!({}));
    let mut received = 0;
    let mut sent = 0;
    let mut complete = 0;
    for (label, hash, amount) in &labels {
        let inv = invoices["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| &i["label"] == label)
            .unwrap();
        let pay: Option<&Value> = pays["pays"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| &p["payment_hash"] == hash);
        let done = pay.is_some_and(|p| p["status"] == "complete");
        assert_eq!(
            inv["status"] == "paid",
            done,
            "{label}: c's invoice is {} but a's payment {pay:?}",
            inv["status"]
        );
        if done {
            complete += 1;
            received += amount;
            sent += pay.unwrap()["amount_sent_msat"].as_u64().unwrap();
        }
    }
    assert!(
        complete >= 20,
        "most payments complete ({complete} of 40): {pays}\n{}",
        nodes[0].log()
    );
    // Each channel's two sides still add up to its funding.
    let funding = FUNDING_SAT * 1000;
    assert_eq!(a_after + b_in, funding, "a—b holds its funding");
    assert_eq!(b_out + c_after, funding, "b—c holds its funding");
    // What left a is what c got plus b's fees; no msat appeared or vanished.
    assert_eq!(a_before - a_after, sent);
    assert_eq!(c_after - c_before, received);
    let fees: u64 = nodes[1].call("listforwards", json!({"status": "settled"}))["forwards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fee_msat"].as_u64().unwrap())
        .sum();
    assert_eq!(
        sent - received,
        fees,
        "b kept exactly the fees of what it settled"
    );
}
