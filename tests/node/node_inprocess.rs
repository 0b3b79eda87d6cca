//! Two nodes in one process on the embedded regtest chain, talking over
//! real TCP on loopback: fund, connect, open, pay both ways, close.

use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Address, Network};
use lnkit::chain::embedded::EmbeddedChain;
use lnkit::node::core::{self, NodeHandle, NodeOptions, SharedChain};
use lnkit::node::datadir::Datadir;
use serde_json::{json, Value};

use crate::common;
use common::schema::assert_valid;

struct Net {
    chain: SharedChain,
    _dir: tempfile::TempDir,
}

impl Net {
    /// A fresh embedded regtest chain in a directory of its own.
    fn new() -> Net {
        let dir = tempfile::tempdir().unwrap();
        let chain = EmbeddedChain::open(&dir.path().join("chain")).unwrap();
        Net {
            chain: Arc::new(chain),
            _dir: dir,
        }
    }
}

async fn node(net: &Net, name: &str) -> NodeHandle {
    node_with_window(net, name, Duration::from_millis(5)).await
}

async fn node_with_window(net: &Net, name: &str, commit_time: Duration) -> NodeHandle {
    let d = Datadir(net._dir.path().join(name));
    d.init(
        Network::Regtest,
        None,
        [name.len() as u8 + name.as_bytes()[0]; 32],
    )
    .unwrap();
    core::start(
        NodeOptions {
            datadir: d,
            network: Network::Regtest,
            listen: Some("127.0.0.1:0".parse().unwrap()),
            alias: name.into(),
            commit_time,
            poll_interval: Duration::from_millis(50),
            channel: lnkit::channel::Config::default(),
            dev: true,
            gossip: Default::default(),
            towers: vec![],
            tower_feerate: core::DEFAULT_TOWER_FEERATE,
        },
        net.chain.clone(),
    )
    .await
    .unwrap()
}

async fn call(n: &NodeHandle, method: &str, params: Value) -> Value {
    let v = tokio::time::timeout(Duration::from_secs(60), n.call(method, params.clone()))
        .await
        .unwrap_or_else(|_| panic!("{method} {params}: no answer in 60 s"))
        .unwrap_or_else(|e| panic!("{method} {params}: {e:?}"));
    assert_valid(method, &v);
    v
}

fn mine(net: &Net, blocks: u32, to: &str) {
    let addr: Address<bitcoin::address::NetworkUnchecked> = to.parse().unwrap();
    let script = addr.assume_checked().script_pubkey();
    net.chain.mine(blocks, &script).unwrap();
}

/// Wait (bounded) until `f` holds for the node's answer to `method`.
async fn until(n: &NodeHandle, method: &str, f: impl Fn(&Value) -> bool) -> Value {
    // Bounded at 30 s: a loaded 2-core CI machine is slow, never stuck.
    for _ in 0..1200 {
        let v = call(n, method, json!({})).await;
        if f(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{method} never satisfied the condition: {}",
        call(n, method, json!({})).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_open_pay_both_ways_and_close() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("LNKIT_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let net = Net::new();
    let a = node(&net, "alice").await;
    let b = node(&net, "bob").await;
    let addr = call(&a, "newaddr", json!({})).await["bech32"]
        .as_str()
        .unwrap()
        .to_string();
    mine(&net, 101, &addr);
    let funds = until(&a, "listfunds", |v| {
        !v["outputs"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(funds["outputs"][0]["status"], "confirmed");

    let b_id = b.node_id.to_string();
    let connect = call(
        &a,
        "connect",
        json!({"id": format!("{b_id}@{}", b.listen.unwrap())}),
    )
    .await;
    assert_eq!(connect["id"], b_id);
    let opened = call(&a, "fundchannel", json!({"id": b_id, "amount": 1_000_000})).await;
    assert_eq!(
        opened["channel_type"]["bits"],
        json!([12, 22]),
        "anchors when both support them"
    );
    mine(&net, 3, &addr);
    let ch = until(&a, "listpeerchannels", |v| {
        v["channels"][0]["state"] == "CHANNELD_NORMAL"
    })
    .await;
    until(&b, "listpeerchannels", |v| {
        v["channels"][0]["state"] == "CHANNELD_NORMAL"
    })
    .await;
    assert_eq!(ch["channels"][0]["total_msat"], 1_000_000_000);

    for i in 0..3u64 {
        let inv = call(&b, "invoice", json!({"amount_msat": 10_000_000 + i, "label": format!("b{i}"), "description": "to bob"})).await;
        let paid = call(&a, "pay", json!({"bolt11": inv["bolt11"]})).await;
        assert_eq!(paid["status"], "complete");
        assert_eq!(paid["payment_hash"], inv["payment_hash"]);
    }
    let inv = call(
        &a,
        "invoice",
        json!({"amount_msat": 5_000_000, "label": "a0", "description": "to alice"}),
    )
    .await;
    call(&b, "pay", json!({"bolt11": inv["bolt11"]})).await;
    let invs = call(&b, "listinvoices", json!({})).await;
    assert!(invs["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "paid"));
    let pays = call(&a, "listpays", json!({})).await;
    assert_eq!(pays["pays"].as_array().unwrap().len(), 3);

    let chans = until(&a, "listpeerchannels", |v| {
        v["channels"][0]["htlcs"].as_array().unwrap().is_empty()
    })
    .await;
    let to_us = chans["channels"][0]["to_us_msat"].as_u64().unwrap();
    assert_eq!(to_us, 1_000_000_000 - 30_000_003 + 5_000_000);

    let closed = call(&a, "close", json!({"id": b_id})).await;
    assert_eq!(closed["type"], "mutual");
    // A second channel, closed by force: our latest commitment goes out (its sweeps are the on-chain step).
    mine(&net, 1, &addr);
    let opened = call(
        &a,
        "fundchannel",
        json!({"id": b_id, "amount": 200_000, "channel_type": [12]}),
    )
    .await;
    assert_eq!(opened["channel_type"]["bits"], json!([12]));
    mine(&net, 3, &addr);
    until(&a, "listpeerchannels", |v| {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["state"] == "CHANNELD_NORMAL")
    })
    .await;
    let forced = call(
        &a,
        "close",
        json!({"id": opened["channel_id"], "force": true}),
    )
    .await;
    assert_eq!(forced["type"], "unilateral");
    let tx: bitcoin::Transaction =
        bitcoin::consensus::encode::deserialize_hex(forced["tx"].as_str().unwrap()).unwrap();
    let funding: bitcoin::Transaction =
        bitcoin::consensus::encode::deserialize_hex(opened["tx"].as_str().unwrap()).unwrap();
    let spent = funding.output[opened["outnum"].as_u64().unwrap() as usize].clone();
    lnkit::verify::verify_transaction(&tx, &[spent]).expect("the kernel accepts our commitment");
    // Once mined, both sides name what spent each funding output (BOLT 5).
    mine(&net, 1, &addr);
    let kinds = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["funding_spend"]["kind"]
                    .as_str()
                    .unwrap_or("none")
                    .to_string()
            })
            .collect();
        k.sort();
        k
    };
    let a_view = until(&a, "listpeerchannels", |v| {
        kinds(v).iter().all(|k| k != "none")
    })
    .await;
    assert_eq!(kinds(&a_view), ["mutual_close", "our_commitment"]);
    let b_view = until(&b, "listpeerchannels", |v| {
        kinds(v).iter().all(|k| k != "none")
    })
    .await;
    assert_eq!(kinds(&b_view), ["mutual_close", "their_commitment"]);
    mine(&net, 1, &addr);
    call(&a, "stop", json!({})).await;
    call(&b, "stop", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_requires_a_feature_we_lack_gets_a_warning_and_is_dropped() {
    let net = Net::new();
    let n = node(&net, "carol").await;
    let (addr, id) = (n.listen.unwrap(), n.node_id);
    let warning = tokio::task::spawn_blocking(move || {
        use lnkit::wire::message::{self, Message, Value as W};
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let me = bitcoin::secp256k1::SecretKey::from_slice(&[0x33; 32]).unwrap();
        let eph = bitcoin::secp256k1::SecretKey::from_slice(&[0x44; 32]).unwrap();
        let _ = &secp;
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut peer = lnkit::wire::peer::Peer::connect(stream, &me, &id, &eph).unwrap();
        // var_onion_optin and payment_secret, and bit 100: required, and nobody's.
        let features = lnkit::wire::features::from_bits(&[8, 14, 100]);
        let init = Message {
            typ: 16,
            name: Some("init"),
            fields: vec![
                ("globalfeatures", W::Features(vec![])),
                ("features", W::Features(features)),
            ],
            tlvs: vec![],
            raw: None,
        };
        peer.send(&message::encode(&init).unwrap()).unwrap();
        let theirs = message::decode(&peer.recv().unwrap()).unwrap();
        assert_eq!(theirs.name, Some("init"), "the node sends its init first");
        message::decode(&peer.recv().unwrap()).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(warning.name, Some("warning"));
    let text = warning.fields.iter().find_map(|(f, v)| match (f, v) {
        (&"data", lnkit::wire::message::Value::Bytes(b)) => {
            Some(String::from_utf8_lossy(b).into_owned())
        }
        _ => None,
    });
    assert!(
        text.unwrap().contains("bit_100"),
        "the warning names the bit"
    );
    let info = call(&n, "getinfo", json!({})).await;
    assert_eq!(info["num_peers"], 0, "and the connection is gone");
}

/// A node started on a chain with history: its wallet, born at genesis,
/// takes the blocks after it (they connect to its genesis checkpoint).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_late_in_the_chain_sees_its_coins() {
    let net = Net::new();
    mine(&net, 110, "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw");
    let n = node(&net, "late").await;
    let addr = call(&n, "newaddr", json!({})).await["bech32"]
        .as_str()
        .unwrap()
        .to_string();
    mine(&net, 1, &addr);
    let funds = until(&n, "listfunds", |v| {
        !v["outputs"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(funds["outputs"][0]["amount_msat"], 5_000_000_000_000_u64);
}

/// Batching delays only a node's own updates: a `commitment_signed` that
/// answers the peer's goes at once. Bob's window here is ten minutes, yet
/// Alice's payment completes: Bob's answer (his revocation and his signature
/// on Alice's HTLC) and then his fulfil leave without waiting for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commitment_signed_is_answered_at_once_whatever_the_window() {
    let net = Net::new();
    let a = node(&net, "alice").await;
    let b = node_with_window(&net, "bob", Duration::from_secs(600)).await;
    let addr = call(&a, "newaddr", json!({})).await["bech32"]
        .as_str()
        .unwrap()
        .to_string();
    mine(&net, 101, &addr);
    until(&a, "listfunds", |v| {
        !v["outputs"].as_array().unwrap().is_empty()
    })
    .await;
    let b_id = b.node_id.to_string();
    call(
        &a,
        "connect",
        json!({"id": format!("{b_id}@{}", b.listen.unwrap())}),
    )
    .await;
    call(&a, "fundchannel", json!({"id": b_id, "amount": 1_000_000})).await;
    mine(&net, 3, &addr);
    for n in [&a, &b] {
        until(n, "listpeerchannels", |v| {
            v["channels"][0]["state"] == "CHANNELD_NORMAL"
        })
        .await;
    }
    for i in 0..2u64 {
        let inv = call(&b, "invoice", json!({"amount_msat": 2_000_000 + i, "label": format!("w{i}"), "description": "window"})).await;
        // `pay` answers within `call`'s 60 s bound, far inside Bob's window.
        let paid = call(&a, "pay", json!({"bolt11": inv["bolt11"]})).await;
        assert_eq!(paid["status"], "complete");
    }
}
