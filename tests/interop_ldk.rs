//! Interop with rust-lightning, live over TCP on loopback, on one regtest
//! bitcoind: `ldk-node` (LDK 0.2) opens to lnkit and lnkit opens to it, with
//! both channel types; payments both ways; `update_fee`; a disconnect in the
//! middle of an update, then reestablish; a cooperative close.

mod common;

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

fn sync(node: &Node) {
    node.sync_wallets().unwrap();
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

    // Back a quarter of it, once LDK's round has finished and the capacity is there (INTEROP.md).
    let back = amount_msat / 4;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !node
        .list_channels()
        .iter()
        .any(|c| c.is_usable && c.outbound_capacity_msat >= back)
    {
        assert!(
            Instant::now() < deadline,
            "LDK never had {back} msat to send back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
        .find(|c| c["state"] != "CLOSINGD_COMPLETE" && c["state"] != "AWAITING_UNILATERAL")
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

/// Close cooperatively from `by_lnkit` or from LDK, and see both sides agree.
fn close(btc: &Bitcoind, lnkit: &NodeProc, node: &Node, by_lnkit: bool) {
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
        close(&btc, &lnkit, node, bits == json!([12]));
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
    close(&btc, &lnkit, &anchor_ldk, true);
    let plain_peer = plain_ldk.node_id().to_string();
    lnkit.call(
        "connect",
        json!({"id": format!("{plain_peer}@127.0.0.1:{plain_port}")}),
    );
    close(&btc, &lnkit, &plain_ldk, false);
    anchor_ldk.stop().unwrap();
    plain_ldk.stop().unwrap();
}
