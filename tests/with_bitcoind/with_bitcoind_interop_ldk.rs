//! Interop with rust-lightning, live over TCP on loopback, on one regtest
//! bitcoind: `ldk-node` (LDK 0.2) opens to lnkit and lnkit opens to it, with
//! both channel types; payments both ways; `update_fee`; a disconnect in the
//! middle of an update, then reestablish; a cooperative close. And on
//! chain: each force-closes on the other with HTLCs in flight both ways,
//! lnkit is killed (-9) mid-resolution, and both recover their funds. And
//! across a mixed network: each forwards the other's payments, an LDK hop's
//! failure is decoded to its origin, and keysend goes both ways.

use crate::common;

use std::str::FromStr;
use std::time::{Duration, Instant};

use common::bitcoind::Bitcoind;
use common::node::NodeProc;
use ldk_node::bitcoin::Network;
use ldk_node::lightning::ln::msgs::SocketAddress;
use ldk_node::lightning_invoice::{Bolt11Invoice, Bolt11InvoiceDescription, Description};
use ldk_node::{Builder, Event, Node};
use serde_json::{json, Value};

const BURN: &str = "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw";

fn mine(btc: &Bitcoind, n: u32) {
    btc.cli(&["generatetoaddress", &n.to_string(), BURN]);
}

/// An LDK node on `btc`, listening on loopback; `anchors: false` makes it
/// open (and accept) only static_remotekey channels.
fn ldk(dir: &std::path::Path, name: &str, btc: &Bitcoind, anchors: bool) -> (Node, u16) {
    let cookie = std::fs::read_to_string(btc.cookie()).unwrap();
    let (user, pass) = cookie.trim().split_once(':').unwrap();
    let url = btc.url();
    let port: u16 = url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let mut config = ldk_node::config::Config::default();
    if !anchors {
        config.anchor_channels_config = None;
    }
    let mut b = Builder::from_config(config);
    b.set_network(Network::Regtest);
    b.set_storage_dir_path(dir.join(name).display().to_string());
    b.set_chain_source_bitcoind_rpc("127.0.0.1".into(), port, user.into(), pass.into());
    let p2p = common::node::free_port();
    b.set_listening_addresses(vec![
        SocketAddress::from_str(&format!("127.0.0.1:{p2p}")).unwrap()
    ])
    .unwrap();
    b.set_entropy_seed_bytes([name.len() as u8 + 40; 64]);
    // An alias and a listening address make LDK a node that can announce
    // channels; without them it refuses lnkit's announced opens (BOLT 7 is on by default).
    b.set_node_alias(name.to_string()).unwrap();
    let node = b.build().unwrap();
    node.start().unwrap();
    (node, p2p)
}

/// The next LDK event matching `f`, within `secs` (other events are handled and skipped).
fn wait_event(node: &Node, secs: u64, what: &str, f: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(e) = node.next_event() {
            node.event_handled().unwrap();
            if f(&e) {
                return e;
            }
            continue;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no {what} from LDK in {secs} s");
}

/// Wait (at most 30 s) until LDK lists `peer` as connected.
fn wait_connected(node: &Node, peer: &ldk_node::bitcoin::secp256k1::PublicKey) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !node
        .list_peers()
        .iter()
        .any(|p| p.node_id == *peer && p.is_connected)
    {
        assert!(Instant::now() < deadline, "LDK never saw {peer} connect");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sync(node: &Node) {
    node.sync_wallets().unwrap();
}

/// Wait until `node` can send `msat` to `peer`. LDK reports a payment it
/// received before its commitment round ends, and only then is the room
/// its own (INTEROP.md).
fn wait_room(node: &Node, peer: &str, msat: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !node.list_channels().iter().any(|c| {
        c.counterparty_node_id.to_string() == peer
            && c.is_usable
            && c.next_outbound_htlc_limit_msat >= msat
    }) {
        assert!(
            Instant::now() < deadline,
            "LDK never had {msat} msat to send to {peer}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pay `amount_msat` from lnkit to LDK and from LDK to lnkit, checking both ends.
fn pay_both_ways(lnkit: &NodeProc, node: &Node, amount_msat: u64, label: &str) {
    let desc = Bolt11InvoiceDescription::Direct(Description::new(label.into()).unwrap());
    let inv = node
        .bolt11_payment()
        .receive(amount_msat, &desc, 3600)
        .unwrap();
    let paid = lnkit.call("pay", json!({"bolt11": inv.to_string()}));
    assert_eq!(paid["status"], "complete", "lnkit pays LDK");
    wait_event(
        node,
        30,
        "PaymentReceived",
        |e| matches!(e, Event::PaymentReceived { amount_msat: a, .. } if *a == amount_msat),
    );

    // Back a quarter of it.
    let back = amount_msat / 4;
    wait_room(node, &lnkit.node_id, back);
    let ours = lnkit.call(
        "invoice",
        json!({"amount_msat": back, "label": label, "description": label}),
    );
    let inv = Bolt11Invoice::from_str(ours["bolt11"].as_str().unwrap()).unwrap();
    node.bolt11_payment().send(&inv, None).unwrap();
    wait_event(node, 30, "PaymentSuccessful", |e| {
        matches!(e, Event::PaymentSuccessful { .. })
    });
    let invs = lnkit.call("listinvoices", json!({"label": label}));
    assert_eq!(invs["invoices"][0]["status"], "paid", "LDK pays lnkit");
    assert_eq!(invs["invoices"][0]["amount_received_msat"], back);
}

fn lnkit_channel(lnkit: &NodeProc, peer: &str) -> Value {
    lnkit.call("listpeerchannels", json!({"id": peer}))["channels"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|c| {
            !matches!(
                c["state"].as_str(),
                Some("CLOSINGD_COMPLETE" | "AWAITING_UNILATERAL" | "ONCHAIN")
            )
        })
        .cloned()
        .unwrap_or(Value::Null)
}

fn wait_normal(lnkit: &NodeProc, peer: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = lnkit_channel(lnkit, peer);
        if c["state"] == "CHANNELD_NORMAL" && c["peer_connected"] == true {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "the channel never got to CHANNELD_NORMAL: {c}\n{}",
            lnkit.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Close cooperatively from `by_lnkit` or from LDK, and see both sides
/// agree. Where lnkit funded the channel, `estimate` is its closing
/// estimate (sat/kw): the close must cost that, no more, by the chain's
/// figures (LDK, not the funder, takes the top of the funder's `fee_range`).
fn close(btc: &Bitcoind, lnkit: &NodeProc, node: &Node, by_lnkit: bool, estimate: Option<u64>) {
    let peer = node.node_id().to_string();
    let ch = lnkit_channel(lnkit, &peer);
    if by_lnkit {
        let closed = lnkit.call("close", json!({"id": ch["channel_id"]}));
        assert_eq!(closed["type"], "mutual");
    } else {
        let details = node
            .list_channels()
            .into_iter()
            .find(|c| c.channel_id.to_string() == ch["channel_id"].as_str().unwrap())
            .unwrap();
        node.close_channel(&details.user_channel_id, details.counterparty_node_id)
            .unwrap();
    }
    wait_event(node, 60, "ChannelClosed", |e| {
        matches!(e, Event::ChannelClosed { .. })
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = lnkit.call("listpeerchannels", json!({"id": peer}));
        if all["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel_id"] == ch["channel_id"] && c["state"] == "CLOSINGD_COMPLETE")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lnkit never saw the close: {all}\n{}",
            lnkit.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(estimate) = estimate {
        assert_eq!(ch["opener"], "local");
        let funding_txid = ch["funding_txid"].as_str().unwrap();
        let vout = ch["funding_outnum"].as_u64().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let txid = loop {
            if let Some(t) = btc.spender(funding_txid, vout, 0) {
                break t;
            }
            assert!(
                Instant::now() < deadline,
                "no closing transaction in the mempool"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let feerate = btc.feerate_perkw(&txid);
        println!("a close lnkit funded paid {feerate:.0} sat/kw (its estimate {estimate})");
        assert!(
            feerate <= estimate as f64 * 1.02,
            "closing feerate {feerate:.0} sat/kw against lnkit's estimate {estimate}"
        );
    }
    mine(btc, 1);
}

#[test]
fn ldk_and_lnkit_open_to_each_other_pay_update_fees_reestablish_and_close() {
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let lnkit = NodeProc::start(dir.path(), "lnkit", &btc);
    let (anchor_ldk, anchor_port) = ldk(dir.path(), "ldk-anchors", &btc, true);
    let (plain_ldk, plain_port) = ldk(dir.path(), "ldk-plain", &btc, false);
    // Fund all three: LDK accepts an incoming anchor channel only with 25,000 sat on chain.
    let a = lnkit.call("newaddr", json!({}))["bech32"]
        .as_str()
        .unwrap()
        .to_string();
    btc.cli(&["generatetoaddress", "1", &a]);
    for n in [&anchor_ldk, &plain_ldk] {
        let addr = n.onchain_payment().new_address().unwrap().to_string();
        btc.cli(&["generatetoaddress", "1", &addr]);
    }
    mine(&btc, 100);
    lnkit.until("listfunds", 60, |v| {
        !v["outputs"].as_array().unwrap().is_empty()
    });
    sync(&anchor_ldk);
    sync(&plain_ldk);

    // 1. LDK opens to lnkit: anchors, then static_remotekey.
    let lnkit_id = ldk_node::bitcoin::secp256k1::PublicKey::from_str(&lnkit.node_id).unwrap();
    let lnkit_addr = SocketAddress::from_str(&format!("127.0.0.1:{}", lnkit.port)).unwrap();
    for (node, bits) in [(&anchor_ldk, json!([12, 22])), (&plain_ldk, json!([12]))] {
        node.open_channel(
            lnkit_id,
            lnkit_addr.clone(),
            500_000,
            Some(200_000_000),
            None,
        )
        .unwrap();
        wait_event(node, 30, "ChannelPending", |e| {
            matches!(e, Event::ChannelPending { .. })
        });
        mine(&btc, 6);
        wait_event(node, 60, "ChannelReady", |e| {
            matches!(e, Event::ChannelReady { .. })
        });
        let peer = node.node_id().to_string();
        let ch = wait_normal(&lnkit, &peer);
        assert_eq!(ch["channel_type"]["bits"], bits, "LDK's open: {ch}");
        assert_eq!(ch["opener"], "remote");
        pay_both_ways(&lnkit, node, 12_345_000, &format!("in-{peer}"));
    }

    // 2. lnkit opens to LDK, with each channel type.
    for (bits, node, port) in [
        (json!([12]), &plain_ldk, plain_port),
        (json!([12, 22]), &anchor_ldk, anchor_port),
    ] {
        let peer = node.node_id().to_string();
        lnkit.call("connect", json!({"id": format!("{peer}@127.0.0.1:{port}")}));
        // Close LDK's channel from step 1 first, so that payments use the new one.
        close(&btc, &lnkit, node, bits == json!([12]), None);
        let opened = lnkit.call(
            "fundchannel",
            json!({"id": peer, "amount": 600_000, "channel_type": bits}),
        );
        assert_eq!(opened["channel_type"]["bits"], bits);
        mine(&btc, 6);
        wait_event(node, 60, "ChannelReady", |e| {
            matches!(e, Event::ChannelReady { .. })
        });
        let ch = wait_normal(&lnkit, &peer);
        assert_eq!(ch["opener"], "local");
        pay_both_ways(&lnkit, node, 50_000_000, &format!("out-{peer}"));
    }

    // 3. update_fee: lnkit, the opener, follows a new fee estimate; LDK must accept it.
    let peer = anchor_ldk.node_id().to_string();
    let before = lnkit_channel(&lnkit, &peer)["feerate_perkw"]
        .as_u64()
        .unwrap();
    drop(lnkit);
    let mut lnkit = NodeProc::restart_with(
        dir.path(),
        "lnkit",
        &btc,
        &["--fallback-feerate-per-kw", "1000"],
    );
    lnkit.call(
        "connect",
        json!({"id": format!("{peer}@127.0.0.1:{anchor_port}")}),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = lnkit_channel(&lnkit, &peer);
        if c["feerate_perkw"] == 1000 && c["state"] == "CHANNELD_NORMAL" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no update_fee from {before} to 1000: {c}\n{}",
            lnkit.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pay_both_ways(&lnkit, &anchor_ldk, 1_000_000, "after-fee");

    // 4. A disconnect in the middle of an update, then reestablish.
    let desc = Bolt11InvoiceDescription::Direct(Description::new("mid".into()).unwrap());
    let inv = anchor_ldk
        .bolt11_payment()
        .receive(2_000_000, &desc, 3600)
        .unwrap()
        .to_string();
    let datadir = lnkit.datadir.clone();
    let payer = std::thread::spawn(move || {
        let probe = common::node::SocketCall(datadir);
        probe.call("pay", json!({"bolt11": inv, "retry_for": 60}))
    });
    std::thread::sleep(Duration::from_millis(3));
    let _ = lnkit.try_call("disconnect", json!({"id": peer}));
    std::thread::sleep(Duration::from_millis(300));
    lnkit.call(
        "connect",
        json!({"id": format!("{peer}@127.0.0.1:{anchor_port}")}),
    );
    let paid = payer
        .join()
        .unwrap()
        .expect("the payment completes after reestablish");
    assert_eq!(paid["result"]["status"], "complete", "{paid}");
    wait_event(&anchor_ldk, 30, "PaymentReceived", |e| {
        matches!(
            e,
            Event::PaymentReceived {
                amount_msat: 2_000_000,
                ..
            }
        )
    });
    // Kill lnkit outright in the middle of another payment: it comes back and reestablishes.
    let desc = Bolt11InvoiceDescription::Direct(Description::new("kill".into()).unwrap());
    let inv = anchor_ldk
        .bolt11_payment()
        .receive(3_000_000, &desc, 3600)
        .unwrap()
        .to_string();
    let _ = lnkit.try_call_nowait("pay", json!({"bolt11": inv}));
    std::thread::sleep(Duration::from_millis(5));
    lnkit.kill_and_restart();
    lnkit.call(
        "connect",
        json!({"id": format!("{peer}@127.0.0.1:{anchor_port}")}),
    );
    wait_normal(&lnkit, &peer);
    lnkit.until("listpays", 60, |v| {
        v["pays"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] != "pending")
    });
    pay_both_ways(&lnkit, &anchor_ldk, 4_000_000, "after-kill");

    // 5. Cooperative closes, one from each side.
    // lnkit's estimate is the fallback it was restarted with: bitcoind has none.
    let e: Value = serde_json::from_str(&btc.cli(&["estimatesmartfee", "12"])).unwrap();
    assert!(e.get("feerate").is_none(), "{e}");
    close(&btc, &lnkit, &anchor_ldk, true, Some(1000));
    let plain_peer = plain_ldk.node_id().to_string();
    lnkit.call(
        "connect",
        json!({"id": format!("{plain_peer}@127.0.0.1:{plain_port}")}),
    );
    close(&btc, &lnkit, &plain_ldk, false, Some(1000));
    anchor_ldk.stop().unwrap();
    plain_ldk.stop().unwrap();
}

/// A hash LDK holds: `receive_for_hash`, claimed later with `claim_for_hash`.
fn ldk_hold(node: &Node, n: u8, amount_msat: u64) -> (Bolt11Invoice, [u8; 32]) {
    use ldk_node::bitcoin::hashes::{sha256, Hash};
    let preimage = [n; 32];
    let hash = sha256::Hash::hash(&preimage).to_byte_array();
    let desc = Bolt11InvoiceDescription::Direct(Description::new(format!("hold{n}")).unwrap());
    let inv = node
        .bolt11_payment()
        .receive_for_hash(
            amount_msat,
            &desc,
            3600,
            ldk_node::lightning_types::payment::PaymentHash(hash),
        )
        .unwrap();
    (inv, preimage)
}

fn ldk_claim(node: &Node, preimage: [u8; 32], amount_msat: u64) {
    use ldk_node::bitcoin::hashes::{sha256, Hash};
    let hash = sha256::Hash::hash(&preimage).to_byte_array();
    node.bolt11_payment()
        .claim_for_hash(
            ldk_node::lightning_types::payment::PaymentHash(hash),
            amount_msat,
            ldk_node::lightning_types::payment::PaymentPreimage(preimage),
        )
        .unwrap();
}

/// lnkit's hold invoice for `[n; 32]`'s hash.
fn lnkit_hold(lnkit: &NodeProc, n: u8, amount_msat: u64) -> Bolt11Invoice {
    use ldk_node::bitcoin::hashes::{sha256, Hash};
    let hash = sha256::Hash::hash(&[n; 32]).to_byte_array();
    let inv = lnkit.call(
        "invoice",
        json!({"amount_msat": amount_msat, "label": format!("hold{n}"), "description": "held",
               "payment_hash": hex::encode(hash)}),
    );
    Bolt11Invoice::from_str(inv["bolt11"].as_str().unwrap()).unwrap()
}

/// Mine one block at a time, `pause` apart (LDK polls bitcoind every ~2 s).
fn mine_slowly(btc: &Bitcoind, blocks: u32, pause_ms: u64) {
    for _ in 0..blocks {
        mine(btc, 1);
        std::thread::sleep(Duration::from_millis(pause_ms));
    }
}

/// An HTLC each way held, then a force close by `lnkit_closes ? lnkit : LDK`;
/// each side settles its held HTLC on chain; lnkit is killed mid-way.
fn force_close_with_htlcs(
    btc: &Bitcoind,
    lnkit: &mut NodeProc,
    node: &Node,
    lnkit_closes: bool,
    tag: u8,
) {
    let peer = node.node_id().to_string();
    let ch = wait_normal(lnkit, &peer);
    // lnkit -> LDK, held by LDK.
    let (to_ldk, ldk_preimage) = ldk_hold(node, tag, 30_000_000);
    let _ = lnkit.try_call("pay", json!({"bolt11": to_ldk.to_string(), "retry_for": 0}));
    wait_event(node, 30, "PaymentClaimable", |e| {
        matches!(e, Event::PaymentClaimable { .. })
    });
    // LDK -> lnkit, held by lnkit.
    let to_lnkit = lnkit_hold(lnkit, tag + 1, 20_000_000);
    node.bolt11_payment().send(&to_lnkit, None).unwrap();
    lnkit.until("listpeerchannels", 30, |v| {
        v["channels"].as_array().unwrap().iter().any(|c| {
            c["channel_id"] == ch["channel_id"] && c["htlcs"].as_array().unwrap().len() == 2
        })
    });
    std::thread::sleep(Duration::from_millis(500));
    if lnkit_closes {
        let forced = lnkit.call("close", json!({"id": ch["channel_id"], "force": true}));
        assert_eq!(forced["type"], "unilateral");
    } else {
        ldk_force_close(node, &ch);
    }
    // Either commitment may confirm (INTEROP.md): both sides handle both.
    // (lnkit's force close sends no `error`: LDK learns it from the chain.)
    mine_slowly(btc, 1, 2500);
    wait_event(node, 60, "ChannelClosed", |e| {
        matches!(e, Event::ChannelClosed { .. })
    });
    ldk_claim(node, ldk_preimage, 30_000_000);
    lnkit.call(
        "settleinvoice",
        json!({"preimage": hex::encode([tag + 1; 32])}),
    );
    mine_slowly(btc, 6, 2500);
    // kill -9 in the middle of the resolution: the claims are stored, the blocks replayed.
    lnkit.kill_and_restart();
    // Past both to_self_delays (LDK's default 144), in steps LDK's polling keeps up with.
    for _ in 0..15 {
        mine(btc, 10);
        std::thread::sleep(Duration::from_millis(1000));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let closed = lnkit.call("listclosedchannels", json!({}));
        let done = closed["closedchannels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel_id"] == ch["channel_id"]);
        let b = node.list_balances();
        let tip: u32 = btc.cli(&["getblockcount"]).trim().parse().unwrap();
        // LDK lists a swept output for 4032 blocks more (its PRUNE_DELAY_BLOCKS): 6 confirmations are enough.
        let swept = b.pending_balances_from_channel_closures.iter().all(|p| {
            matches!(p, ldk_node::PendingSweepBalance::AwaitingThresholdConfirmations { confirmation_height, .. } if confirmation_height + 5 <= tip)
        });
        if done && b.lightning_balances.is_empty() && swept {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not resolved: lnkit {} / LDK {:?} {:?}\n{}",
            lnkit.call("listfunds", json!({}))["sweeps"],
            b.lightning_balances,
            b.pending_balances_from_channel_closures,
            lnkit.log()
        );
        mine_slowly(btc, 1, 1500);
    }
    // Each learned the other's preimage on chain.
    use ldk_node::bitcoin::hashes::{sha256, Hash};
    let hash = hex::encode(sha256::Hash::hash(&ldk_preimage).to_byte_array());
    let pays = lnkit.call("listpays", json!({}));
    let ours = pays["pays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["payment_hash"] == hash)
        .unwrap();
    assert_eq!(
        ours["status"], "complete",
        "lnkit learned LDK's preimage on chain"
    );
    wait_event(node, 30, "PaymentSuccessful", |e| {
        matches!(e, Event::PaymentSuccessful { .. })
    });
    let closed = lnkit.call("listclosedchannels", json!({}));
    let c = closed["closedchannels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_id"] == ch["channel_id"])
        .unwrap()
        .clone();
    println!(
        "{} force-closed: lnkit resolved it as {}, swept {} sat, paid {} sat in claim fees",
        if lnkit_closes { "lnkit" } else { "LDK" },
        c["close_cause"],
        c["swept_msat"].as_u64().unwrap() / 1000,
        c["onchain_fees_msat"].as_u64().unwrap() / 1000
    );
    assert!(
        c["swept_msat"].as_u64().unwrap() > 0,
        "lnkit swept its funds back"
    );
}

#[test]
fn ldk_and_lnkit_force_close_on_each_other_with_htlcs_in_flight() {
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let mut lnkit = NodeProc::start(dir.path(), "lnkit", &btc);
    let (node, port) = ldk(dir.path(), "ldk-onchain", &btc, true);
    let a = lnkit.call("newaddr", json!({}))["bech32"]
        .as_str()
        .unwrap()
        .to_string();
    btc.cli(&["generatetoaddress", "2", &a]);
    let addr = node.onchain_payment().new_address().unwrap().to_string();
    btc.cli(&["generatetoaddress", "2", &addr]);
    mine(&btc, 100);
    lnkit.until("listfunds", 60, |v| {
        v["outputs"].as_array().unwrap().len() >= 2
    });
    sync(&node);
    let peer = node.node_id().to_string();
    for (i, lnkit_closes) in [(0u8, true), (1u8, false)] {
        lnkit.call("connect", json!({"id": format!("{peer}@127.0.0.1:{port}")}));
        let opened = lnkit.call(
            "fundchannel",
            json!({"id": peer, "amount": 600_000, "channel_type": [12, 22]}),
        );
        assert_eq!(opened["channel_type"]["bits"], json!([12, 22]));
        mine(&btc, 6);
        wait_event(&node, 60, "ChannelReady", |e| {
            matches!(e, Event::ChannelReady { .. })
        });
        wait_normal(&lnkit, &peer);
        pay_both_ways(&lnkit, &node, 50_000_000, &format!("onchain-{i}"));
        force_close_with_htlcs(&btc, &mut lnkit, &node, lnkit_closes, 10 + 2 * i);
    }
    // And once with nothing in flight, on a channel LDK opened: its
    // commitments pay LDK's feerate (about 1 sat/vB), below lnkit's
    // estimate, so lnkit's own commitment would go out with a CPFP child
    // that outbids LDK's.
    lnkit.call("connect", json!({"id": format!("{peer}@127.0.0.1:{port}")}));
    let lnkit_id = ldk_node::bitcoin::secp256k1::PublicKey::from_str(&lnkit.node_id).unwrap();
    let lnkit_addr = SocketAddress::from_str(&format!("127.0.0.1:{}", lnkit.port)).unwrap();
    // LDK opens over the connection lnkit made once it has it: dialled
    // before, its own second connection can lose to lnkit's (seen once
    // under load as ConnectionFailed).
    wait_connected(&node, &lnkit_id);
    node.open_channel(lnkit_id, lnkit_addr, 600_000, Some(100_000_000), None)
        .unwrap();
    wait_event(&node, 30, "ChannelPending", |e| {
        matches!(e, Event::ChannelPending { .. })
    });
    mine(&btc, 6);
    wait_event(&node, 60, "ChannelReady", |e| {
        matches!(e, Event::ChannelReady { .. })
    });
    wait_normal(&lnkit, &peer);
    pay_both_ways(&lnkit, &node, 50_000_000, "onchain-quiet");
    ldk_force_closes_with_nothing_in_flight(&btc, &lnkit, &node);
    node.stop().unwrap();
}

/// LDK force-closes the channel lnkit lists as `ch`.
fn ldk_force_close(node: &Node, ch: &Value) {
    let details = node
        .list_channels()
        .into_iter()
        .find(|c| c.channel_id.to_string() == ch["channel_id"].as_str().unwrap())
        .unwrap();
    node.force_close_channel(&details.user_channel_id, details.counterparty_node_id, None)
        .unwrap();
}

/// LDK force-closes with no HTLC in flight. Its commitment pays lnkit at
/// once; lnkit must let it confirm rather than contest it with its own
/// commitment and a CPFP child (which replaced LDK's, cost about 5,000 sat
/// and locked lnkit's funds for `to_self_delay`). Judged by LDK's own view
/// (which commitment confirmed) and the chain (no child of lnkit's).
fn ldk_force_closes_with_nothing_in_flight(btc: &Bitcoind, lnkit: &NodeProc, node: &Node) {
    let peer = node.node_id().to_string();
    wait_normal(lnkit, &peer);
    // Nothing in flight: the last payment's HTLC is off both commitments
    // (one within 18 + 6 blocks of its expiry, as a just-made payment's
    // can be, makes lnkit compete at once, by design).
    let ch = lnkit.until("listpeerchannels", 30, |v| {
        v["channels"].as_array().unwrap().iter().any(|c| {
            c["peer_id"] == peer.as_str()
                && c["state"] == "CHANNELD_NORMAL"
                && c["htlcs"].as_array().is_some_and(|h| h.is_empty())
        })
    });
    let ch = ch["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["peer_id"] == peer.as_str() && c["state"] == "CHANNELD_NORMAL")
        .cloned()
        .unwrap();
    assert_eq!(ch["opener"], "remote", "LDK funded it");
    let funding = ch["funding_txid"].as_str().unwrap().to_string();
    let vout = ch["funding_outnum"].as_u64().unwrap();
    ldk_force_close(node, &ch);
    // lnkit hears LDK's error and fails the channel.
    lnkit.until("listpeerchannels", 30, |v| {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel_id"] == ch["channel_id"] && c["state"] != "CHANNELD_NORMAL")
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let theirs = loop {
        if let Some(t) = btc.spender(&funding, vout, 0) {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "LDK's commitment never reached the mempool"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Time for lnkit to do whatever it would do.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        btc.spender(&funding, vout, 0).as_deref(),
        Some(theirs.as_str()),
        "the funding spend in the mempool was replaced\n{}",
        lnkit.log()
    );
    let pool: Vec<String> = serde_json::from_str(&btc.cli(&["getrawmempool"])).unwrap();
    for t in &pool {
        let tx = btc.rawtx(t);
        assert!(
            tx["vin"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["txid"] != theirs.as_str()),
            "a child of the commitment ({t}) competes for it\n{}",
            lnkit.log()
        );
    }
    mine_slowly(btc, 1, 2500);
    wait_event(node, 60, "ChannelClosed", |e| {
        matches!(e, Event::ChannelClosed { .. })
    });
    // LDK's view: its own commitment confirmed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let b = node.list_balances();
        let holder = b.lightning_balances.iter().any(|l| {
            matches!(
                l,
                ldk_node::LightningBalance::ClaimableAwaitingConfirmations {
                    source: ldk_node::lightning::chain::channelmonitor::BalanceSource::HolderForceClosed,
                    ..
                }
            )
        });
        if holder {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "LDK's commitment did not confirm: {:?}\n{}",
            b.lightning_balances,
            lnkit.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // lnkit's share comes back blocks later, not after to_self_delay (144).
    mine_slowly(btc, 6, 1000);
    lnkit.until("listclosedchannels", 60, |v| {
        v["closedchannels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel_id"] == ch["channel_id"])
    });
}

/// The (scid, direction) pairs an lnkit node's `listchannels` shows.
fn listed_directions(n: &NodeProc) -> std::collections::BTreeSet<(String, u64)> {
    n.call("listchannels", json!({}))["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["short_channel_id"].as_str().unwrap().to_string(),
                c["direction"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn scid_u64(s: &str) -> u64 {
    lnkit::wire::tlv::scid_from_str(s).unwrap()
}

/// BOLT 7 with LDK: four lnkit nodes a—b—c—d, and LDK with a channel to d
/// (lnkit's open) and one to a (LDK's open), all public. Every lnkit node
/// learns LDK's channels, updates and node announcement, relayed across
/// the line; LDK learns every lnkit channel, including those it has no
/// part in, and every lnkit node's alias.
#[test]
fn ldk_and_four_lnkit_nodes_announce_and_relay_each_others_gossip() {
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let fast = ["--dev-fast-gossip"];
    let ln: Vec<NodeProc> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| NodeProc::start_with(dir.path(), n, &btc, &[&fast[..], &["--alias", n]].concat()))
        .collect();
    let (ldk_node, ldk_port) = ldk(dir.path(), "ldk-gossip", &btc, true);
    for n in &ln {
        let a = n.call("newaddr", json!({}))["bech32"]
            .as_str()
            .unwrap()
            .to_string();
        btc.cli(&["generatetoaddress", "1", &a]);
    }
    let addr = ldk_node
        .onchain_payment()
        .new_address()
        .unwrap()
        .to_string();
    btc.cli(&["generatetoaddress", "1", &addr]);
    mine(&btc, 100);
    for n in &ln {
        n.until("listfunds", 60, |v| {
            !v["outputs"].as_array().unwrap().is_empty()
        });
    }
    sync(&ldk_node);
    let ldk_id = ldk_node.node_id().to_string();
    // a—b, b—c, c—d, d—LDK opened by lnkit.
    for (i, j) in [(0, 1), (1, 2), (2, 3)] {
        ln[i].call("connect", json!({"id": ln[j].address()}));
        ln[i].call(
            "fundchannel",
            json!({"id": ln[j].node_id, "amount": 500_000}),
        );
    }
    ln[3].call(
        "connect",
        json!({"id": format!("{ldk_id}@127.0.0.1:{ldk_port}")}),
    );
    ln[3].call("fundchannel", json!({"id": ldk_id, "amount": 500_000}));
    wait_event(&ldk_node, 30, "ChannelPending", |e| {
        matches!(e, Event::ChannelPending { .. })
    });
    // LDK opens an announced channel to a.
    let a_id = ldk_node_pk(&ln[0].node_id);
    let a_addr = SocketAddress::from_str(&format!("127.0.0.1:{}", ln[0].port)).unwrap();
    ldk_node
        .open_announced_channel(a_id, a_addr, 400_000, None, None)
        .unwrap();
    wait_event(&ldk_node, 30, "ChannelPending", |e| {
        matches!(e, Event::ChannelPending { .. })
    });
    // Deep enough to announce, a block at a time so each node sees each depth.
    for _ in 0..7 {
        mine(&btc, 1);
        std::thread::sleep(Duration::from_millis(700));
    }
    let scids: Vec<String> = [(0, 1), (1, 2), (2, 3)]
        .iter()
        .map(|(i, j)| {
            let v = ln[*i].call("listpeerchannels", json!({}));
            v["channels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["peer_id"] == ln[*j].node_id)
                .unwrap()["short_channel_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let with_ldk: Vec<String> = [0usize, 3]
        .iter()
        .map(|i| {
            let v = ln[*i].until("listpeerchannels", 60, |v| {
                v["channels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["peer_id"] == ldk_id && c["short_channel_id"].is_string())
            });
            v["channels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["peer_id"] == ldk_id)
                .unwrap()["short_channel_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let every: std::collections::BTreeSet<(String, u64)> = scids
        .iter()
        .chain(&with_ldk)
        .flat_map(|s| [(s.clone(), 0), (s.clone(), 1)])
        .collect();
    // Every lnkit node: all five channels, both directions, LDK's among them; LDK's alias.
    for n in &ln {
        n.until("listchannels", 120, |_| listed_directions(n) == every);
        n.until("listnodes", 60, |v| {
            v["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["nodeid"] == ldk_id && x["alias"] == "ldk-gossip")
        });
    }
    // LDK: all five channels with both updates, and each lnkit node's alias.
    let deadline = Instant::now() + Duration::from_secs(120);
    let graph = ldk_node.network_graph();
    loop {
        let complete = scids.iter().chain(&with_ldk).all(|s| {
            graph
                .channel(scid_u64(s))
                .is_some_and(|c| c.one_to_two.is_some() && c.two_to_one.is_some())
        });
        let named = ln.iter().zip(["a", "b", "c", "d"]).all(|(n, alias)| {
            let id = ldk_node::lightning::routing::gossip::NodeId::from_str(&n.node_id).unwrap();
            graph
                .node(&id)
                .and_then(|x| x.announcement_info)
                .is_some_and(|a| a.alias().to_string() == alias)
        });
        if complete && named {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "LDK's graph lacks lnkit's gossip: channels {:?}",
            graph.list_channels()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A policy change at b reaches LDK, three hops away.
    ln[1].call("setchannel", json!({"id": scids[1], "feebase": 4321}));
    let deadline = Instant::now() + Duration::from_secs(60);
    let b_is_one = ln[1].node_id < ln[2].node_id;
    loop {
        let c = graph.channel(scid_u64(&scids[1])).unwrap();
        let from_b = if b_is_one { c.one_to_two } else { c.two_to_one };
        if from_b.is_some_and(|u| u.fees.base_msat == 4321) {
            break;
        }
        assert!(Instant::now() < deadline, "b's new fee never reached LDK");
        std::thread::sleep(Duration::from_millis(200));
    }
    ldk_node.stop().unwrap();
}

fn ldk_node_pk(s: &str) -> ldk_node::bitcoin::secp256k1::PublicKey {
    ldk_node::bitcoin::secp256k1::PublicKey::from_str(s).unwrap()
}

/// `n`'s short channel id with `peer`, once it has one.
fn scid_with(n: &NodeProc, peer: &str) -> String {
    let v = n.until("listpeerchannels", 60, |v| {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["peer_id"] == peer && c["short_channel_id"].is_string())
    });
    v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["peer_id"] == peer)
        .unwrap()["short_channel_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Payments across a mixed network, a — L1 — c — L2 (lnkit, LDK, lnkit,
/// LDK): lnkit → LDK → lnkit and LDK → lnkit → LDK, an LDK hop's failure
/// decoded to its origin, and keysend both ways between lnkit and LDK.
#[test]
fn payments_cross_ldk_and_lnkit_nodes_each_forwarding_for_the_other() {
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let fast = ["--dev-fast-gossip"];
    let a = NodeProc::start_with(
        dir.path(),
        "a",
        &btc,
        &[&fast[..], &["--alias", "a"]].concat(),
    );
    let c = NodeProc::start_with(
        dir.path(),
        "c",
        &btc,
        &[&fast[..], &["--alias", "c"]].concat(),
    );
    // (The seed follows from the name's length: two lengths, two nodes.)
    let (l1, l1_port) = ldk(dir.path(), "ldk-one", &btc, true);
    let (l2, l2_port) = ldk(dir.path(), "ldk-second", &btc, true);
    for n in [&a, &c] {
        let addr = n.call("newaddr", json!({}))["bech32"]
            .as_str()
            .unwrap()
            .to_string();
        btc.cli(&["generatetoaddress", "2", &addr]);
    }
    // LDK takes an incoming anchor channel only with coins on chain (INTEROP.md).
    for n in [&l1, &l2] {
        let addr = n.onchain_payment().new_address().unwrap().to_string();
        btc.cli(&["generatetoaddress", "1", &addr]);
    }
    mine(&btc, 100);
    for n in [&a, &c] {
        n.until("listfunds", 60, |v| {
            v["outputs"].as_array().unwrap().len() >= 2
        });
    }
    sync(&l1);
    sync(&l2);
    let (l1_id, l2_id) = (l1.node_id().to_string(), l2.node_id().to_string());
    // a—L1, c—L1 and c—L2, all opened by lnkit, all announced.
    for (n, id, port, ldk_node) in [
        (&a, &l1_id, l1_port, &l1),
        (&c, &l1_id, l1_port, &l1),
        (&c, &l2_id, l2_port, &l2),
    ] {
        n.call("connect", json!({"id": format!("{id}@127.0.0.1:{port}")}));
        n.call("fundchannel", json!({"id": id, "amount": 500_000}));
        wait_event(ldk_node, 30, "ChannelPending", |e| {
            matches!(e, Event::ChannelPending { .. })
        });
    }
    mine_slowly(&btc, 7, 700);
    wait_normal(&a, &l1_id);
    wait_normal(&c, &l1_id);
    wait_normal(&c, &l2_id);
    let (a_l1, c_l1, c_l2) = (
        scid_with(&a, &l1_id),
        scid_with(&c, &l1_id),
        scid_with(&c, &l2_id),
    );
    // L1 needs room toward c: c pays it 40,000 sat. (LDK takes at most
    // 10% of a channel in flight: amounts here stay under 50,000 sat.)
    let desc = Bolt11InvoiceDescription::Direct(Description::new("room".into()).unwrap());
    let room = l1
        .bolt11_payment()
        .receive(40_000_000, &desc, 3600)
        .unwrap();
    c.call("pay", json!({"bolt11": room.to_string()}));
    wait_event(&l1, 30, "PaymentReceived", |e| {
        matches!(e, Event::PaymentReceived { .. })
    });
    // Before it, a forward toward c fails with temporary_channel_failure.
    wait_room(&l1, &c.node_id, 21_000_000);
    // Everyone knows every channel, both directions.
    for (n, other) in [(&a, &c), (&c, &a)] {
        n.until_with(
            "listchannels",
            120,
            |v| {
                let cs = v["channels"].as_array().unwrap();
                cs.len() == 6 && cs.iter().all(|x| x["active"] == true)
            },
            &[other],
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while ![&c_l1, &c_l2].iter().all(|s| {
        l1.network_graph()
            .channel(scid_u64(s))
            .is_some_and(|ch| ch.one_to_two.is_some() && ch.two_to_one.is_some())
    }) {
        assert!(Instant::now() < deadline, "L1 never learned c's channels");
        std::thread::sleep(Duration::from_millis(200));
    }

    // 1. lnkit → LDK → lnkit: L1 forwards for a, keeping its fee.
    let inv = c.call(
        "invoice",
        json!({"amount_msat": 20_000_000, "label": "via-ldk", "description": "a to c via L1"}),
    );
    let paid = a.call("pay", json!({"bolt11": inv["bolt11"]}));
    assert_eq!(paid["status"], "complete");
    assert!(
        paid["amount_sent_msat"].as_u64().unwrap() > 20_000_000,
        "L1 took a fee: {paid}"
    );
    let pays = a.call("listpays", json!({"bolt11": inv["bolt11"]}));
    let route = &pays["pays"][0]["attempts"][0]["route"];
    assert_eq!(route[0]["id"], l1_id);
    assert_eq!(route[0]["channel"], a_l1);
    assert_eq!(route[1]["channel"], c_l1);
    // Attribution data across implementations (BOLT 4): L1 wrapped c's
    // fulfil attribution in its own, and a verified both HMACs.
    assert_eq!(
        pays["pays"][0]["attempts"][0]["hold_times_ms"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "L1's and c's hold times: {pays}"
    );
    wait_event(&l1, 30, "PaymentForwarded", |e| {
        matches!(e, Event::PaymentForwarded { .. })
    });
    assert_eq!(
        c.call("listinvoices", json!({"label": "via-ldk"}))["invoices"][0]["status"],
        "paid"
    );

    // An LDK hop's failure, decoded: more than L1 has toward c.
    let big = c.call(
        "invoice",
        json!({"amount_msat": 25_000_000, "label": "too-big", "description": "more than L1 has"}),
    );
    let e = a
        .try_call("pay", json!({"bolt11": big["bolt11"]}))
        .unwrap_err();
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!(
            "temporary_channel_failure from hop 1 ({l1_id}) on channel {c_l1}"
        )),
        "{msg}"
    );
    let part = &a.call("listpays", json!({"bolt11": big["bolt11"]}))["pays"][0]["attempts"][0];
    assert_eq!(part["erring_node"], l1_id);
    assert_eq!(part["failcode"], "temporary_channel_failure");
    assert_eq!(
        part["hold_times_ms"].as_array().unwrap().len(),
        1,
        "L1's attribution data verified: {part}"
    );

    // 2. LDK → lnkit → LDK: c forwards for L1.
    let desc = Bolt11InvoiceDescription::Direct(Description::new("via-lnkit".into()).unwrap());
    let to_l2 = l2
        .bolt11_payment()
        .receive(10_000_000, &desc, 3600)
        .unwrap();
    l1.bolt11_payment().send(&to_l2, None).unwrap();
    wait_event(&l1, 60, "PaymentSuccessful", |e| {
        matches!(e, Event::PaymentSuccessful { .. })
    });
    wait_event(&l2, 30, "PaymentReceived", |e| {
        matches!(
            e,
            Event::PaymentReceived {
                amount_msat: 10_000_000,
                ..
            }
        )
    });
    let fwd = c.until("listforwards", 30, |v| {
        v["forwards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["status"] == "settled" && f["out_channel"] == c_l2.as_str())
    });
    let f = fwd["forwards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["status"] == "settled" && f["out_channel"] == c_l2.as_str())
        .unwrap();
    assert_eq!(f["in_channel"], c_l1);
    assert_eq!(f["out_msat"], 10_000_000);
    assert!(f["fee_msat"].as_u64().unwrap() >= 1_000, "{f}");

    // 3. keysend, lnkit → LDK and LDK → lnkit.
    // LDK sets keysend (feature 55) in its node_announcement only, not in init.
    a.until("listnodes", 90, |v| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["nodeid"] == l1_id.as_str() && x["features"].is_string())
    });
    let sent = a.call(
        "keysend",
        json!({"destination": l1_id, "amount_msat": 7_000_000}),
    );
    assert_eq!(sent["status"], "complete");
    wait_event(&l1, 30, "PaymentReceived", |e| {
        matches!(
            e,
            Event::PaymentReceived {
                amount_msat: 7_000_000,
                ..
            }
        )
    });
    l1.spontaneous_payment()
        .send(3_000_000, ldk_node_pk(&a.node_id), None)
        .unwrap();
    wait_event(&l1, 60, "PaymentSuccessful", |e| {
        matches!(e, Event::PaymentSuccessful { .. })
    });
    let keysends = a.until("listinvoices", 30, |v| {
        v["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["description"] == "keysend" && i["status"] == "paid")
    });
    let k = keysends["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["description"] == "keysend")
        .unwrap();
    assert_eq!(k["amount_received_msat"], 3_000_000);
    l1.stop().unwrap();
    l2.stop().unwrap();
}
