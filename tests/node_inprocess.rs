//! Two nodes in one process on the embedded regtest chain, talking over
//! real TCP on loopback: fund, connect, open, pay both ways, close.

use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Address, Network};
use lnkit::chain::embedded::EmbeddedChain;
use lnkit::node::core::{self, NodeHandle, NodeOptions, SharedChain};
use lnkit::node::datadir::Datadir;
use serde_json::{json, Value};

mod common;
use common::schema::assert_valid;

struct Net {
    chain: SharedChain,
    _dir: tempfile::TempDir,
}

async fn node(net: &Net, name: &str) -> NodeHandle {
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
            commit_time: Duration::from_millis(5),
            poll_interval: Duration::from_millis(50),
            channel: lnkit::channel::Config::default(),
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
    for _ in 0..400 {
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
    let dir = tempfile::tempdir().unwrap();
    let chain = EmbeddedChain::open(&dir.path().join("chain")).unwrap();
    let net = Net {
        chain: Arc::new(chain),
        _dir: dir,
    };
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
    mine(&net, 1, &addr);
    call(&a, "stop", json!({})).await;
    call(&b, "stop", json!({})).await;
}
