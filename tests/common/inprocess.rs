//! Nodes in one process on one embedded regtest chain, talking over TCP on
//! loopback: the harness of the node tests that need no real bitcoind.

use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Address, Network, ScriptBuf};
use lnkit::chain::embedded::EmbeddedChain;
use lnkit::node::core::{self, GossipOptions, NodeHandle, NodeOptions, SharedChain};
use lnkit::node::datadir::Datadir;
use serde_json::{json, Value};

use super::schema::assert_valid;

/// The chain, and the directory every node lives in.
pub struct Net {
    pub chain: SharedChain,
    pub embedded: Arc<EmbeddedChain>,
    pub dir: tempfile::TempDir,
}

impl Net {
    pub fn new() -> Net {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("LNKIT_LOG").unwrap_or_else(|_| "warn".into()))
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let embedded = Arc::new(EmbeddedChain::open(&dir.path().join("chain")).unwrap());
        Net {
            chain: embedded.clone(),
            embedded,
            dir,
        }
    }

    /// A node named `name` (its seed follows from the name), started with `--dev`.
    pub async fn node(&self, name: &str, channel: lnkit::channel::Config) -> NodeHandle {
        self.node_with(name, channel, true).await
    }

    /// A node named `name`, started with or without `--dev`.
    pub async fn node_with(
        &self,
        name: &str,
        channel: lnkit::channel::Config,
        dev: bool,
    ) -> NodeHandle {
        // `start_gossiping` creates the datadir (its seed follows from the name).
        self.start_with(name, channel, dev).await
    }

    /// Start (again) the node in `name`'s datadir, with `--dev`.
    pub async fn start(&self, name: &str, channel: lnkit::channel::Config) -> NodeHandle {
        self.start_with(name, channel, true).await
    }

    /// Start the node in `name`'s datadir.
    pub async fn start_with(
        &self,
        name: &str,
        channel: lnkit::channel::Config,
        dev: bool,
    ) -> NodeHandle {
        self.start_gossiping(name, channel, dev, Self::gossip())
            .await
    }

    /// The gossip timers of the tests: a flush every 100 ms, a peer away 1 s disabled.
    pub fn gossip() -> GossipOptions {
        GossipOptions {
            flush: Duration::from_millis(100),
            disable_after: Duration::from_secs(1),
            ..Default::default()
        }
    }

    /// Start the node in `name`'s datadir (created if new) with these gossip settings.
    pub async fn start_gossiping(
        &self,
        name: &str,
        channel: lnkit::channel::Config,
        dev: bool,
        gossip: GossipOptions,
    ) -> NodeHandle {
        self.start_towered(name, channel, dev, gossip, vec![]).await
    }

    /// Start the node in `name`'s datadir (created if new), handing
    /// appointments to these watchtowers.
    pub async fn start_towered(
        &self,
        name: &str,
        channel: lnkit::channel::Config,
        dev: bool,
        gossip: GossipOptions,
        towers: Vec<String>,
    ) -> NodeHandle {
        self.start_on(name, channel, dev, gossip, towers, self.chain.clone())
            .await
    }

    /// Start the node in `name`'s datadir (created if new) on `chain`: the
    /// net's chain, or a wrapper of it a test controls.
    pub async fn start_on(
        &self,
        name: &str,
        channel: lnkit::channel::Config,
        dev: bool,
        gossip: GossipOptions,
        towers: Vec<String>,
        chain: SharedChain,
    ) -> NodeHandle {
        let d = Datadir(self.dir.path().join(name));
        if !d.0.exists() {
            d.init(
                Network::Regtest,
                None,
                [name.len() as u8 + name.as_bytes()[0]; 32],
            )
            .unwrap();
        }
        core::start(
            NodeOptions {
                datadir: Datadir(self.dir.path().join(name)),
                network: Network::Regtest,
                listen: Some("127.0.0.1:0".parse().unwrap()),
                alias: name.into(),
                commit_time: Duration::from_millis(5),
                poll_interval: Duration::from_millis(20),
                channel,
                dev,
                gossip,
                towers,
                tower_feerate: core::DEFAULT_TOWER_FEERATE,
            },
            chain,
        )
        .await
        .unwrap()
    }

    pub fn height(&self) -> u32 {
        self.chain.best_block().unwrap().height
    }

    pub fn mine_to(&self, blocks: u32, script: &ScriptBuf) {
        self.chain.mine(blocks, script).unwrap();
    }

    pub fn mine(&self, blocks: u32, to: &str) {
        let addr: Address<bitcoin::address::NetworkUnchecked> = to.parse().unwrap();
        self.mine_to(blocks, &addr.assume_checked().script_pubkey());
    }

    /// Mine `blocks` one at a time, each seen (and acted on) by every node
    /// before the next: what a node broadcasts for a block makes the next one.
    pub async fn mine_synced(&self, blocks: u32, nodes: &[&NodeHandle]) {
        let burn = ScriptBuf::new_op_return([]);
        for _ in 0..blocks {
            self.mine_to(1, &burn);
            self.sync(nodes).await;
        }
    }

    /// Wait (bounded) until every node has processed the chain's tip.
    pub async fn sync(&self, nodes: &[&NodeHandle]) {
        let tip = self.height();
        for n in nodes {
            until(n, "getinfo", json!({}), |v| v["blockheight"] == tip).await;
        }
    }
}

pub async fn call(n: &NodeHandle, method: &str, params: Value) -> Value {
    let v = try_call(n, method, params.clone())
        .await
        .unwrap_or_else(|e| panic!("{method} {params}: {e:?}"));
    assert_valid(method, &v);
    v
}

pub async fn try_call(
    n: &NodeHandle,
    method: &str,
    params: Value,
) -> Result<Value, lnkit::node::rpc::RpcError> {
    try_call_within(n, method, params, Duration::from_secs(60)).await
}

/// A call answered within `limit` (a call that waits on a protocol timer).
pub async fn try_call_within(
    n: &NodeHandle,
    method: &str,
    params: Value,
    limit: Duration,
) -> Result<Value, lnkit::node::rpc::RpcError> {
    tokio::time::timeout(limit, n.call(method, params.clone()))
        .await
        .unwrap_or_else(|_| panic!("{method} {params}: no answer in {limit:?}"))
}

/// Wait (bounded: 30 s; a loaded 2-core machine is slow, never stuck) until
/// `f` holds for the node's answer to `method`.
pub async fn until(
    n: &NodeHandle,
    method: &str,
    params: Value,
    f: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..1500 {
        let v = call(n, method, params.clone()).await;
        if f(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{method} never satisfied the condition: {}",
        call(n, method, params).await
    );
}

/// The sum of a node's confirmed wallet outputs, sat.
pub async fn wallet_sat(n: &NodeHandle) -> u64 {
    let f = call(n, "listfunds", json!({})).await;
    f["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "confirmed")
        .map(|o| o["amount_msat"].as_u64().unwrap() / 1000)
        .sum()
}

pub async fn new_address(n: &NodeHandle) -> String {
    call(n, "newaddr", json!({})).await["bech32"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `from` connects to `to` over loopback.
pub async fn connect(from: &NodeHandle, to: &NodeHandle) {
    call(
        from,
        "connect",
        json!({"id": format!("{}@{}", to.node_id, to.listen.unwrap())}),
    )
    .await;
}

/// The short channel id of `n`'s channel with `peer`.
pub async fn scid_of(n: &NodeHandle, peer: &NodeHandle) -> String {
    let v = call(n, "listpeerchannels", json!({})).await;
    v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["peer_id"] == peer.node_id.to_string())
        .unwrap()["short_channel_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Nodes funded, channels opened as listed (funder, peer, sat, public),
/// the public ones announced at 6 confirmations, and every node knowing
/// both directions of each.
pub async fn network(
    net: &Net,
    names: &[&str],
    channels: &[(usize, usize, u64, bool)],
) -> Vec<NodeHandle> {
    let mut nodes = vec![];
    for n in names {
        nodes.push(net.node(n, lnkit::channel::Config::default()).await);
    }
    for n in &nodes {
        let addr = new_address(n).await;
        net.mine(3, &addr);
    }
    net.mine(100, &new_address(&nodes[0]).await);
    let all: Vec<&NodeHandle> = nodes.iter().collect();
    net.sync(&all).await;
    for &(from, to, sat, public) in channels {
        connect(&nodes[from], &nodes[to]).await;
        call(
            &nodes[from],
            "fundchannel",
            json!({"id": nodes[to].node_id.to_string(), "amount": sat, "announce": public}),
        )
        .await;
    }
    net.mine_synced(6, &all).await;
    let public = channels.iter().filter(|c| c.3).count();
    for n in &all {
        until(n, "listchannels", json!({}), |v| {
            v["channels"].as_array().unwrap().len() == 2 * public
        })
        .await;
    }
    nodes
}
