//! Payments per second between two lnkit nodes over one channel, on
//! loopback TCP, every commitment durable (SQLite WAL, synchronous=FULL):
//! one payment at a time, then 16 in flight. Invoices are made before the
//! clock starts; each payment is `pay` until the preimage is back.
//!
//! `cargo bench --bench node` (set LNKIT_BENCH_PAYMENTS to change the count).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::{Address, Network};
use lnkit::chain::embedded::EmbeddedChain;
use lnkit::node::core::{self, NodeHandle, NodeOptions, SharedChain};
use lnkit::node::datadir::Datadir;
use serde_json::{json, Value};

async fn start(
    root: &std::path::Path,
    name: &str,
    chain: &SharedChain,
    commit_ms: u64,
) -> NodeHandle {
    let d = Datadir(root.join(name));
    d.init(Network::Regtest, None, [name.as_bytes()[0]; 32])
        .unwrap();
    core::start(
        NodeOptions {
            datadir: d,
            network: Network::Regtest,
            listen: Some("127.0.0.1:0".parse().unwrap()),
            alias: name.into(),
            commit_time: Duration::from_millis(commit_ms),
            poll_interval: Duration::from_millis(50),
            channel: lnkit::channel::Config {
                max_accepted_htlcs: 483,
                ..Default::default()
            },
            dev: false,
            gossip: Default::default(),
        },
        chain.clone(),
    )
    .await
    .unwrap()
}

async fn call(n: &NodeHandle, method: &str, params: Value) -> Value {
    n.call(method, params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {}", e.message))
}

async fn until(n: &NodeHandle, method: &str, f: impl Fn(&Value) -> bool) {
    for _ in 0..2000 {
        if f(&call(n, method, json!({})).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{method}: timed out");
}

async fn invoices(b: &NodeHandle, n: usize, tag: &str) -> Vec<String> {
    let mut out = vec![];
    for i in 0..n {
        let inv = call(
            b,
            "invoice",
            json!({"amount_msat": 1_000_000, "label": format!("{tag}{i}"), "description": "bench"}),
        )
        .await;
        out.push(inv["bolt11"].as_str().unwrap().to_string());
    }
    out
}

async fn run(payments: usize, commit_ms: u64) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let chain: SharedChain = Arc::new(EmbeddedChain::open(&dir.path().join("chain")).unwrap());
    let a = start(dir.path(), "a", &chain, commit_ms).await;
    let b = start(dir.path(), "b", &chain, commit_ms).await;
    let addr = call(&a, "newaddr", json!({})).await["bech32"]
        .as_str()
        .unwrap()
        .to_string();
    let script = addr
        .parse::<Address<_>>()
        .unwrap()
        .assume_checked()
        .script_pubkey();
    chain.mine(101, &script).unwrap();
    until(&a, "listfunds", |v| {
        !v["outputs"].as_array().unwrap().is_empty()
    })
    .await;
    call(
        &a,
        "connect",
        json!({"id": format!("{}@{}", b.node_id, b.listen.unwrap())}),
    )
    .await;
    call(
        &a,
        "fundchannel",
        json!({"id": b.node_id.to_string(), "amount": 16_000_000}),
    )
    .await;
    chain.mine(3, &script).unwrap();
    until(&a, "listpeerchannels", |v| {
        v["channels"][0]["state"] == "CHANNELD_NORMAL"
    })
    .await;
    until(&b, "listpeerchannels", |v| {
        v["channels"][0]["state"] == "CHANNELD_NORMAL"
    })
    .await;

    let one = invoices(&b, payments, "s").await;
    let t = Instant::now();
    for inv in &one {
        let r = call(&a, "pay", json!({"bolt11": inv})).await;
        assert_eq!(r["status"], "complete");
    }
    let sequential = payments as f64 / t.elapsed().as_secs_f64();

    let many = invoices(&b, payments, "c").await;
    let a = Arc::new(a);
    let t = Instant::now();
    let queue = Arc::new(tokio::sync::Mutex::new(many));
    let mut workers = vec![];
    for _ in 0..16 {
        let (a, queue) = (a.clone(), queue.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(inv) = queue.lock().await.pop() else {
                    return;
                };
                let r = call(&a, "pay", json!({"bolt11": inv})).await;
                assert_eq!(r["status"], "complete");
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let concurrent = payments as f64 / t.elapsed().as_secs_f64();
    let _ = a.call("stop", json!({})).await;
    let _ = b.call("stop", json!({})).await;
    (sequential, concurrent)
}

fn main() {
    let payments: usize = std::env::var("LNKIT_BENCH_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for commit_ms in [10, 0] {
        let (seq, conc) = rt.block_on(run(payments, commit_ms));
        println!("node/payments commit-time {commit_ms:>2} ms: one at a time {seq:>7.1} payments/s, 16 in flight {conc:>7.1} payments/s ({payments} payments each, durable)");
    }
}
