//! Payments per second, durable, with N payments in flight, on one regtest
//! bitcoind and loopback TCP, in one run:
//!
//! - lnkit A→B over one channel, and A→B→C forwarded by B, each with
//!   batching off (`--commit-time 0`: every update signed at once, every
//!   step its own store transaction) and on (`--commit-time 10`: a 10 ms
//!   window, and one store commit per wake-up of the node);
//! - the same two payments between three LDK nodes (`ldk-node` 0.7, its
//!   SQLite store), which signs at once and holds updates while a round is
//!   in flight;
//! - the same two between three Core Lightning nodes (v26.06.6, built by
//!   `../shared/cln/build.sh` or taken from `LNKIT_CLN_BIN`), with CLN's
//!   defaults: its `pay` (the shadow route's CLTV offset on), its SQLite
//!   store, its `max-concurrent-htlcs` of 30 (so its 50 in flight queue at
//!   the first hop), anchors channels.
//!
//! Every node's state is fsynced before the messages that depend on it
//! leave (lnkit: SQLite WAL with `synchronous=FULL`). Invoices are made
//! before the clock starts; a payment's latency is from `pay` (or LDK's
//! `send`) until the preimage is back. The channels are private: C's
//! invoices carry the route hint through B, for both implementations.
//!
//! `cargo bench --bench node` (LNKIT_BENCH_PAYMENTS: payments per row,
//! 1000; LNKIT_BENCH_INFLIGHT: N, 50 — LDK's `max_accepted_htlcs`;
//! LNKIT_BENCH_WIDE: a last lnkit A→B row with more in flight, 200;
//! LNKIT_BENCH_LDK=0 leaves LDK out, LNKIT_BENCH_CLN=0 Core Lightning;
//! LNKIT_BENCH_BATCHING=off or on keeps
//! only those lnkit rows, for profiling one).

#[path = "../tests/common/bitcoind.rs"]
#[allow(dead_code)]
mod bitcoind;
#[path = "../tests/common/cln.rs"]
#[allow(dead_code)]
mod cln;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::Network;
use bitcoind::Bitcoind;
use ldk_node::lightning::ln::msgs::SocketAddress;
use ldk_node::lightning_invoice::{Bolt11Invoice, Bolt11InvoiceDescription, Description};
use ldk_node::{Builder, Event, Node};
use lnkit::node::core::{self, NodeHandle, NodeOptions, SharedChain};
use lnkit::node::datadir::Datadir;
use serde_json::{json, Value};

const BURN: &str = "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw";
const AMOUNT_MSAT: u64 = 1_000_000;
const CHANNEL_SAT: u64 = 10_000_000;
/// Any single wait of the setup (a channel's confirmation, an event).
const WAIT: Duration = Duration::from_secs(120);

/// One row of the table.
struct Row {
    name: String,
    /// Completed payments per second of the row's wall time.
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Payments that failed (and were not retried by us).
    failed: usize,
}

impl Row {
    fn new(name: String, elapsed: Duration, mut latencies: Vec<Duration>, failed: usize) -> Row {
        latencies.sort();
        let at = |q: f64| {
            if latencies.is_empty() {
                return f64::NAN;
            }
            let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len());
            latencies[i - 1].as_secs_f64() * 1000.0
        };
        Row {
            name,
            per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            failed,
        }
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---- lnkit ----------------------------------------------------------------

async fn lnkit_node(
    root: &std::path::Path,
    name: &str,
    chain: &SharedChain,
    commit_ms: u64,
) -> NodeHandle {
    let d = Datadir(root.join(name));
    // A seed of its own per name: each row's nodes are new nodes.
    use bitcoin::hashes::{sha256, Hash};
    let seed = sha256::Hash::hash(name.as_bytes()).to_byte_array();
    d.init(Network::Regtest, None, seed).unwrap();
    core::start(
        NodeOptions {
            datadir: d,
            network: Network::Regtest,
            listen: Some("127.0.0.1:0".parse().unwrap()),
            alias: name.into(),
            commit_time: Duration::from_millis(commit_ms),
            poll_interval: Duration::from_millis(100),
            channel: lnkit::channel::Config {
                max_accepted_htlcs: 483,
                ..Default::default()
            },
            dev: false,
            gossip: Default::default(),
            towers: vec![],
            tower_feerate: lnkit::node::core::DEFAULT_TOWER_FEERATE,
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
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if f(&call(n, method, json!({})).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{method}: timed out");
}

async fn lnkit_invoices(to: &NodeHandle, n: usize, tag: &str) -> Vec<String> {
    let mut out = vec![];
    for i in 0..n {
        let inv = call(
            to,
            "invoice",
            json!({"amount_msat": AMOUNT_MSAT, "label": format!("{tag}{i}"), "description": "bench"}),
        )
        .await;
        out.push(inv["bolt11"].as_str().unwrap().to_string());
    }
    out
}

/// Three lnkit nodes with private channels A→B and B→C, all funded by the opener.
async fn lnkit_line(
    btc: &Bitcoind,
    root: &std::path::Path,
    commit_ms: u64,
) -> [Arc<NodeHandle>; 3] {
    let chain: SharedChain = Arc::new(btc.chain());
    let mut nodes = vec![];
    for name in ["a", "b", "c"] {
        nodes.push(lnkit_node(root, &format!("{name}{commit_ms}"), &chain, commit_ms).await);
    }
    for n in &nodes[..2] {
        let addr = call(n, "newaddr", json!({})).await["bech32"]
            .as_str()
            .unwrap()
            .to_string();
        btc.cli(&["generatetoaddress", "1", &addr]);
    }
    btc.cli(&["generatetoaddress", "100", BURN]);
    for (from, to) in [(0, 1), (1, 2)] {
        let (from, to) = (&nodes[from], &nodes[to]);
        until(from, "listfunds", |v| {
            !v["outputs"].as_array().unwrap().is_empty()
        })
        .await;
        call(
            from,
            "connect",
            json!({"id": format!("{}@{}", to.node_id, to.listen.unwrap())}),
        )
        .await;
        call(
            from,
            "fundchannel",
            json!({"id": to.node_id.to_string(), "amount": CHANNEL_SAT, "announce": false}),
        )
        .await;
    }
    btc.cli(&["generatetoaddress", "6", BURN]);
    for n in &nodes {
        until(n, "listpeerchannels", |v| {
            let c = v["channels"].as_array().unwrap();
            !c.is_empty() && c.iter().all(|c| c["state"] == "CHANNELD_NORMAL")
        })
        .await;
    }
    let nodes: Vec<Arc<NodeHandle>> = nodes.into_iter().map(Arc::new).collect();
    nodes.try_into().ok().expect("three nodes")
}

async fn lnkit_row(
    name: String,
    payer: &Arc<NodeHandle>,
    invoices: Vec<String>,
    inflight: usize,
) -> Row {
    let queue = Arc::new(std::sync::Mutex::new(invoices));
    let t = Instant::now();
    let mut workers = vec![];
    for _ in 0..inflight {
        let (payer, queue) = (payer.clone(), queue.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = vec![];
            loop {
                let Some(inv) = queue.lock().unwrap().pop() else {
                    return latencies;
                };
                let start = Instant::now();
                let r = call(&payer, "pay", json!({"bolt11": inv})).await;
                assert_eq!(r["status"], "complete");
                latencies.push(start.elapsed());
            }
        }));
    }
    let mut latencies = vec![];
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    Row::new(name, t.elapsed(), latencies, 0)
}

async fn lnkit_rows(
    btc: &Bitcoind,
    payments: usize,
    inflight: usize,
    wide: usize,
    commit_ms: u64,
) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c] = lnkit_line(btc, dir.path(), commit_ms).await;
    let batching = if commit_ms == 0 {
        "batching off".to_string()
    } else {
        format!("batching on ({commit_ms} ms)")
    };
    let direct = lnkit_invoices(&b, payments, "b").await;
    let one = lnkit_row(format!("lnkit A→B    {batching}"), &a, direct, inflight).await;
    let forwarded = lnkit_invoices(&c, payments, "c").await;
    let two = lnkit_row(format!("lnkit A→B→C  {batching}"), &a, forwarded, inflight).await;
    let mut rows = vec![one, two];
    if wide > inflight {
        // Beyond LDK's limit: what lnkit does with more in flight.
        let direct = lnkit_invoices(&b, payments, "w").await;
        let name = format!("lnkit A→B    {batching}, {wide} in flight");
        rows.push(lnkit_row(name, &a, direct, wide).await);
    }
    for n in [&a, &b, &c] {
        let _ = n.call("stop", json!({})).await;
    }
    rows
}

// ---- LDK -------------------------------------------------------------------

fn ldk_node(dir: &std::path::Path, name: &str, btc: &Bitcoind) -> (Arc<Node>, SocketAddress) {
    let cookie = std::fs::read_to_string(btc.cookie()).unwrap();
    let (user, pass) = cookie.trim().split_once(':').unwrap();
    let mut b = Builder::new();
    b.set_network(ldk_node::bitcoin::Network::Regtest);
    b.set_storage_dir_path(dir.join(name).display().to_string());
    b.set_chain_source_bitcoind_rpc("127.0.0.1".into(), btc.rpc_port, user.into(), pass.into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddress::from_str(&format!("127.0.0.1:{port}")).unwrap();
    b.set_listening_addresses(vec![addr.clone()]).unwrap();
    b.set_entropy_seed_bytes([name.as_bytes()[name.len() - 1]; 64]);
    // An alias and an address let it announce channels: LDK forwards only
    // to announced channels (`accept_forwards_to_priv_channels` is off).
    b.set_node_alias(name.to_string()).unwrap();
    let node = b.build().unwrap();
    node.start().unwrap();
    (Arc::new(node), addr)
}

/// The next event matching `f` (others are handled and skipped), within [`WAIT`].
async fn ldk_event(node: &Node, f: impl Fn(&Event) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let e = tokio::time::timeout_at(deadline, node.next_event_async())
            .await
            .expect("an LDK event within the bound");
        node.event_handled().unwrap();
        if f(&e) {
            return e;
        }
    }
}

/// Handle a node's events until dropped (a receiver's and a forwarder's queue must not grow).
fn ldk_drain(node: &Arc<Node>) -> tokio::task::JoinHandle<()> {
    let node = node.clone();
    tokio::spawn(async move {
        loop {
            let _ = node.next_event_async().await;
            let _ = node.event_handled();
        }
    })
}

async fn ldk_line(btc: &Bitcoind, root: &std::path::Path) -> [(Arc<Node>, SocketAddress); 3] {
    let nodes = ["ldk-a", "ldk-b", "ldk-c"].map(|n| ldk_node(root, n, btc));
    // Each needs coins on chain: an opener to fund, and an accepter of an
    // anchor channel to bump its commitment (INTEROP.md).
    for (n, _) in &nodes {
        let addr = n.onchain_payment().new_address().unwrap().to_string();
        btc.cli(&["generatetoaddress", "1", &addr]);
    }
    btc.cli(&["generatetoaddress", "100", BURN]);
    for (n, _) in &nodes {
        n.sync_wallets().unwrap();
    }
    for (from, to) in [(0, 1), (1, 2)] {
        let (to_node, to_addr) = &nodes[to];
        nodes[from]
            .0
            .open_announced_channel(to_node.node_id(), to_addr.clone(), CHANNEL_SAT, None, None)
            .unwrap();
        ldk_event(&nodes[from].0, |e| {
            matches!(e, Event::ChannelPending { .. })
        })
        .await;
    }
    // A block at a time until both channels are usable (LDK broadcasts its
    // funding a moment after `ChannelPending`, and needs 6 confirmations).
    let deadline = Instant::now() + WAIT;
    while !nodes.iter().all(|(n, _)| {
        let c = n.list_channels();
        !c.is_empty() && c.iter().all(|c| c.is_usable)
    }) {
        assert!(
            Instant::now() < deadline,
            "LDK's channels never became usable: {:?}",
            nodes
                .iter()
                .map(|(n, _)| n.list_channels())
                .collect::<Vec<_>>()
        );
        btc.cli(&["generatetoaddress", "1", BURN]);
        for (n, _) in &nodes {
            n.sync_wallets().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A routes to C over B's announced channel: wait until its graph has it.
    while nodes[0].0.network_graph().list_channels().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "LDK A never learned B's channel to C"
        );
        btc.cli(&["generatetoaddress", "1", BURN]);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    nodes
}

/// Stops LDK nodes when dropped, so that a failing bench ends instead of
/// leaving their background tasks running.
struct Stop(Vec<Arc<Node>>);

impl Drop for Stop {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = n.stop();
        }
    }
}

fn ldk_invoices(to: &Node, n: usize) -> Vec<Bolt11Invoice> {
    let desc = Bolt11InvoiceDescription::Direct(Description::new("bench".into()).unwrap());
    (0..n)
        .map(|_| {
            to.bolt11_payment()
                .receive(AMOUNT_MSAT, &desc, 3600)
                .unwrap()
        })
        .collect()
}

async fn ldk_row(
    name: &str,
    payer: &Node,
    mut invoices: Vec<Bolt11Invoice>,
    inflight: usize,
) -> Row {
    let total = invoices.len();
    let mut started = HashMap::new();
    let mut latencies = vec![];
    let t = Instant::now();
    let mut failed = 0;
    while latencies.len() + failed < total {
        // Up to N in flight, while LDK's first hop has room for one more
        // (its `max_accepted_htlcs` is 50; it counts held HTLCs too).
        let room = |payer: &Node| {
            payer
                .list_channels()
                .iter()
                .any(|c| c.next_outbound_htlc_limit_msat >= 2 * AMOUNT_MSAT)
        };
        while started.len() < inflight && (started.is_empty() || room(payer)) {
            let Some(inv) = invoices.pop() else { break };
            let id = payer.bolt11_payment().send(&inv, None).unwrap_or_else(|e| {
                panic!(
                    "LDK send after {} done, {} in flight: {e:?}; {:?}",
                    latencies.len(),
                    started.len(),
                    payer.list_channels()
                )
            });
            started.insert(id, Instant::now());
        }
        match ldk_event(payer, |e| {
            matches!(
                e,
                Event::PaymentSuccessful { .. } | Event::PaymentFailed { .. }
            )
        })
        .await
        {
            Event::PaymentSuccessful {
                payment_id: Some(id),
                ..
            } => latencies.push(started.remove(&id).expect("ours").elapsed()),
            Event::PaymentFailed {
                payment_id: Some(id),
                ..
            } => {
                // LDK gave up (its retries found no route): counted, not retried.
                started.remove(&id);
                failed += 1;
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
    Row::new(name.into(), t.elapsed(), latencies, failed)
}

async fn ldk_rows(btc: &Bitcoind, payments: usize, inflight: usize) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    let [(a, _), (b, _), (c, _)] = ldk_line(btc, dir.path()).await;
    let _stop = Stop(vec![a.clone(), b.clone(), c.clone()]);
    let drains = [ldk_drain(&b), ldk_drain(&c)];
    let direct = ldk_invoices(&b, payments);
    let one = ldk_row("LDK   A→B", &a, direct, inflight).await;
    let forwarded = ldk_invoices(&c, payments);
    let two = ldk_row("LDK   A→B→C", &a, forwarded, inflight).await;
    for d in drains {
        d.abort();
    }
    vec![one, two]
}

// ---- Core Lightning ------------------------------------------------------

/// Three CLN nodes with private channels A→B and B→C, funded by the opener.
fn cln_line(bin: &std::path::Path, btc: &Bitcoind) -> [cln::Cln; 3] {
    let nodes = ["cln-a", "cln-b", "cln-c"].map(|n| cln::Cln::start(bin, btc, n, &[]));
    for n in &nodes[..2] {
        let addr = n.call("newaddr", json!({"addresstype": "bech32"}))["bech32"]
            .as_str()
            .unwrap()
            .to_string();
        btc.cli(&["generatetoaddress", "1", &addr]);
    }
    btc.cli(&["generatetoaddress", "100", BURN]);
    for (from, to) in [(0, 1), (1, 2)] {
        let (from, to) = (&nodes[from], &nodes[to]);
        let deadline = Instant::now() + WAIT;
        while from.confirmed_sat() == 0 {
            assert!(Instant::now() < deadline, "CLN never saw its coinbase");
            std::thread::sleep(Duration::from_millis(200));
        }
        from.call(
            "connect",
            json!({"id": to.id, "host": "127.0.0.1", "port": to.port}),
        );
        from.call(
            "fundchannel",
            json!({"id": to.id, "amount": CHANNEL_SAT, "announce": false}),
        );
    }
    btc.cli(&["generatetoaddress", "6", BURN]);
    // Normal, and each peer's policy for the private channel known: C's
    // route hint through B needs B's.
    for n in &nodes {
        n.until("listpeerchannels", json!({}), WAIT.as_secs(), |v| {
            let c = v["channels"].as_array().unwrap();
            !c.is_empty()
                && c.iter()
                    .all(|c| c["state"] == "CHANNELD_NORMAL" && c["updates"]["remote"].is_object())
        });
    }
    nodes
}

/// `n` invoices of `to`'s, each with the route hint through its private
/// channel named (CLN leaves out a peer with no public channel, B here, as
/// a "dead end" unless the channel is named).
fn cln_invoices(to: &cln::Cln, n: usize, tag: &str) -> Vec<String> {
    let scids: Vec<Value> = to.call("listpeerchannels", json!({}))["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["short_channel_id"].clone())
        .collect();
    (0..n)
        .map(|i| {
            to.call(
                "invoice",
                json!({"amount_msat": AMOUNT_MSAT, "label": format!("{tag}{i}"), "description": "bench",
                       "exposeprivatechannels": scids}),
            )["bolt11"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// `inflight` threads, each calling the payer's `pay` (blocking until the
/// preimage is back, or it gives up) over its RPC socket.
fn cln_row(name: &str, payer: &cln::Cln, invoices: Vec<String>, inflight: usize) -> Row {
    let queue = Arc::new(std::sync::Mutex::new(invoices));
    let socket = payer.socket();
    let t = Instant::now();
    let workers: Vec<_> = (0..inflight)
        .map(|_| {
            let (queue, socket) = (queue.clone(), socket.clone());
            std::thread::spawn(move || {
                let (mut latencies, mut failed) = (vec![], 0);
                loop {
                    let Some(inv) = queue.lock().unwrap().pop() else {
                        return (latencies, failed);
                    };
                    let start = Instant::now();
                    match cln::call_socket(&socket, "pay", json!({"bolt11": inv})) {
                        Ok(_) => latencies.push(start.elapsed()),
                        Err(e) => {
                            if failed == 0 {
                                eprintln!("CLN pay failed (counted, not retried): {e}");
                            }
                            failed += 1;
                        }
                    }
                }
            })
        })
        .collect();
    let (mut latencies, mut failed) = (vec![], 0);
    for w in workers {
        let (l, f) = w.join().unwrap();
        latencies.extend(l);
        failed += f;
    }
    Row::new(name.into(), t.elapsed(), latencies, failed)
}

fn cln_rows(btc: &Bitcoind, payments: usize, inflight: usize) -> Vec<Row> {
    let Some(bin) = cln::binaries("bench node: Core Lightning rows") else {
        return vec![];
    };
    let [a, b, c] = cln_line(&bin, btc);
    let direct = cln_invoices(&b, payments, "b");
    let one = cln_row("CLN   A→B", &a, direct, inflight);
    let forwarded = cln_invoices(&c, payments, "c");
    let two = cln_row("CLN   A→B→C", &a, forwarded, inflight);
    vec![one, two]
}

fn main() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("LNKIT_LOG").unwrap_or_else(|_| "warn".into()))
        .try_init();
    let payments = env("LNKIT_BENCH_PAYMENTS", 1000);
    let inflight = env("LNKIT_BENCH_INFLIGHT", 50);
    let wide = env("LNKIT_BENCH_WIDE", 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let btc = Bitcoind::start();
    let mut rows = vec![];
    let batching = std::env::var("LNKIT_BENCH_BATCHING").unwrap_or_default();
    for (name, commit_ms) in [("off", 0), ("on", 10)] {
        if !batching.is_empty() && batching != name {
            continue;
        }
        rows.extend(rt.block_on(lnkit_rows(&btc, payments, inflight, wide, commit_ms)));
    }
    if env("LNKIT_BENCH_LDK", 1) == 1 {
        rows.extend(rt.block_on(ldk_rows(&btc, payments, inflight)));
    }
    if env("LNKIT_BENCH_CLN", 1) == 1 {
        rows.extend(cln_rows(&btc, payments, inflight));
    }
    println!("node/payments: {payments} payments per row, {inflight} in flight, durable");
    println!(
        "{:<46} {:>10} {:>9} {:>9} {:>7}",
        "", "payments/s", "p50 ms", "p99 ms", "failed"
    );
    for r in rows {
        println!(
            "{:<46} {:>10.1} {:>9.1} {:>9.1} {:>7}",
            r.name, r.per_second, r.p50_ms, r.p99_ms, r.failed
        );
    }
}
