//! BOLT 7 across a network of lnkit nodes on the embedded chain:
//! a — b — c — d with public channels, and b — d private. At 6
//! confirmations each public channel's ends exchange
//! `announcement_signatures`; the announcements, updates and node
//! announcements reach every node, relayed hop by hop; the private channel
//! reaches nobody but its peer, under its alias. A policy change and a
//! peer going offline propagate; a new node syncs the whole graph by
//! query; a restart keeps it; the router runs on it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bitcoin::{Block, BlockHash, Network, OutPoint, ScriptBuf, Transaction, Txid};
use lnkit::chain::{
    BlockRef, ChainError, ChainSource, FeeEstimate, HeaderInfo, Regtest, SharedChain, TxInfo, Utxo,
};
use lnkit::node::core::NodeHandle;
use serde_json::{json, Value};

use crate::common;
use common::inprocess::{call, connect, new_address, scid_of, try_call, until, Net};

const FUNDING_SAT: u64 = 1_000_000;

/// The (scid, direction) pairs a node's `listchannels` shows.
fn directions(v: &Value) -> BTreeSet<(String, u64)> {
    v["channels"]
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

fn direction_of<'a>(v: &'a Value, scid: &str, source: &NodeHandle) -> Option<&'a Value> {
    v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["short_channel_id"] == scid && c["source"] == source.node_id.to_string())
}

/// Coins for `a` and `b`, and a public channel `a` opens to `b` (its
/// funding in the mempool).
async fn fund_and_open(net: &Net, a: &NodeHandle, b: &NodeHandle) {
    net.mine(1, &new_address(a).await);
    net.mine(100, &new_address(b).await);
    net.sync(&[a, b]).await;
    connect(a, b).await;
    call(
        a,
        "fundchannel",
        json!({"id": b.node_id.to_string(), "amount": FUNDING_SAT}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_nodes_announce_relay_disable_sync_and_keep_their_graph() {
    let net = Net::new();
    let config = lnkit::channel::Config::default();
    let a = net.node("a", config.clone()).await;
    let b = net.node("b", config.clone()).await;
    let c = net.node("c", config.clone()).await;
    let d = net.node("d", config.clone()).await;
    let all = [&a, &b, &c, &d];
    // Two coins each: b funds two channels in one block.
    for n in all {
        let addr = new_address(n).await;
        net.mine(2, &addr);
    }
    net.mine(100, &new_address(&a).await);
    net.sync(&all).await;

    // a—b, b—c, c—d public; b—d private.
    for (from, to, announce) in [
        (&a, &b, true),
        (&b, &c, true),
        (&c, &d, true),
        (&b, &d, false),
    ] {
        connect(from, to).await;
        call(
            from,
            "fundchannel",
            json!({"id": to.node_id.to_string(), "amount": FUNDING_SAT, "announce": announce}),
        )
        .await;
    }
    net.mine_synced(3, &all).await;
    for n in all {
        until(n, "listpeerchannels", json!({}), |v| {
            v["channels"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["state"] == "CHANNELD_NORMAL")
        })
        .await;
    }
    // Not announced below 6 confirmations: nobody knows any channel yet.
    assert_eq!(
        call(&a, "listchannels", json!({})).await["channels"],
        json!([])
    );
    net.mine_synced(2, &all).await;
    assert_eq!(
        call(&b, "listchannels", json!({})).await["channels"],
        json!([]),
        "announced at 5 confirmations"
    );
    net.mine_synced(1, &all).await;

    let (ab, bc, cd) = (
        scid_of(&a, &b).await,
        scid_of(&b, &c).await,
        scid_of(&c, &d).await,
    );
    let bd = scid_of(&b, &d).await;
    let public: BTreeSet<(String, u64)> = [&ab, &bc, &cd]
        .iter()
        .flat_map(|s| [((*s).clone(), 0), ((*s).clone(), 1)])
        .collect();
    // Everyone learns all three public channels, both directions, and all four nodes with their aliases.
    for n in all {
        until(n, "listchannels", json!({}), |v| directions(v) == public).await;
        let nodes = until(n, "listnodes", json!({}), |v| {
            v["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["alias"].is_string())
                .count()
                == 4
        })
        .await;
        let aliases: BTreeSet<&str> = nodes["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["alias"].as_str().unwrap())
            .collect();
        assert_eq!(aliases, BTreeSet::from(["a", "b", "c", "d"]));
        // Each node announces where it listens.
        assert!(nodes["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["addresses"].as_array().is_some_and(|a| a.len() == 1)));
    }
    // The private channel is nobody's gossip, but d has b's policy for it, sent under the alias.
    for n in all {
        let v = call(n, "listchannels", json!({"short_channel_id": bd})).await;
        assert_eq!(v["channels"], json!([]), "the private channel leaked");
    }
    let d_view = call(&d, "listpeerchannels", json!({})).await;
    let private = d_view["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["short_channel_id"] == bd)
        .unwrap();
    assert_eq!(private["private"], true);
    assert_eq!(private["updates"]["remote"]["fee_base_msat"], 1000);

    // A policy change at b reaches a and d, two and one hops away.
    let set = call(
        &b,
        "setchannel",
        json!({"id": bc, "feebase": 5000, "feeppm": 250, "htlcmin": 2000}),
    )
    .await;
    assert_eq!(set["channels"][0]["fee_base_msat"], 5000);
    for n in [&a, &d] {
        until(n, "listchannels", json!({"short_channel_id": bc}), |v| {
            direction_of(v, &bc, &b).is_some_and(|d| {
                d["base_fee_millisatoshi"] == 5000
                    && d["fee_per_millionth"] == 250
                    && d["htlc_minimum_msat"] == 2000
            })
        })
        .await;
    }
    // The router runs on the live graph: a to d goes a→b→c→d and pays b's new fee.
    let route = call(
        &a,
        "getroute",
        json!({"id": d.node_id.to_string(), "amount_msat": 10_000_000u64, "riskfactor": 10}),
    )
    .await;
    let hops: Vec<&str> = route["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["channel"].as_str().unwrap())
        .collect();
    assert_eq!(hops, [ab.as_str(), bc.as_str(), cd.as_str()]);
    let first = route["route"][0]["amount_msat"].as_u64().unwrap();
    // c charges 1000 + 10 ppm, b 5000 + 250 ppm on what it forwards.
    let c_fee = 1000 + 10_000_000 * 10 / 1_000_000;
    let b_fee = 5000 + (10_000_000 + c_fee) * 250 / 1_000_000;
    assert_eq!(first, 10_000_000 + c_fee + b_fee);
    for (params, field) in [
        (
            json!({"id": d.node_id.to_string(), "amount_msat": 0}),
            "amount_msat",
        ),
        (
            json!({"id": d.node_id.to_string(), "amount_msat": 1000, "exclude": ["1x2"]}),
            "exclude",
        ),
        (json!({"id": "02zz", "amount_msat": 1000}), "id"),
    ] {
        let e = try_call(&a, "getroute", params).await.unwrap_err();
        assert!(e.message.contains(field), "{}", e.message);
    }
    let bad = try_call(&a, "setchannel", json!({"id": bc, "feebase": 1})).await;
    assert!(
        bad.unwrap_err().message.contains("id"),
        "a's channel list has no b—c"
    );

    // d goes away: c disables its direction of c—d, and a hears of it.
    call(&d, "stop", json!({})).await;
    d.stopped().await;
    until(&a, "listchannels", json!({"short_channel_id": cd}), |v| {
        direction_of(v, &cd, &c).is_some_and(|d| d["active"] == false)
    })
    .await;

    // A new node that knows only a syncs the whole public graph by query.
    let e = net.node("e", config.clone()).await;
    connect(&e, &a).await;
    until(&e, "listchannels", json!({}), |v| directions(v) == public).await;
    let synced = call(&e, "listchannels", json!({})).await;
    assert_eq!(
        direction_of(&synced, &bc, &b).unwrap()["base_fee_millisatoshi"],
        5000
    );
    assert_eq!(direction_of(&synced, &cd, &c).unwrap()["active"], false);

    // A restart keeps the graph: a, started again, lists it before any peer is back.
    call(&a, "stop", json!({})).await;
    a.stopped().await;
    let a = net.start("a", config.clone()).await;
    let kept = call(&a, "listchannels", json!({})).await;
    assert_eq!(directions(&kept), public);
    assert_eq!(
        direction_of(&kept, &bc, &b).unwrap()["base_fee_millisatoshi"],
        5000
    );
    assert_eq!(
        call(&a, "listnodes", json!({})).await["nodes"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    for n in [&a, &b, &c, &e] {
        call(n, "stop", json!({})).await;
    }
}

/// BOLT 7 pruning drops a channel silent for two weeks, so an announced
/// channel's update (and the node announcement) is made again before that:
/// here on a 2-second clock, with nothing else changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn announced_updates_are_refreshed_before_receivers_would_prune_them() {
    let net = Net::new();
    let config = lnkit::channel::Config::default();
    let gossip = lnkit::node::core::GossipOptions {
        keepalive: std::time::Duration::from_secs(2),
        ..Net::gossip()
    };
    let a = net.start_gossiping("a", config.clone(), true, gossip).await;
    let b = net.node("b", config.clone()).await;
    fund_and_open(&net, &a, &b).await;
    net.mine_synced(6, &[&a, &b]).await;
    let scid = scid_of(&a, &b).await;
    let seen = until(&b, "listchannels", json!({}), |v| {
        direction_of(v, &scid, &a).is_some()
    })
    .await;
    let first = direction_of(&seen, &scid, &a).unwrap()["last_update"]
        .as_u64()
        .unwrap();
    let node_ts = |v: &Value| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["nodeid"] == a.node_id.to_string())
            .and_then(|n| n["last_timestamp"].as_u64())
    };
    let node_first =
        node_ts(&until(&b, "listnodes", json!({}), |v| node_ts(v).is_some()).await).unwrap();
    let refreshed = until(&b, "listchannels", json!({}), |v| {
        direction_of(v, &scid, &a).is_some_and(|d| d["last_update"].as_u64().unwrap() >= first + 2)
    })
    .await;
    let d = direction_of(&refreshed, &scid, &a).unwrap();
    assert_eq!(
        (d["base_fee_millisatoshi"].as_u64(), d["active"].as_bool()),
        (Some(1000), Some(true))
    );
    until(&b, "listnodes", json!({}), |v| {
        node_ts(v).is_some_and(|t| t >= node_first + 2)
    })
    .await;
    for n in [&a, &b] {
        call(n, "stop", json!({})).await;
    }
}

/// The net's chain, except that while `down` is set it cannot say whether an
/// output is unspent (a bitcoind that times out): the one question gossip
/// asks of the chain. `refused` counts the questions it did not answer.
struct UtxoOutage {
    inner: SharedChain,
    down: AtomicBool,
    refused: AtomicUsize,
}

impl ChainSource for UtxoOutage {
    fn network(&self) -> Network {
        self.inner.network()
    }
    fn best_block(&self) -> Result<BlockRef, ChainError> {
        self.inner.best_block()
    }
    fn header(&self, hash: &BlockHash) -> Result<HeaderInfo, ChainError> {
        self.inner.header(hash)
    }
    fn block(&self, hash: &BlockHash) -> Result<Block, ChainError> {
        self.inner.block(hash)
    }
    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        self.inner.block_hash(height)
    }
    fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError> {
        self.inner.broadcast(tx)
    }
    fn broadcast_package(
        &self,
        parent: &Transaction,
        child: &Transaction,
    ) -> Result<(), ChainError> {
        self.inner.broadcast_package(parent, child)
    }
    fn fee_estimate(&self, target_blocks: u16) -> Result<FeeEstimate, ChainError> {
        self.inner.fee_estimate(target_blocks)
    }
    fn transaction(&self, txid: &Txid) -> Result<Option<TxInfo>, ChainError> {
        self.inner.transaction(txid)
    }
    fn utxo(&self, outpoint: &OutPoint) -> Result<Option<Utxo>, ChainError> {
        if self.down.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(ChainError::Unreachable {
                url: "test".into(),
                detail: "a simulated outage".into(),
            });
        }
        self.inner.utxo(outpoint)
    }
}

impl Regtest for UtxoOutage {
    fn mine(&self, count: u32, script: &ScriptBuf) -> Result<Vec<BlockHash>, ChainError> {
        self.inner.mine(count, script)
    }
    fn reorg(
        &self,
        depth: u32,
        new_blocks: u32,
        script: &ScriptBuf,
    ) -> Result<Vec<BlockHash>, ChainError> {
        self.inner.reorg(depth, new_blocks, script)
    }
}

/// A node whose chain cannot be asked when its channel gets announced holds
/// the gossip it could not check (its own and its peer's announcement, both
/// updates, both node announcements) and takes it once the chain answers:
/// then it knows both directions, and its peer learns ours. Nothing else
/// would bring them: each end sends its gossip once, and refreshes it only
/// after two weeks (BOLT 7).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gossip_refused_during_a_chain_outage_is_held_and_taken_after() {
    let net = Net::new();
    let config = lnkit::channel::Config::default();
    let outage = Arc::new(UtxoOutage {
        inner: net.chain.clone(),
        down: AtomicBool::new(false),
        refused: AtomicUsize::new(0),
    });
    let a = net
        .start_on(
            "a",
            config.clone(),
            true,
            Net::gossip(),
            vec![],
            outage.clone(),
        )
        .await;
    let b = net.node("b", config.clone()).await;
    fund_and_open(&net, &a, &b).await;
    outage.down.store(true, Ordering::SeqCst);
    net.mine_synced(6, &[&a, &b]).await;
    let scid = scid_of(&a, &b).await;
    // b announced, with its direction; a holds b's announcement and its
    // own, and asks the chain again at each flush.
    until(&b, "listchannels", json!({}), |v| {
        direction_of(v, &scid, &b).is_some()
    })
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while outage.refused.load(Ordering::SeqCst) < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "a asked the chain {} times during the outage",
            outage.refused.load(Ordering::SeqCst)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let during = call(&a, "listchannels", json!({})).await;
    assert_eq!(directions(&during), BTreeSet::new(), "{during}");
    assert!(direction_of(&call(&b, "listchannels", json!({})).await, &scid, &a).is_none());

    outage.down.store(false, Ordering::SeqCst);
    until(&b, "listchannels", json!({}), |v| {
        direction_of(v, &scid, &a).is_some()
    })
    .await;
    until(&a, "listchannels", json!({}), |v| {
        direction_of(v, &scid, &a).is_some() && direction_of(v, &scid, &b).is_some()
    })
    .await;
    // The node announcements, held with the channel, are known both ways.
    let alias_of = |v: &Value, n: &NodeHandle| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["nodeid"] == n.node_id.to_string())
            .and_then(|x| x["alias"].as_str().map(String::from))
    };
    for (viewer, other, alias) in [(&a, &b, "b"), (&b, &a, "a")] {
        let v = until(viewer, "listnodes", json!({}), |v| {
            alias_of(v, other).is_some()
        })
        .await;
        assert_eq!(alias_of(&v, other).as_deref(), Some(alias));
    }
    for n in [&a, &b] {
        call(n, "stop", json!({})).await;
    }
}
