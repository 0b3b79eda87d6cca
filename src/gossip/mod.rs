//! BOLT 7 "Routing Gossip", the receiving side, sans I/O: every
//! `channel_announcement`, `channel_update` and `node_announcement` a peer
//! sends is checked as the BOLT's receiver requirements say, then stored or
//! ignored. A `warning` is owed only where the BOLT says so: for a bad
//! signature or a message that does not decode. What is stored is what the
//! node forwards to its peers and what feeds the toolkit's [`Graph`].
//!
//! The chain is asked through [`FundingSource`] whether an announced
//! channel's funding output exists, pays the 2-of-2 of its bitcoin keys and
//! is unspent; answers that cannot change are cached.

pub mod announce;
mod held;
pub mod sync;

pub use held::{HeldGossip, Sender, EARLY_SECS, MAX_EARLY, MAX_HELD};

use std::collections::{BTreeMap, HashMap};

use bitcoin::secp256k1::{PublicKey, Secp256k1, VerifyOnly};
use bitcoin::{Amount, Block, OutPoint, ScriptBuf};

use crate::graph::{self, Graph, Policy};
use crate::wire::gossip as sig;
use crate::wire::message::{self, Message, Value};

/// BOLT 7 "Recommendations for Channel Updates": a channel whose newest
/// update is older than two weeks MAY be pruned.
pub const STALE_AFTER_SECS: u64 = 14 * 24 * 3600;
/// An update further than this in the future is "unreasonably far" (BOLT 7 MAY discard it).
pub const FUTURE_SLACK_SECS: u64 = 24 * 3600;
/// BOLT 7: a channel whose funding output is spent is forgotten after a 72-block delay.
pub const SPENT_FORGET_BLOCKS: u32 = 72;

/// What the chain says of a funding output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FundingOutput {
    /// It exists and is unspent, with this many confirmations.
    Unspent {
        /// Where it is.
        outpoint: OutPoint,
        /// Its scriptPubKey.
        script_pubkey: ScriptBuf,
        /// Its value: the channel's capacity.
        amount: Amount,
        /// Confirmations.
        confirmations: u32,
    },
    /// It existed and is spent.
    Spent,
    /// No such output (no such block, transaction or index).
    Missing,
    /// The chain could not be asked now.
    Unavailable,
}

/// The chain lookups gossip needs.
pub trait FundingSource {
    /// The output a short channel id names.
    fn funding_output(&mut self, scid: u64) -> FundingOutput;
}

/// What became of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Stored, and to be forwarded to peers that asked for gossip.
    Accepted,
    /// Ignored as the BOLT says (stale, a duplicate, unknown, spent, rate-limited...).
    Ignored(String),
    /// Ignored, and the peer SHOULD get a `warning` with this text.
    Warning(String),
}

/// A per-peer limit: at most `per_second` messages in any second, with `burst` more allowed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained rate.
    pub per_second: u32,
    /// Extra allowance (an initial sync arrives in a burst).
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        // Outside a sync we asked for (whose answers `ingest` takes
        // unmetered, as many as we asked), a peer relays what the network
        // sends: channels refresh their updates at most about once a day
        // (BOLT 7 keepalive) plus fee changes, which over ~50,000 mainnet
        // channels is a few messages a second, batched by each relayer's
        // flush (60 s in Core Lightning, 90 s in LND): a flush of a busy
        // minute is a few thousand. So: 50 a second, and a burst of 5,000.
        RateLimit {
            per_second: 50,
            burst: 5_000,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: u64,
}

/// One direction's newest `channel_update`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateEntry {
    /// Its `timestamp`.
    pub timestamp: u32,
    /// Its policy.
    pub policy: Policy,
    /// The message, as received.
    pub raw: Vec<u8>,
}

/// A channel known from its `channel_announcement`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelEntry {
    /// `node_id_1`.
    pub node_1: PublicKey,
    /// `node_id_2`.
    pub node_2: PublicKey,
    /// The funding output's value.
    pub capacity: Amount,
    /// The funding output, watched for its spend.
    pub outpoint: OutPoint,
    /// The announcement, as received.
    pub raw: Vec<u8>,
    /// When it was first accepted (seconds since 1970).
    pub received_at: u64,
    /// The two directions' updates: `[from node_1, from node_2]`.
    pub updates: [Option<UpdateEntry>; 2],
    /// The height its funding output was seen spent at.
    pub spent_at: Option<u32>,
}

/// A node known from a `channel_announcement`, with its newest `node_announcement`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeEntry {
    /// The newest `timestamp`.
    pub timestamp: u32,
    /// `alias`, its NUL padding trimmed.
    pub alias: String,
    /// `rgb_color`.
    pub color: [u8; 3],
    /// The announcement, as received.
    pub raw: Option<Vec<u8>>,
}

/// The gossip a node has accepted.
pub struct GossipStore {
    chain_hash: [u8; 32],
    secp: Secp256k1<VerifyOnly>,
    /// Channels by short channel id.
    pub channels: BTreeMap<u64, ChannelEntry>,
    /// Nodes with at least one announced channel.
    pub nodes: BTreeMap<PublicKey, NodeEntry>,
    /// Funding answers that cannot change any more (found unspent: its script and value; or spent).
    funding_cache: HashMap<u64, FundingOutput>,
    limit: RateLimit,
    buckets: HashMap<PublicKey, Bucket>,
    by_outpoint: HashMap<OutPoint, u64>,
    live: LiveGraph,
    held: HeldGossip,
}

/// The router's graph, kept current behind the store. A policy change of a
/// direction the graph already holds is written in place (the CSR arrays
/// stay as they are); anything that changes the topology marks it stale,
/// and it is rebuilt at its next use.
#[derive(Default)]
struct LiveGraph {
    graph: Graph,
    stale: bool,
    channel_index: HashMap<u64, usize>,
    node_index: HashMap<PublicKey, usize>,
    rebuilds: u64,
    in_place: u64,
}

/// How the live graph has been kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveGraphStats {
    /// Full rebuilds.
    pub rebuilds: u64,
    /// Changes written in place.
    pub in_place: u64,
}

fn field<'a>(m: &'a Message, name: &str) -> Option<&'a Value> {
    m.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

fn uint(m: &Message, name: &str) -> u64 {
    match field(m, name) {
        Some(Value::Uint(x)) | Some(Value::Scid(x)) => *x,
        _ => 0,
    }
}

fn point(m: &Message, name: &str) -> Option<PublicKey> {
    match field(m, name) {
        Some(Value::Point(p)) => Some(*p),
        _ => None,
    }
}

fn bytes<'a>(m: &'a Message, name: &str) -> &'a [u8] {
    match field(m, name) {
        Some(Value::Bytes(b)) => b,
        _ => &[],
    }
}

fn ignored(why: impl Into<String>) -> Verdict {
    Verdict::Ignored(why.into())
}

impl GossipStore {
    /// An empty store for the chain whose genesis hash (BOLT 7 `chain_hash` byte order) is `chain_hash`.
    pub fn new(chain_hash: [u8; 32], limit: RateLimit) -> Self {
        GossipStore {
            chain_hash,
            secp: Secp256k1::verification_only(),
            channels: BTreeMap::new(),
            nodes: BTreeMap::new(),
            funding_cache: HashMap::new(),
            limit,
            buckets: HashMap::new(),
            by_outpoint: HashMap::new(),
            live: LiveGraph {
                stale: true,
                ..LiveGraph::default()
            },
            held: HeldGossip::default(),
        }
    }

    /// Take one token from `peer`'s bucket.
    fn admit(&mut self, peer: &PublicKey, now: u64) -> bool {
        let limit = self.limit;
        let b = self.buckets.entry(*peer).or_insert(Bucket {
            tokens: f64::from(limit.burst) + f64::from(limit.per_second),
            at: now,
        });
        let cap = f64::from(limit.burst) + f64::from(limit.per_second);
        b.tokens =
            (b.tokens + (now.saturating_sub(b.at) as f64) * f64::from(limit.per_second)).min(cap);
        b.at = now;
        if b.tokens < 1.0 {
            return false;
        }
        b.tokens -= 1.0;
        true
    }

    /// Check and store one gossip message from `peer` (none: our own) at `now` (seconds since 1970).
    pub fn ingest(
        &mut self,
        peer: Option<&PublicKey>,
        raw: &[u8],
        now: u64,
        chain: &mut dyn FundingSource,
    ) -> Verdict {
        self.ingest_metered(peer, raw, now, chain, true)
    }

    /// [`Self::ingest`], with the peer's rate limit applied or not (not:
    /// answers to a query of ours, which we asked for).
    pub fn ingest_metered(
        &mut self,
        peer: Option<&PublicKey>,
        raw: &[u8],
        now: u64,
        chain: &mut dyn FundingSource,
        metered: bool,
    ) -> Verdict {
        if let Some(p) = peer.filter(|_| metered) {
            if !self.admit(p, now) {
                return ignored("over the peer's gossip rate limit");
            }
        }
        let m = match message::decode(raw) {
            Ok(m) => m,
            Err(e) => return Verdict::Warning(format!("gossip does not decode: {e}")),
        };
        match m.typ {
            256 => {
                let verdict = self.channel_announcement(&m, raw, now, chain, peer.copied());
                if verdict == Verdict::Accepted {
                    let released = self.release_early(uint(&m, "short_channel_id"), now);
                    let r = &mut self.held.released;
                    r.extend(released);
                    r.drain(..r.len().saturating_sub(MAX_EARLY));
                }
                verdict
            }
            257 => match self.node_announcement(&m, raw) {
                Verdict::Ignored(why) => self
                    .hold_node(&m, raw, peer.copied())
                    .or_else(|| self.keep_early(&m, raw, peer.copied(), now))
                    .unwrap_or(Verdict::Ignored(why)),
                v => v,
            },
            258 => match self.channel_update(&m, raw, now) {
                Verdict::Ignored(why) => self
                    .hold_update(&m, raw, peer.copied())
                    .or_else(|| self.keep_early(&m, raw, peer.copied(), now))
                    .unwrap_or(Verdict::Ignored(why)),
                v => v,
            },
            t => ignored(format!("type {t} is not gossip this store takes")),
        }
    }

    fn signatures_valid(
        &self,
        m: &Message,
        raw: &[u8],
        update_signer: Option<&PublicKey>,
    ) -> Result<(), String> {
        let checks =
            sig::verify_decoded(&self.secp, m, raw, update_signer).map_err(|e| e.to_string())?;
        match checks.iter().find(|c| !c.valid) {
            Some(bad) => Err(format!(
                "{} is not a valid signature by {}",
                bad.field, bad.key
            )),
            None if checks.is_empty() => Err("no signature to check".into()),
            None => Ok(()),
        }
    }

    fn lookup(&mut self, scid: u64, chain: &mut dyn FundingSource) -> FundingOutput {
        if let Some(known) = self.funding_cache.get(&scid) {
            return known.clone();
        }
        let answer = chain.funding_output(scid);
        match &answer {
            // Deep enough: its script and value cannot change (a reorg this deep is not expected).
            FundingOutput::Unspent { confirmations, .. } if *confirmations >= 6 => {
                self.funding_cache.insert(scid, answer.clone());
            }
            FundingOutput::Spent => {
                self.funding_cache.insert(scid, FundingOutput::Spent);
            }
            _ => {}
        }
        answer
    }

    /// BOLT 7 `channel_announcement`, receiver requirements, in their order.
    fn channel_announcement(
        &mut self,
        m: &Message,
        raw: &[u8],
        now: u64,
        chain: &mut dyn FundingSource,
        from: Sender,
    ) -> Verdict {
        if bytes(m, "chain_hash") != self.chain_hash {
            return ignored("channel_announcement for another chain");
        }
        let scid = uint(m, "short_channel_id");
        let (Some(n1), Some(n2), Some(k1), Some(k2)) = (
            point(m, "node_id_1"),
            point(m, "node_id_2"),
            point(m, "bitcoin_key_1"),
            point(m, "bitcoin_key_2"),
        ) else {
            return Verdict::Warning("channel_announcement: a key does not parse".into());
        };
        if let Some(known) = self.channels.get(&scid) {
            if known.raw == raw {
                return ignored("channel_announcement already known");
            }
        }
        if n1.serialize() >= n2.serialize() {
            return Verdict::Warning(
                "channel_announcement: node_id_1 is not the lesser of the two node ids".into(),
            );
        }
        // Cheapest check first: four signatures cost well under a
        // millisecond, a lookup several bitcoind calls (issue 35: forged
        // announcements made the node ask the chain before the signatures).
        if let Err(e) = self.signatures_valid(m, raw, None) {
            return Verdict::Warning(format!("channel_announcement: {e}"));
        }
        let (script, capacity, outpoint) = match self.lookup(scid, chain) {
            FundingOutput::Unspent {
                outpoint,
                script_pubkey,
                amount,
                confirmations,
            } => {
                // BOLT 7: SHOULD ignore below 6 confirmations, MAY accept one block short.
                if confirmations < 5 {
                    return ignored(format!(
                        "channel_announcement: the funding output has {confirmations} confirmations, 6 are needed"
                    ));
                }
                (script_pubkey, amount, outpoint)
            }
            FundingOutput::Spent => {
                return ignored("channel_announcement: the funding output is spent")
            }
            FundingOutput::Missing => {
                return ignored("channel_announcement: no such funding output on chain")
            }
            FundingOutput::Unavailable => return self.hold_announcement(m, raw, from),
        };
        if script != crate::script::funding_script(&k1, &k2).to_p2wsh() {
            return ignored(
                "channel_announcement: the funding output is not the 2-of-2 of its bitcoin keys",
            );
        }
        for n in [n1, n2] {
            self.nodes.entry(n).or_default();
        }
        self.by_outpoint.insert(outpoint, scid);
        self.channels.insert(
            scid,
            ChannelEntry {
                node_1: n1,
                node_2: n2,
                capacity,
                outpoint,
                raw: raw.to_vec(),
                received_at: now,
                updates: [None, None],
                spent_at: None,
            },
        );
        self.live.stale = true;
        Verdict::Accepted
    }

    /// BOLT 7 `channel_update`, receiver requirements.
    fn channel_update(&mut self, m: &Message, raw: &[u8], now: u64) -> Verdict {
        if bytes(m, "chain_hash") != self.chain_hash {
            return ignored("channel_update for another chain");
        }
        let scid = uint(m, "short_channel_id");
        let Some(ch) = self.channels.get(&scid) else {
            return ignored("channel_update for a channel not announced");
        };
        let flags = uint(m, "channel_flags");
        let dir = (flags & 1) as usize;
        let disabled = flags & 2 != 0;
        let signer = if dir == 0 { ch.node_1 } else { ch.node_2 };
        if let Err(e) = self.signatures_valid(m, raw, Some(&signer)) {
            return Verdict::Warning(format!("channel_update: {e}"));
        }
        if ch.spent_at.is_some() && !disabled {
            return ignored("channel_update of a spent channel that does not disable it");
        }
        let timestamp = uint(m, "timestamp") as u32;
        if u64::from(timestamp) > now + FUTURE_SLACK_SECS {
            return ignored("channel_update timestamped unreasonably far in the future");
        }
        if u64::from(timestamp) + STALE_AFTER_SECS < now {
            return ignored("channel_update older than two weeks");
        }
        if let Some(old) = &ch.updates[dir] {
            if timestamp == old.timestamp {
                return ignored(if old.raw == raw {
                    "channel_update already known"
                } else {
                    "channel_update with the same timestamp and other fields"
                });
            }
            if timestamp < old.timestamp {
                return ignored("channel_update older than the one known");
            }
        }
        let policy = Policy::from_update(m);
        let ch = self.channels.get_mut(&scid).expect("found above");
        ch.updates[dir] = Some(UpdateEntry {
            timestamp,
            policy,
            raw: raw.to_vec(),
        });
        self.live.set_policy(scid, dir, policy);
        Verdict::Accepted
    }

    /// BOLT 7 `node_announcement`, receiver requirements.
    fn node_announcement(&mut self, m: &Message, raw: &[u8]) -> Verdict {
        let Some(id) = point(m, "node_id") else {
            return Verdict::Warning("node_announcement: node_id is not a valid point".into());
        };
        if let Err(e) = self.signatures_valid(m, raw, None) {
            return Verdict::Warning(format!("node_announcement: {e}"));
        }
        let timestamp = uint(m, "timestamp") as u32;
        let Some(node) = self.nodes.get_mut(&id) else {
            return ignored("node_announcement of a node with no announced channel");
        };
        if node.raw.is_some() && timestamp <= node.timestamp {
            return ignored("node_announcement not newer than the one known");
        }
        node.timestamp = timestamp;
        node.alias = String::from_utf8_lossy(bytes(m, "alias"))
            .trim_end_matches('\0')
            .to_string();
        node.color = bytes(m, "rgb_color").try_into().unwrap_or([0; 3]);
        node.raw = Some(raw.to_vec());
        let alias = node.alias.clone();
        if let Some(&i) = self.live.node_index.get(&id) {
            self.live.graph.aliases[i] = alias;
        }
        Verdict::Accepted
    }

    /// A block joined the chain: channels whose funding it spends are
    /// marked spent (BOLT 7: forgotten after 72 blocks, not forwarded).
    pub fn block_connected(&mut self, block: &Block, height: u32) {
        for tx in &block.txdata {
            for input in &tx.input {
                if let Some(scid) = self.by_outpoint.get(&input.previous_output).copied() {
                    self.funding_spent(scid, height);
                }
            }
        }
    }

    /// A block left the chain: a spend it held is undone.
    pub fn block_disconnected(&mut self, height: u32) {
        for (scid, c) in self.channels.iter_mut() {
            if c.spent_at.is_some_and(|h| h >= height) {
                c.spent_at = None;
                self.funding_cache.remove(scid);
                self.live.stale = true;
            }
        }
    }

    /// The follower saw the funding output of `scid` spent at `height`.
    pub fn funding_spent(&mut self, scid: u64, height: u32) {
        self.funding_cache.insert(scid, FundingOutput::Spent);
        if let Some(c) = self.channels.get_mut(&scid) {
            c.spent_at.get_or_insert(height);
            // Out of the router's graph at once: both directions disabled in place.
            for dir in 0..2 {
                let mut p = c.updates[dir]
                    .as_ref()
                    .map(|u| u.policy)
                    .unwrap_or_default();
                p.enabled = false;
                self.live.set_policy(scid, dir, p);
            }
        }
    }

    /// BOLT 7's pruning at `now` and chain height `height`: channels spent 72
    /// blocks ago, and channels whose directions are all older than two
    /// weeks (or, never updated, announced more than two weeks ago). Nodes
    /// left without a channel go too. Returns the channels removed.
    pub fn prune(&mut self, now: u64, height: u32) -> Vec<u64> {
        let stale = |c: &ChannelEntry| {
            let newest = c
                .updates
                .iter()
                .flatten()
                .map(|u| u64::from(u.timestamp))
                .max()
                .unwrap_or(c.received_at);
            newest + STALE_AFTER_SECS < now
        };
        let gone: Vec<u64> = self
            .channels
            .iter()
            .filter(|(_, c)| {
                c.spent_at
                    .is_some_and(|h| h + SPENT_FORGET_BLOCKS <= height)
                    || stale(c)
            })
            .map(|(scid, _)| *scid)
            .collect();
        for scid in &gone {
            if let Some(c) = self.channels.remove(scid) {
                self.by_outpoint.remove(&c.outpoint);
            }
        }
        if !gone.is_empty() {
            self.live.stale = true;
        }
        let live: std::collections::HashSet<PublicKey> = self
            .channels
            .values()
            .flat_map(|c| [c.node_1, c.node_2])
            .collect();
        self.nodes.retain(|id, _| live.contains(id));
        gone
    }

    /// The live graph the router uses: current with every accepted message,
    /// rebuilt only when the topology changed since it was last built.
    pub fn graph(&mut self) -> &Graph {
        if self.live.stale {
            let graph = self.to_graph();
            self.live.channel_index = graph
                .channels
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.short_channel_id.map(|s| (s, i)))
                .collect();
            self.live.node_index = graph
                .pubkeys
                .iter()
                .enumerate()
                .filter_map(|(i, p)| PublicKey::from_slice(p).ok().map(|k| (k, i)))
                .collect();
            self.live.graph = graph;
            self.live.stale = false;
            self.live.rebuilds += 1;
        }
        &self.live.graph
    }

    /// How the live graph has been kept up to date.
    pub fn graph_stats(&self) -> LiveGraphStats {
        LiveGraphStats {
            rebuilds: self.live.rebuilds,
            in_place: self.live.in_place,
        }
    }

    /// The chain this store takes gossip for (BOLT 7 `chain_hash` byte order).
    pub fn chain_hash(&self) -> [u8; 32] {
        self.chain_hash
    }

    /// The toolkit's graph of everything stored (spent channels excluded), indexed for the router.
    pub fn to_graph(&self) -> Graph {
        let mut index: HashMap<PublicKey, u32> = HashMap::new();
        let mut g = Graph::default();
        let mut node = |g: &mut Graph, p: PublicKey| -> u32 {
            *index.entry(p).or_insert_with(|| {
                g.pubkeys.push(p.serialize());
                g.aliases.push(
                    self.nodes
                        .get(&p)
                        .map(|n| n.alias.clone())
                        .unwrap_or_default(),
                );
                (g.pubkeys.len() - 1) as u32
            })
        };
        for (scid, c) in self.channels.iter().filter(|(_, c)| c.spent_at.is_none()) {
            let (a, b) = (node(&mut g, c.node_1), node(&mut g, c.node_2));
            g.channels.push(graph::Channel {
                node_1: a,
                node_2: b,
                short_channel_id: Some(*scid),
                capacity_sat: c.capacity.to_sat(),
            });
            for u in &c.updates {
                g.policies
                    .push(u.as_ref().map(|u| u.policy).unwrap_or_default());
            }
        }
        g.index();
        g
    }
}

impl LiveGraph {
    /// A direction's new policy: in place when the graph already routes over
    /// that direction, else the graph is stale.
    fn set_policy(&mut self, scid: u64, dir: usize, policy: Policy) {
        if self.stale {
            return;
        }
        match self.channel_index.get(&scid) {
            Some(&i) if self.graph.policies[2 * i + dir].present => {
                self.graph.policies[2 * i + dir] = policy;
                self.in_place += 1;
            }
            _ => self.stale = true,
        }
    }
}

/// [`FundingSource`] over any [`crate::chain::ChainSource`]: the short
/// channel id names a block height, a transaction index in it and an
/// output index (BOLT 7); the UTXO set says whether it is spent.
pub struct ChainFunding<'a, C: crate::chain::ChainSource + ?Sized>(pub &'a C);

impl<C: crate::chain::ChainSource + ?Sized> FundingSource for ChainFunding<'_, C> {
    fn funding_output(&mut self, scid: u64) -> FundingOutput {
        let (height, index, vout) = (
            (scid >> 40) as u32,
            ((scid >> 16) & 0xff_ffff) as usize,
            (scid & 0xffff) as u32,
        );
        let chain = self.0;
        let Ok(tip) = chain.best_block() else {
            return FundingOutput::Unavailable;
        };
        let hash = match chain.block_hash(height) {
            Ok(Some(h)) => h,
            Ok(None) => return FundingOutput::Missing,
            Err(_) => return FundingOutput::Unavailable,
        };
        let Ok(block) = chain.block(&hash) else {
            return FundingOutput::Unavailable;
        };
        let Some(tx) = block.txdata.get(index) else {
            return FundingOutput::Missing;
        };
        let Some(out) = tx.output.get(vout as usize) else {
            return FundingOutput::Missing;
        };
        match chain.utxo(&bitcoin::OutPoint::new(tx.compute_txid(), vout)) {
            Ok(Some(_)) => FundingOutput::Unspent {
                outpoint: bitcoin::OutPoint::new(tx.compute_txid(), vout),
                script_pubkey: out.script_pubkey.clone(),
                amount: out.value,
                confirmations: tip.height.saturating_sub(height) + 1,
            },
            Ok(None) => FundingOutput::Spent,
            Err(_) => FundingOutput::Unavailable,
        }
    }
}
