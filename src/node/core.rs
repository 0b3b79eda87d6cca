//! The node's driver: one task owns every channel, the store and the
//! wallet, and takes inputs one at a time (peer messages, RPC calls, timers,
//! blocks). For each channel step it commits the store, then sends: a
//! message never leaves before the state it depends on is durable.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use bitcoin::{Address, Amount, Block, FeeRate, Network, ScriptBuf, Transaction, Txid};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::datadir::{network_name, Datadir, DatadirError, Lock};
use super::features;
use super::pay::{self, Decision};
use super::peer::{self, PeerEvent, PeerHandle};
use super::rpc::{self, RpcError};
use super::store::{ForwardRecord, InvoiceRecord, PaymentRecord, Store, StoreError};
use super::wallet::{Wallet, WalletError};
use crate::amount::Msat;
use crate::chain::follower::{ChainListener, Follower};
use crate::chain::BlockRef;
use crate::channel::{
    self, channel_type_from_bits, Action, Channel, ChannelId, ChannelMessage, CommandError, Event,
    Negotiated, OpenRequest, Outcome, Phase,
};
use crate::payment::{CltvExpiry, PaymentHash, PaymentPreimage};
use crate::signer::{ChannelSigner, NodeSeed, NodeSigner};
use crate::tx::commitment::{ChannelType, FeeratePerKw, Side};
use crate::wire::message::{self as wire_msg, Message, Value as WireValue};
use crate::wire::tlv::DecodedRecord;

mod announce;
mod forwarding;
mod gossip;
mod hold;
mod payments;
mod rebalance;
mod receive;
mod resolve;
mod towers;

pub use crate::chain::SharedChain;

/// How a node runs.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Its data directory.
    pub datadir: Datadir,
    /// Its network.
    pub network: Network,
    /// Where to listen for peers (none: outgoing connections only).
    pub listen: Option<SocketAddr>,
    /// `node_announcement` alias (and log name).
    pub alias: String,
    /// The batching window: updates within it share one commitment round.
    pub commit_time: Duration,
    /// How often the chain is polled.
    pub poll_interval: Duration,
    /// Channel policy.
    pub channel: channel::Config,
    /// Developer methods (`dev-broadcast-revoked`); off by default.
    pub dev: bool,
    /// BOLT 7: what we announce, and how often gossip moves.
    pub gossip: GossipOptions,
    /// Watchtowers (teos's HTTP API) that get an appointment for every
    /// commitment a peer revokes (`--tower URL`).
    pub towers: Vec<String>,
    /// The feerate of the penalties handed to towers (`--tower-feerate-per-kw`).
    pub tower_feerate: FeeratePerKw,
}

/// The feerate of a tower's penalty unless told: 10 sat/vB, LND's wtclient default.
pub const DEFAULT_TOWER_FEERATE: FeeratePerKw = FeeratePerKw(2_500);

/// The node's BOLT 7 settings.
#[derive(Clone, Debug)]
pub struct GossipOptions {
    /// The staggered broadcast's period (BOLT 7: SHOULD flush every 60 seconds).
    pub flush: Duration,
    /// A peer away this long has its announced channels disabled.
    pub disable_after: Duration,
    /// `node_announcement` addresses (none: the listen address, if it names a host).
    pub addresses: Vec<crate::gossip::announce::NetAddress>,
    /// `rgb_color` (none: the node id's first three bytes after the parity, as Core Lightning does).
    pub color: Option<[u8; 3]>,
    /// Our announced updates and node announcement are made again this long
    /// after the last one (13 days: receivers prune after two weeks, BOLT 7).
    pub keepalive: Duration,
}

impl Default for GossipOptions {
    fn default() -> Self {
        GossipOptions {
            flush: Duration::from_secs(60),
            disable_after: Duration::from_secs(60),
            addresses: vec![],
            color: None,
            keepalive: Duration::from_secs(crate::gossip::announce::KEEPALIVE_SECS),
        }
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The datadir.
    #[error(transparent)]
    Datadir(#[from] DatadirError),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The wallet.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// The chain.
    #[error("chain: {0}")]
    Chain(#[from] crate::chain::ChainError),
    /// A socket.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// A running node.
pub struct NodeHandle {
    /// Its id.
    pub node_id: PublicKey,
    /// Where it listens, once bound.
    pub listen: Option<SocketAddr>,
    /// Its control socket.
    pub socket: std::path::PathBuf,
    inputs: mpsc::UnboundedSender<Input>,
    done: oneshot::Receiver<()>,
}

impl NodeHandle {
    /// Call a method in process (the demo, and tests): the same path as the socket.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let (reply, rx) = oneshot::channel();
        self.inputs
            .send(Input::Rpc {
                method: method.to_string(),
                params,
                reply,
            })
            .map_err(|_| RpcError::failed("the node has stopped"))?;
        rx.await
            .map_err(|_| RpcError::failed("the node has stopped"))?
    }

    /// Wait until the node has stopped.
    pub async fn stopped(self) {
        let _ = self.done.await;
    }
}

type Reply = oneshot::Sender<Result<Value, RpcError>>;

enum Input {
    Peer(PeerEvent),
    /// A chain lookup for gossip, answered off the main loop.
    Funding(gossip::LookupAnswer),
    Handshaked {
        stream: TcpStream,
        transport: crate::wire::noise::Transport,
        address: String,
        outbound: bool,
    },
    ConnectFailed {
        node_id: PublicKey,
        error: String,
    },
    Tower(super::watchtower::Report),
    Rpc {
        method: String,
        params: Value,
        reply: Reply,
    },
}

struct PeerState {
    handle: PeerHandle,
    address: String,
    /// When the connection was made (its `init` is due within `INIT_TIMEOUT`).
    connected_at: Instant,
    init: Option<Vec<u8>>,
    negotiated: Negotiated,
    last_ping: Instant,
    ping_outstanding: Option<Instant>,
    /// The peer's pings in the current `PING_PERIOD`.
    pings: Window,
    /// Where our last pong ends in the stream we send: a ping is not
    /// answered while it is unsent.
    last_pong: u64,
    /// Gossip of the peer that failed its checks, recently (`MAX_GOSSIP_FAULTS`).
    faults: Window,
    /// When the last message came (a live connection is kept over a new duplicate).
    last_recv: Instant,
    gossip: gossip::PeerGossip,
}

/// BOLT 1: a `ping` every so often, and a peer silent past the timeout is dropped.
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(30);
/// BOLT 1 "Limited precautions are recommended against `ping` flooding":
/// per period, at most `PINGS_ANSWERED` pings are answered, with at most
/// `PONG_BYTES` of pong between them; the rest are ignored. A peer that
/// sends more than `PINGS_TOLERATED` in a period (honest ones send one per
/// 30 s to one per 10 s) is disconnected with a `warning`.
const PING_PERIOD: Duration = Duration::from_secs(30);
const PINGS_ANSWERED: u32 = 10;
const PONG_BYTES: usize = 128 * 1024;
const PINGS_TOLERATED: u32 = 100;
/// A peer that finished the handshake has this long to send `init` (BOLT 1:
/// it is the first message).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// A peer that leaves what we send unread this long is disconnected.
const WRITE_STALL: Duration = Duration::from_secs(30);
/// Connections from peers without a channel with us, at most: in all, and
/// from one IP address (as LDK and Core Lightning cap them). Peers with
/// channels, and those we dialled, are never refused.
const MAX_PEERS_WITHOUT_CHANNELS: usize = 100;
const MAX_PEERS_PER_IP: usize = 8;
/// Handshakes under way at once, at most; a connection past it is closed at once.
const MAX_HANDSHAKES: usize = 64;

/// What a peer did in the current period of a limit: how many times, and
/// how many bytes it cost. A new period starts from zero.
#[derive(Clone, Copy, Debug)]
struct Window {
    since: Instant,
    count: u32,
    bytes: usize,
}

impl Window {
    fn new() -> Self {
        Window {
            since: Instant::now(),
            count: 0,
            bytes: 0,
        }
    }

    /// One more within `period` (a new period if the last one is over):
    /// the count so far.
    fn hit(&mut self, period: Duration) -> u32 {
        if self.since.elapsed() >= period {
            *self = Window::new();
        }
        self.count += 1;
        self.count
    }
}

/// Gossip from a peer that failed its checks (a bad signature, a message
/// that does not decode, a funding output that does not exist), counted
/// over `FAULT_PERIOD` (a [`Window`]): past `MAX_GOSSIP_FAULTS`, the peer
/// is disconnected. Honest peers send such gossip rarely (a reorg, a bug);
/// a flood of it is an attack on our CPU and on bitcoind.
const FAULT_PERIOD: Duration = Duration::from_secs(60);
const MAX_GOSSIP_FAULTS: u32 = 20;
/// How often the opener compares its commitments' feerate with the chain's.
const FEE_CHECK_INTERVAL: Duration = Duration::from_secs(5);

struct Core {
    opts: NodeOptions,
    seed: NodeSeed,
    node_signer: NodeSigner,
    node_id: PublicKey,
    secp: Secp256k1<All>,
    chain: SharedChain,
    follower: Follower,
    store: Store,
    wallet: Wallet,
    channels: BTreeMap<ChannelId, Channel>,
    signers: HashMap<u64, ChannelSigner>,
    peers: HashMap<PublicKey, PeerState>,
    addresses: HashMap<PublicKey, String>,
    next_conn: u64,
    inputs: mpsc::UnboundedSender<Input>,
    /// Where connections deliver their peers' messages.
    inboxes: peer::Inboxes,
    /// Gossip's chain lookups: answers kept, and those under way.
    lookups: gossip::Lookups,
    pending_connect: HashMap<PublicKey, Vec<Reply>>,
    /// Peers we are dialling now: one dial per peer, so that `connect` racing the
    /// reconnect timer never opens a second connection (LDK drops a second one).
    dialing: HashSet<PublicKey>,
    pending_open: HashMap<ChannelId, Reply>,
    /// Payments under way (their loop, parts and waiting `pay` call), by hash.
    outgoing: HashMap<PaymentHash, payments::Outgoing>,
    /// The payment each of our HTLCs in flight is a part of.
    parts: HashMap<(ChannelId, u64), PaymentHash>,
    /// Payments whose parts ended in the last step: answered or retried after it.
    payments_due: Vec<PaymentHash>,
    /// What our payments have taught us of the network's liquidity.
    knowledge: crate::mpp::learn::Knowledge<payments::DirKey>,
    /// Payment records to commit with the next channel step (the HTLC's own).
    staged_payments: Vec<PaymentRecord>,
    /// Invoices paid by a fulfil about to be made: stored in that step's transaction.
    staged_invoices: Vec<InvoiceRecord>,
    /// Forwards to store with the next channel step (the outgoing HTLC's, or the refusal's).
    staged_forwards: Vec<ForwardRecord>,
    /// Incoming HTLCs to forward once the step that committed them is stored and sent.
    forwards_due: Vec<forwarding::DueForward>,
    pending_close: HashMap<ChannelId, (Reply, Instant)>,
    funding_seen: HashMap<Txid, (u32, u32)>,
    /// Channels the peer force-closed with no HTLC at stake: our commitment
    /// waits (since this height) while theirs may confirm (`resolve.rs`).
    awaiting_theirs: HashMap<ChannelId, u32>,
    /// The network's gossip (BOLT 7).
    gossip: crate::gossip::GossipStore,
    /// Gossip waiting for the next flush.
    outbox: gossip::Outbox,
    next_gossip_flush: Instant,
    /// Channels whose `announcement_signatures` went out on this connection.
    announcement_sigs_sent: HashSet<ChannelId>,
    /// Peers with channels, gone since then (their channels get disabled).
    offline_since: HashMap<PublicKey, Instant>,
    /// Batching: since when each channel has had an update in no
    /// commitment we signed (its window runs from then).
    unsigned_since: HashMap<ChannelId, Instant>,
    /// While a group of inputs is handled: the messages and answers that
    /// wait for the group's one store commit (nothing leaves before it is durable).
    held: Option<Held>,
    /// Multi-part payments to us, held until whole (BOLT 4), by hash.
    mpp_sets: HashMap<PaymentHash, receive::MppSet>,
    /// When each HTLC held for a hold invoice arrived (its hold time goes
    /// back with the fulfil; lost on a restart, when 0 is reported).
    held_since: HashMap<(ChannelId, u64), Instant>,
    reconnect: HashMap<PublicKey, (Instant, Duration)>,
    listen: Option<SocketAddr>,
    next_fee_check: Instant,
    stop: Option<Reply>,
    /// Watchtowers: each one's task, and what we know of it.
    towers: towers::Towers,
    _lock: Lock,
}

/// Inputs handled in one group at most (then the group commits, and the rest wait).
const GROUP_INPUTS: usize = 256;

/// Why the node's loop woke.
enum Wake {
    Input(Box<Input>),
    Poll,
    Housekeeping,
    Commit,
}

/// What a group of inputs sends and answers, held until its commit.
#[derive(Default)]
struct Held {
    sends: Vec<(PublicKey, Vec<u8>)>,
    replies: Vec<(Reply, Result<Value, RpcError>)>,
    /// Channels changed in the group: each is written once, at its commit
    /// (a burst of a hundred updates is one write of the channel, not a hundred).
    channels: BTreeSet<ChannelId>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random32() -> [u8; 32] {
    bitcoin::secp256k1::rand::random()
}

/// Start a node on `chain`. The lock, the seed, the stores and both
/// sockets are taken before this returns.
pub async fn start(opts: NodeOptions, chain: SharedChain) -> Result<NodeHandle, NodeError> {
    let lock = opts.datadir.lock()?;
    let seed = NodeSeed::new(&opts.datadir.seed()?, opts.network);
    let store = Store::open(&opts.datadir.path("lnkit.sqlite"))?;
    let wallet = Wallet::open(&opts.datadir.path("wallet.sqlite"), &seed)?;
    let tip = match (store.meta("tip_height")?, store.meta("tip_hash")?) {
        (Some(h), Some(hash)) => BlockRef {
            height: h.parse().unwrap_or(0),
            hash: hash.parse().map_err(|_| {
                NodeError::Chain(crate::chain::ChainError::Invalid("stored tip".into()))
            })?,
        },
        // A new node starts at the chain's tip: nothing of ours is older.
        _ => tokio::task::block_in_place(|| chain.best_block())?,
    };
    let mut channels = BTreeMap::new();
    for mut ch in store.channels()? {
        // A restart is a disconnection (BOLT 2): uncommitted updates are reversed.
        let signer = seed
            .channel(ch.key_index)
            .expect("stored indexes are valid");
        let _ = ch.handle(&signer, Event::Disconnected);
        channels.insert(ch.id, ch);
    }
    let addresses = store
        .peers()?
        .into_iter()
        .filter_map(|(id, addr)| Some((PublicKey::from_slice(&id).ok()?, addr)))
        .collect();
    let (inputs, mut rx) = mpsc::unbounded_channel();
    let (urgent, mut urgent_rx) = mpsc::unbounded_channel();
    let (bulk, mut bulk_rx) = mpsc::unbounded_channel();
    let listen = match opts.listen {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| NodeError::Io(format!("listen on {addr}"), e))?;
            let bound = l
                .local_addr()
                .map_err(|e| NodeError::Io("listen".into(), e))?;
            spawn_listener(l, seed.node(), inputs.clone());
            Some(bound)
        }
        None => None,
    };
    let socket = opts.datadir.socket_path();
    let _ = std::fs::remove_file(&socket);
    let unix =
        UnixListener::bind(&socket).map_err(|e| NodeError::Io(socket.display().to_string(), e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| NodeError::Io(socket.display().to_string(), e))?;
    }
    spawn_rpc(unix, inputs.clone());
    let node_signer = seed.node();
    let node_id = seed.node_id();
    let mut core = Core {
        secp: Secp256k1::new(),
        follower: Follower::new(tip),
        chain,
        store,
        wallet,
        channels,
        signers: HashMap::new(),
        peers: HashMap::new(),
        addresses,
        next_conn: 0,
        inputs: inputs.clone(),
        inboxes: peer::Inboxes { urgent, bulk },
        lookups: gossip::Lookups::default(),
        pending_connect: HashMap::new(),
        dialing: HashSet::new(),
        pending_open: HashMap::new(),
        outgoing: HashMap::new(),
        parts: HashMap::new(),
        payments_due: vec![],
        knowledge: crate::mpp::learn::Knowledge::new(payments::LEARNING_HALF_LIFE_SECS),
        staged_payments: vec![],
        staged_invoices: vec![],
        staged_forwards: vec![],
        forwards_due: vec![],
        pending_close: HashMap::new(),
        funding_seen: HashMap::new(),
        awaiting_theirs: HashMap::new(),
        gossip: crate::gossip::GossipStore::new(
            bitcoin::constants::ChainHash::using_genesis_block(opts.network).to_bytes(),
            crate::gossip::RateLimit::default(),
        ),
        outbox: Default::default(),
        next_gossip_flush: Instant::now(),
        announcement_sigs_sent: HashSet::new(),
        offline_since: HashMap::new(),
        unsigned_since: HashMap::new(),
        held: None,
        mpp_sets: HashMap::new(),
        held_since: HashMap::new(),
        reconnect: HashMap::new(),
        listen,
        next_fee_check: Instant::now(),
        stop: None,
        towers: towers::Towers::default(),
        node_signer,
        node_id,
        seed,
        opts,
        _lock: lock,
    };
    core.funding_from_chain();
    core.load_gossip();
    core.node_announcement_at_start();
    core.redecide_incoming();
    core.await_theirs_after_restart();
    // Claims and commitments in flight go out again (a mempool may have lost them).
    core.drive_onchain();
    core.start_towers();
    info!(node_id = %node_id, listen = ?listen, height = core.follower.tip().height, "node started");
    let (done_tx, done) = oneshot::channel();
    tokio::spawn(async move {
        core.run(&mut rx, &mut urgent_rx, &mut bulk_rx).await;
        // Stopped means released: the datadir's lock and the stores go before the word does.
        drop(core);
        let _ = done_tx.send(());
    });
    Ok(NodeHandle {
        node_id,
        listen,
        socket,
        inputs,
        done,
    })
}

fn spawn_listener(l: TcpListener, signer: NodeSigner, inputs: mpsc::UnboundedSender<Input>) {
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let Ok((stream, addr)) = l.accept().await else {
                continue;
            };
            if inputs.is_closed() {
                return;
            }
            // Past the cap, a new connection is closed at once: stalled
            // handshakes cannot pile up (each lasts HANDSHAKE_TIMEOUT at most).
            let Ok(slot) = handshakes.clone().try_acquire_owned() else {
                debug!(
                    "inbound connection from {addr} closed: {MAX_HANDSHAKES} handshakes under way"
                );
                continue;
            };
            let (inputs, signer) = (inputs.clone(), signer.clone());
            tokio::spawn(async move {
                let done = peer::accept(stream, &signer).await;
                drop(slot);
                match done {
                    Ok((stream, transport)) => {
                        let _ = inputs.send(Input::Handshaked {
                            stream,
                            transport,
                            address: addr.to_string(),
                            outbound: false,
                        });
                    }
                    Err(e) => debug!("inbound handshake from {addr} failed: {e}"),
                }
            });
        }
    });
}

fn spawn_rpc(l: UnixListener, inputs: mpsc::UnboundedSender<Input>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = l.accept().await else {
                continue;
            };
            let inputs = inputs.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = stream.into_split();
                let mut lines = BufReader::new(rd).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let response = answer(&inputs, &line).await;
                    let mut out = serde_json::to_vec(&response).expect("JSON");
                    out.push(b'\n');
                    if wr.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

/// One JSON-RPC 2.0 request line to its response object.
async fn answer(inputs: &mpsc::UnboundedSender<Input>, line: &str) -> Value {
    let req: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("parse error: {e}")}})
        }
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = req.get("method").and_then(Value::as_str) else {
        return serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32600, "message": "method: a string is required"}});
    };
    let params = req.get("params").cloned().unwrap_or(Value::Null);
    let (reply, rx) = oneshot::channel();
    let sent = inputs.send(Input::Rpc {
        method: method.to_string(),
        params,
        reply,
    });
    let result = match sent {
        Ok(()) => rx
            .await
            .unwrap_or_else(|_| Err(RpcError::failed("the node has stopped"))),
        Err(_) => Err(RpcError::failed("the node has stopped")),
    };
    match result {
        Ok(v) => serde_json::json!({"jsonrpc": "2.0", "id": id, "result": v}),
        Err(e) => serde_json::json!({"jsonrpc": "2.0", "id": id, "error": e}),
    }
}

/// Collects what the follower delivers, to be applied after the poll.
#[derive(Default)]
struct Blocks {
    connected: Vec<(Block, u32)>,
    disconnected: Vec<u32>,
}

impl ChainListener for Blocks {
    fn block_connected(&mut self, block: &Block, height: u32) {
        self.connected.push((block.clone(), height));
    }
    fn block_disconnected(&mut self, _: &bitcoin::block::Header, height: u32) {
        self.disconnected.push(height);
    }
}

fn to_value<T: serde::Serialize>(v: T) -> Result<Value, RpcError> {
    Ok(serde_json::to_value(v).expect("responses serialize"))
}

fn scid_string(scid: u64) -> String {
    crate::wire::tlv::scid_to_string(scid)
}

/// A channel's full `channel_type`: its commitment format, with
/// `option_scid_alias` where it was negotiated in the type.
fn type_info(t: ChannelType, alias_only: bool) -> rpc::ChannelTypeInfo {
    let bits = crate::wire::features::bits(&channel::channel_type_bits_with(t, alias_only));
    rpc::ChannelTypeInfo {
        names: bits
            .iter()
            .map(|b| crate::wire::features::bit_name(*b))
            .collect(),
        bits,
    }
}

impl Core {
    async fn run(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Input>,
        urgent: &mut mpsc::UnboundedReceiver<PeerEvent>,
        bulk: &mut mpsc::UnboundedReceiver<PeerEvent>,
    ) {
        let mut poll = tokio::time::interval(self.opts.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut housekeeping = tokio::time::interval(Duration::from_millis(500));
        loop {
            let commit_at = self.next_commit();
            // RPC calls and peers with channels first; peers without
            // channels only when those are served.
            let wake = tokio::select! {
                biased;
                input = rx.recv() => match input {
                    Some(input) => Wake::Input(Box::new(input)),
                    None => return,
                },
                Some(e) = urgent.recv() => Wake::Input(Box::new(Input::Peer(e))),
                Some(e) = bulk.recv() => Wake::Input(Box::new(Input::Peer(e))),
                _ = poll.tick() => Wake::Poll,
                _ = housekeeping.tick() => Wake::Housekeeping,
                _ = async {
                    match commit_at {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                } => Wake::Commit,
            };
            self.begin_group();
            match wake {
                Wake::Input(input) => self.input(*input),
                Wake::Poll => self.poll_chain(),
                Wake::Housekeeping => self.housekeeping(),
                Wake::Commit => {}
            }
            if self.held.is_some() {
                // What has already arrived joins this group: one fsync for all of it.
                for _ in 0..GROUP_INPUTS {
                    if let Ok(input) = rx.try_recv() {
                        self.input(input);
                    } else if let Ok(e) = urgent.try_recv() {
                        self.input(Input::Peer(e));
                    } else if let Ok(e) = bulk.try_recv() {
                        self.input(Input::Peer(e));
                    } else {
                        break;
                    }
                }
            }
            self.commit_due();
            self.end_group();
            if let Some(reply) = self.stop.take() {
                for p in self.peers.values() {
                    p.handle.close(Duration::from_millis(100));
                }
                let _ = std::fs::remove_file(self.opts.datadir.socket_path());
                let _ = reply.send(to_value(rpc::StopResponse {
                    result: "Shutdown complete".into(),
                }));
                info!("node stopped");
                return;
            }
        }
    }

    /// Batching on (a commit window): the store writes of this wake-up
    /// share one transaction, and what they allow to leave waits for it.
    fn begin_group(&mut self) {
        if self.batching() {
            if let Err(e) = self.store.begin_group() {
                panic!("the store failed: {e}");
            }
            self.held = Some(Held::default());
        }
    }

    /// Commit the group (one fsync), then send and answer what waited for it.
    fn end_group(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        let channels = &mut self.channels;
        let written = self.store.batch().and_then(|mut b| {
            for id in &held.channels {
                if let Some(ch) = channels.get_mut(id) {
                    b.put_channel(ch)?;
                }
            }
            b.commit()
        });
        if let Err(e) = written.and_then(|()| self.store.end_group()) {
            // Nothing may leave that the store does not hold: stop here.
            panic!("the store failed; refusing to send what it does not hold: {e}");
        }
        for (peer, bytes) in held.sends {
            self.send_raw(&peer, bytes);
        }
        for (reply, result) in held.replies {
            let _ = reply.send(result);
        }
    }

    /// Whether updates are batched: a commit window (`--commit-time`) above
    /// zero. At zero, every update is signed on its own and every step is
    /// its own store transaction.
    fn batching(&self) -> bool {
        !self.opts.commit_time.is_zero()
    }

    /// Sign what is due, in this wake-up's group (without batching, the
    /// window is zero: whatever a step left unsigned).
    ///
    /// - Our own updates wait for the window, counted from the oldest one
    ///   not yet signed (through a round in flight too: the holding cell's
    ///   updates do not start a new window when its `revoke_and_ack` comes).
    /// - A `commitment_signed` we owe, for their updates that our commitment
    ///   already holds, goes at once, with whatever of ours is pending: the
    ///   peer batched those updates already, and holding the answer would add
    ///   a window to every payment's round trip (LDK answers at once too).
    fn commit_due(&mut self) {
        let now = Instant::now();
        let window = self.opts.commit_time;
        let mut due = vec![];
        let mut since = std::mem::take(&mut self.unsigned_since);
        for ch in self.channels.values() {
            if !ch.ledger.has_unsigned() {
                continue;
            }
            let t = *since.entry(ch.id).or_insert(now);
            if ch.needs_commit() && (ch.ledger.owes_commitment() || t + window <= now) {
                due.push(ch.id);
            }
        }
        since.retain(|id, _| {
            self.channels
                .get(id)
                .is_some_and(|c| c.ledger.has_unsigned() && !due.contains(id))
        });
        self.unsigned_since = since;
        for id in due {
            let _ = self.drive(id, Event::Commit);
        }
    }

    /// When the next window ends, among channels that could sign now (one
    /// with a round in flight signs when its `revoke_and_ack` comes).
    fn next_commit(&self) -> Option<Instant> {
        self.unsigned_since
            .iter()
            .filter(|(id, _)| self.channels.get(id).is_some_and(Channel::needs_commit))
            .map(|(_, t)| *t + self.opts.commit_time)
            .min()
    }

    fn signer(&mut self, index: u64) -> ChannelSigner {
        self.signers
            .entry(index)
            .or_insert_with(|| {
                self.seed
                    .channel(index)
                    .expect("channel indexes stay below 2^31")
            })
            .clone()
    }

    fn height(&self) -> u32 {
        self.follower.tip().height
    }

    fn input(&mut self, input: Input) {
        match input {
            Input::Peer(PeerEvent::Message(peer, conn, bytes, _inbound)) => {
                // `_inbound` returns the message's share of the peer's
                // inbound budget once it is handled.
                if let Some(p) = self.peers.get_mut(&peer).filter(|p| p.handle.conn == conn) {
                    p.last_recv = Instant::now();
                    self.on_peer_message(peer, &bytes);
                }
            }
            Input::Peer(PeerEvent::Drained(peer, conn)) => {
                if self.peers.get(&peer).map(|p| p.handle.conn) == Some(conn) {
                    self.pump_gossip(peer);
                }
            }
            Input::Funding(answer) => self.on_lookup_answer(answer),
            Input::Peer(PeerEvent::Closed(peer, conn, why)) => {
                if self.peers.get(&peer).map(|p| p.handle.conn) == Some(conn) {
                    debug!(%peer, "connection closed: {why}");
                    self.peer_gone(peer);
                }
            }
            Input::Handshaked {
                stream,
                transport,
                address,
                outbound,
            } => {
                if outbound {
                    self.dialing.remove(&transport.remote_static);
                }
                self.on_handshake(stream, transport, address, outbound)
            }
            Input::ConnectFailed { node_id, error } => {
                self.dialing.remove(&node_id);
                for reply in self.pending_connect.remove(&node_id).unwrap_or_default() {
                    let _ = reply.send(Err(RpcError {
                        code: 401,
                        message: error.clone(),
                    }));
                }
            }
            Input::Tower(report) => self.on_tower_report(report),
            Input::Rpc {
                method,
                params,
                reply,
            } => self.rpc(&method, params, reply),
        }
    }

    // ---- peers -------------------------------------------------------------

    fn on_handshake(
        &mut self,
        stream: TcpStream,
        transport: crate::wire::noise::Transport,
        address: String,
        outbound: bool,
    ) {
        let remote = transport.remote_static;
        if let Some(old) = self.peers.get(&remote) {
            if old.last_recv.elapsed() < PING_INTERVAL {
                // Both sides dialled at once (a reconnect racing `connect`): the live
                // connection stays and the new one is dropped, as LDK does; two
                // implementations that each replaced would lose both.
                debug!(peer = %remote, "a second connection while one is live: dropped");
                if let Some(response) = self.connect_response(&remote) {
                    for reply in self.pending_connect.remove(&remote).unwrap_or_default() {
                        let _ = reply.send(to_value(&response));
                    }
                }
                return;
            }
            // A quiet old connection is likely dead: the new one replaces it (BOLT 2: channels reestablish on it).
            self.peer_gone(remote);
        }
        let has_channel = self.has_channel_with(&remote);
        if !outbound && !has_channel {
            if let Some(why) = self.refuse_inbound(&address) {
                debug!(peer = %remote, %address, "inbound connection refused: {why}");
                return;
            }
        }
        self.next_conn += 1;
        let handle = peer::spawn(stream, transport, self.next_conn, self.inboxes.clone());
        handle.flow.set_priority(has_channel);
        if outbound {
            self.addresses.insert(remote, address.clone());
        }
        self.peers.insert(
            remote,
            PeerState {
                handle,
                address,
                connected_at: Instant::now(),
                init: None,
                negotiated: Negotiated::default(),
                last_ping: Instant::now(),
                ping_outstanding: None,
                pings: Window::new(),
                last_pong: 0,
                faults: Window::new(),
                last_recv: Instant::now(),
                gossip: Default::default(),
            },
        );
        // BOLT 1: `init` first, with our features and our chain.
        let chain = bitcoin::constants::ChainHash::using_genesis_block(self.opts.network);
        let init = Message {
            typ: 16,
            name: Some("init"),
            fields: vec![
                ("globalfeatures", WireValue::Features(vec![])),
                ("features", WireValue::Features(features::our_features())),
            ],
            tlvs: vec![DecodedRecord {
                typ: 1,
                name: None,
                fields: vec![],
                value: chain.to_bytes().to_vec(),
            }],
            raw: None,
        };
        self.send_raw(&remote, wire_msg::encode(&init).expect("init encodes"));
    }

    fn send_raw(&mut self, peer: &PublicKey, bytes: Vec<u8>) {
        if let Some(held) = &mut self.held {
            held.sends.push((*peer, bytes));
        } else if let Some(p) = self.peers.get(peer) {
            if p.handle.send(bytes).is_err() {
                // Its queue is full: the peer does not read what we send.
                warn!(%peer, "disconnecting: {} bytes queued for the peer and unread", peer::MAX_OUTBOUND);
                self.peer_gone(*peer);
            }
        }
    }

    /// Whether we have a channel (not closed) with `peer`.
    fn has_channel_with(&self, peer: &PublicKey) -> bool {
        self.channels
            .values()
            .any(|c| c.peer == *peer && c.phase != Phase::Closed)
    }

    /// Why a new inbound connection from a peer without a channel is
    /// refused, if it is: the caps on such connections, in all and per IP.
    fn refuse_inbound(&self, address: &str) -> Option<String> {
        let ip = |a: &str| a.parse::<SocketAddr>().ok().map(|s| s.ip());
        let without: Vec<&PeerState> = self
            .peers
            .iter()
            .filter(|(id, _)| !self.has_channel_with(id))
            .map(|(_, p)| p)
            .collect();
        if without.len() >= MAX_PEERS_WITHOUT_CHANNELS {
            return Some(format!(
                "{MAX_PEERS_WITHOUT_CHANNELS} peers without a channel are connected"
            ));
        }
        let from = ip(address)?;
        let same = without
            .iter()
            .filter(|p| ip(&p.address) == Some(from))
            .count();
        (same >= MAX_PEERS_PER_IP).then(|| {
            format!("{MAX_PEERS_PER_IP} peers without a channel are connected from {from}")
        })
    }

    /// Answer an RPC call, after the group's commit when one is open.
    fn answer(&mut self, reply: Reply, result: Result<Value, RpcError>) {
        match &mut self.held {
            Some(held) => held.replies.push((reply, result)),
            None => {
                let _ = reply.send(result);
            }
        }
    }

    fn send(&mut self, peer: &PublicKey, m: &ChannelMessage) {
        debug!(%peer, message = m.name(), "send");
        self.send_raw(peer, m.encode());
    }

    fn hang_up(&mut self, peer: PublicKey, warning: Option<String>) {
        if let Some(text) = warning {
            warn!(%peer, "warning sent, disconnecting: {text}");
            self.send(
                &peer,
                &ChannelMessage::Warning {
                    channel_id: ChannelId([0; 32]),
                    data: text.into_bytes(),
                },
            );
        }
        if self.held.is_some() {
            // What waits for this peer (the warning, an error) goes before the connection does.
            self.end_group();
            self.begin_group();
        }
        self.peer_gone(peer);
    }

    /// The connection is over: it stops reading now, and writing once what
    /// is queued (a last `warning` or `error`) has had a moment to leave.
    fn peer_gone(&mut self, peer: PublicKey) {
        let Some(gone) = self.peers.remove(&peer) else {
            return;
        };
        gone.handle.close(Duration::from_millis(100));
        for reply in self.pending_connect.remove(&peer).unwrap_or_default() {
            let _ = reply.send(Err(RpcError::failed("the peer disconnected during init")));
        }
        let ids: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| c.peer == peer)
            .map(|c| c.id)
            .collect();
        for id in &ids {
            self.announcement_sigs_sent.remove(id);
            let _ = self.drive(*id, Event::Disconnected);
        }
        if !ids.is_empty() {
            self.offline_since.insert(peer, Instant::now());
        }
    }

    fn on_peer_message(&mut self, peer: PublicKey, bytes: &[u8]) {
        let m = match wire_msg::decode(bytes) {
            Ok(m) => m,
            // BOLT 7: malformed gossip gets a warning, and the connection stays.
            Err(_)
                if bytes.len() >= 2
                    && matches!(u16::from_be_bytes([bytes[0], bytes[1]]), 256..=258) =>
            {
                return self.on_gossip(Some(peer), bytes)
            }
            Err(e) => {
                return self.hang_up(peer, Some(format!("a message that does not decode: {e}")))
            }
        };
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if state.init.is_none() {
            if m.name != Some("init") {
                return self.hang_up(peer, Some("BOLT 1: the first message must be init".into()));
            }
            return self.on_init(peer, &m);
        }
        match m.name {
            Some("ping") => {
                let n = m
                    .fields
                    .iter()
                    .find(|(f, _)| *f == "num_pong_bytes")
                    .and_then(|(_, v)| match v {
                        WireValue::Uint(n) => Some(*n as usize),
                        _ => None,
                    });
                // BOLT 1: answer unless num_pong_bytes is 65532 or more.
                if let Some(n) = n.filter(|n| *n < 65532) {
                    self.answer_ping(peer, n);
                }
                return;
            }
            Some("pong") => {
                if let Some(s) = self.peers.get_mut(&peer) {
                    s.ping_outstanding = None;
                }
                return;
            }
            Some("init") => return self.hang_up(peer, Some("a second init".into())),
            _ => {}
        }
        if m.typ == 259 {
            return self.on_announcement_signatures(peer, &m);
        }
        if self.on_query_message(peer, &m) {
            return;
        }
        let cm = match ChannelMessage::from_message(&m) {
            Ok(Some(cm)) => cm,
            // BOLT 7 gossip goes to the gossip store; unknown odd messages are ignored (BOLT 1).
            Ok(None) if matches!(m.typ, 256..=258) => return self.on_gossip(Some(peer), bytes),
            Ok(None) => return,
            Err(e) => return self.hang_up(peer, Some(e.to_string())),
        };
        let id = cm.channel_id();
        match cm {
            ChannelMessage::Open(open) => self.on_open_channel(peer, *open),
            ChannelMessage::Error { channel_id, data } if channel_id.0 == [0; 32] => {
                // BOLT 1: an all-zero channel_id fails every channel with the peer.
                warn!(%peer, "error for all channels: {}", String::from_utf8_lossy(&data));
                let ids: Vec<ChannelId> = self
                    .channels
                    .values()
                    .filter(|c| c.peer == peer)
                    .map(|c| c.id)
                    .collect();
                for cid in ids {
                    let _ = self.drive(
                        cid,
                        Event::Message(ChannelMessage::Error {
                            channel_id: cid,
                            data: data.clone(),
                        }),
                    );
                }
            }
            ChannelMessage::Warning { data, .. } => {
                warn!(%peer, "warning from the peer: {}", String::from_utf8_lossy(&data))
            }
            cm => {
                let known = self.channels.get(&id).is_some_and(|c| c.peer == peer);
                if known {
                    let _ = self.drive(id, Event::Message(cm));
                } else if !matches!(cm, ChannelMessage::Error { .. }) {
                    // BOLT 1: a message for an unknown channel gets an error for that channel.
                    self.send(
                        &peer,
                        &ChannelMessage::Error {
                            channel_id: id,
                            data: b"unknown channel".to_vec(),
                        },
                    );
                }
            }
        }
    }

    /// A `ping` asking for `n` bytes, answered within the limits of
    /// `PING_PERIOD` (BOLT 1's "precautions against ping flooding"): never
    /// while our last pong is unsent, at most `PINGS_ANSWERED` and
    /// `PONG_BYTES` a period, and a peer past `PINGS_TOLERATED` is dropped.
    fn answer_ping(&mut self, peer: PublicKey, n: usize) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let pings = p.pings.hit(PING_PERIOD);
        if pings > PINGS_TOLERATED {
            return self.hang_up(
                peer,
                Some(format!(
                    "more than {PINGS_TOLERATED} pings in {} s",
                    PING_PERIOD.as_secs()
                )),
            );
        }
        let unsent = !p.handle.flow.written_up_to(p.last_pong);
        if unsent || pings > PINGS_ANSWERED || p.pings.bytes + n > PONG_BYTES {
            return;
        }
        p.pings.bytes += n;
        let pong = Message {
            typ: 19,
            name: Some("pong"),
            fields: vec![("ignored", WireValue::Bytes(vec![0; n]))],
            tlvs: vec![],
            raw: None,
        };
        // A pong changes no state: it does not wait for a group's commit.
        match p
            .handle
            .send(wire_msg::encode(&pong).expect("pong encodes"))
        {
            Ok(end) => p.last_pong = end,
            Err(_) => self.peer_gone(peer),
        }
    }

    fn on_init(&mut self, peer: PublicKey, m: &Message) {
        let theirs = m.fields.iter().fold(vec![], |acc, (_, v)| match v {
            // BOLT 1: globalfeatures and features are OR-ed together.
            WireValue::Features(f) => {
                let n = acc.len().max(f.len());
                let mut out = vec![0u8; n];
                for (i, b) in acc.iter().rev().enumerate() {
                    out[n - 1 - i] |= b;
                }
                for (i, b) in f.iter().rev().enumerate() {
                    out[n - 1 - i] |= b;
                }
                out
            }
            _ => acc,
        });
        let unsupported = features::unsupported_required(&theirs);
        if !unsupported.is_empty() {
            return self.hang_up(
                peer,
                Some(format!(
                    "init: we do not support the required features {}",
                    unsupported.join(", ")
                )),
            );
        }
        let chain =
            bitcoin::constants::ChainHash::using_genesis_block(self.opts.network).to_bytes();
        if let Some(networks) = m.tlvs.iter().find(|r| r.typ == 1) {
            if !networks.value.chunks(32).any(|c| c == chain) {
                return self.hang_up(
                    peer,
                    Some(format!(
                        "init: the peer is not on {}",
                        network_name(self.opts.network)
                    )),
                );
            }
        }
        let negotiated = features::negotiate(&theirs);
        let address = if let Some(s) = self.peers.get_mut(&peer) {
            s.init = Some(theirs.clone());
            s.negotiated = negotiated;
            s.address.clone()
        } else {
            return;
        };
        info!(%peer, %address, "peer connected");
        self.reconnect.remove(&peer);
        let response = self.connect_response(&peer).expect("init stored above");
        for reply in self.pending_connect.remove(&peer).unwrap_or_default() {
            let _ = reply.send(to_value(&response));
        }
        let ids: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| c.peer == peer)
            .map(|c| c.id)
            .collect();
        for id in ids {
            if let Some(ch) = self.channels.get_mut(&id) {
                ch.negotiated = negotiated;
            }
            let _ = self.drive(id, Event::Connected);
        }
        self.offline_since.remove(&peer);
        self.start_gossip_sync(peer);
    }

    fn on_open_channel(&mut self, peer: PublicKey, open: channel::OpenChannel) {
        let negotiated = self
            .peers
            .get(&peer)
            .map(|p| p.negotiated)
            .unwrap_or_default();
        let index = self.next_key_index();
        let signer = self.signer(index);
        let chain = bitcoin::constants::ChainHash::using_genesis_block(self.opts.network);
        let our_chain = bitcoin::BlockHash::from_byte_array(chain.to_bytes());
        match Channel::accept(
            &signer,
            peer,
            index,
            our_chain,
            &open,
            negotiated,
            self.opts.channel.clone(),
        ) {
            Ok((mut ch, actions)) => {
                ch.set_alias(self.new_alias());
                info!(%peer, channel = %ch.id, funding = %open.funding, "accepting a channel");
                let id = ch.id;
                self.channels.insert(id, ch);
                self.execute(id, actions, &mut VecDeque::new());
            }
            Err(refusal) => {
                warn!(%peer, "refused open_channel: {}", refusal.reason);
                self.send(&peer, &refusal.message());
            }
        }
    }

    fn next_key_index(&mut self) -> u64 {
        let next: u64 = self
            .store
            .meta("next_key_index")
            .ok()
            .flatten()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if let Ok(b) = self.store.batch() {
            let _ = b.set_meta("next_key_index", &(next + 1).to_string());
            let _ = b.commit();
        }
        next
    }

    /// A fresh scid alias: BOLT 2 wants one unrelated to any real scid, so
    /// its block part is far above any height.
    fn new_alias(&self) -> u64 {
        let r: u64 = bitcoin::secp256k1::rand::random();
        (0xf0_0000u64 << 40) | (r & 0xff_ffff_ffff)
    }

    // ---- channels -----------------------------------------------------------

    /// Run one event on a channel, then everything it leads to.
    fn drive(&mut self, id: ChannelId, event: Event) -> Result<(), CommandError> {
        let mut queue = VecDeque::from([(id, event)]);
        let mut first = true;
        while let Some((id, ev)) = queue.pop_front() {
            let Some(index) = self.channels.get(&id).map(|c| c.key_index) else {
                continue;
            };
            let signer = self.signer(index);
            let ch = self.channels.get_mut(&id).expect("checked");
            let was = (
                ch.phase == Phase::Normal && ch.live,
                ch.phase == Phase::Normal,
            );
            let actions = match ch.handle(&signer, ev) {
                Ok(a) => a,
                Err(e) if first => return Err(e),
                Err(e) => {
                    warn!(channel = %id, "follow-up refused: {e}");
                    continue;
                }
            };
            first = false;
            self.execute(id, actions, &mut queue);
            if !self.batching() && self.channels.get(&id).is_some_and(Channel::needs_commit) {
                // No commit window: each update is signed as soon as it is made.
                queue.push_back((id, Event::Commit));
            }
            self.gossip_after_step(id, was);
            self.run_forwards(&mut queue);
            self.run_payments();
        }
        Ok(())
    }

    /// Carry out a channel's actions: the store first (channel and the
    /// records its step changed, in one transaction), then the sends and broadcasts.
    fn execute(
        &mut self,
        id: ChannelId,
        actions: Vec<Action>,
        queue: &mut VecDeque<(ChannelId, Event)>,
    ) {
        let Some(mut ch) = self.channels.remove(&id) else {
            return;
        };
        let signer = self.signer(ch.key_index);
        let id = ch.id;
        if ch.temporary_id != id {
            if let Some(reply) = self.pending_open.remove(&ch.temporary_id) {
                self.pending_open.insert(id, reply);
            }
        }
        // Invoices decided in the previous step land with this one: the fulfil that pays them.
        let invoices: Vec<InvoiceRecord> = std::mem::take(&mut self.staged_invoices);
        let mut payments: Vec<PaymentRecord> = std::mem::take(&mut self.staged_payments);
        let mut forwards: Vec<ForwardRecord> = std::mem::take(&mut self.staged_forwards);
        // Answers for the incoming side of HTLCs we forwarded, sent once this step is stored.
        let mut upstream: Vec<(ChannelId, Event)> = vec![];
        let mut replies: Vec<(Reply, Result<Value, RpcError>)> = vec![];
        let mut persist = false;
        let mut forget = false;
        for a in &actions {
            match a {
                Action::Persist => persist = true,
                Action::BuildFunding { script, amount } => {
                    let feerate = self.funding_feerate();
                    match self.wallet.pay_to(script.clone(), Some(*amount), feerate) {
                        Ok(tx) => {
                            let index = tx
                                .output
                                .iter()
                                .position(|o| o.script_pubkey == *script)
                                .expect("BDK pays the recipient")
                                as u16;
                            queue.push_back((
                                id,
                                Event::FundingBuilt {
                                    tx,
                                    output_index: index,
                                },
                            ));
                        }
                        Err(e) => {
                            if let Some(reply) = self.pending_open.remove(&id) {
                                replies
                                    .push((reply, Err(RpcError::param("amount", e.to_string()))));
                            }
                            self.send(
                                &ch.peer,
                                &ChannelMessage::Error {
                                    channel_id: ch.temporary_id,
                                    data: format!("cannot fund: {e}").into_bytes(),
                                },
                            );
                            queue.push_back((id, Event::ForceClose));
                        }
                    }
                }
                Action::HtlcReceived(add) => {
                    if ch.over_dust_exposure(add) {
                        warn!(channel = %id, htlc = add.id, "failing a dust HTLC: the dust exposure is over max_dust_htlc_exposure_msat");
                        queue.push_back((id, self.fail_temporary(add)));
                    } else {
                        queue.extend(self.decide(add));
                    }
                }
                Action::PreimageLearned {
                    id: htlc,
                    preimage,
                    attribution,
                } => {
                    let attribution = attribution.as_deref();
                    if let Some(f) = self.forward_of(id, *htlc, &forwards) {
                        self.forward_settled(
                            f,
                            *preimage,
                            attribution,
                            &mut forwards,
                            &mut upstream,
                        );
                    }
                    if let Some(rec) = self.payment_of(id, *htlc, &payments) {
                        let result = payments::PartResult::Settled(*preimage, attribution.cloned());
                        payments.push(self.end_part(id, *htlc, rec, result));
                    }
                }
                Action::HtlcResolved {
                    id: htlc,
                    outcome,
                    attribution,
                    ..
                } if !matches!(outcome, Outcome::Fulfilled(_)) => {
                    let attribution = attribution.as_deref();
                    if let Some(f) = self.forward_of(id, *htlc, &forwards) {
                        self.forward_failed(f, outcome, attribution, &mut forwards, &mut upstream);
                    }
                    if let Some(rec) = self.payment_of(id, *htlc, &payments) {
                        let result =
                            payments::PartResult::Failed(outcome.clone(), attribution.cloned());
                        payments.push(self.end_part(id, *htlc, rec, result));
                    }
                }
                Action::Failed { reason } => {
                    warn!(channel = %id, "channel failed: {reason}");
                    if let Some(reply) = self.pending_open.remove(&id) {
                        replies.push((
                            reply,
                            Err(RpcError::failed(format!(
                                "fundchannel: the channel failed: {reason}"
                            ))),
                        ));
                    }
                    if ch.funding_outpoint.is_none()
                        || (ch.opener == Side::Remote && ch.local_signatures.is_none())
                    {
                        forget = true;
                    }
                }
                Action::Ready => info!(channel = %id, "channel ready"),
                Action::Closed => info!(channel = %id, "channel closed by mutual agreement"),
                _ => {}
            }
        }
        if ch.needs_shutdown_script() && !forget {
            let script = self
                .wallet
                .new_address(false)
                .map(|a| a.script_pubkey())
                .unwrap_or_default();
            queue.push_back((
                id,
                Event::Shutdown {
                    script,
                    feerate: self.closing_feerate(),
                },
            ));
        }
        // Each commitment they revoked gets its penalty, as an appointment
        // for every tower, stored with this step and handed over after it.
        let appointments: Vec<(u64, Vec<towers::Made>)> = actions
            .iter()
            .filter_map(|a| match a {
                Action::RemoteRevoked { number } if !self.opts.towers.is_empty() => {
                    Some((*number, self.tower_appointments(&ch, &signer, *number)))
                }
                _ => None,
            })
            .collect();
        if persist || !invoices.is_empty() || !payments.is_empty() || !forwards.is_empty() || forget
        {
            let mut write = || -> Result<(), StoreError> {
                let mut b = self.store.batch()?;
                if forget {
                    b.delete_channel(&ch.id)?;
                    b.delete_channel(&ch.temporary_id)?;
                    if let Some(held) = &mut self.held {
                        held.channels.remove(&ch.id);
                    }
                } else if persist && (ch.funding_outpoint.is_some() || ch.opener == Side::Local) {
                    match &mut self.held {
                        // Funded, its id is final: written once, when the group commits.
                        Some(held) if ch.funding_outpoint.is_some() => {
                            held.channels.insert(ch.id);
                        }
                        _ => b.put_channel(&mut ch)?,
                    }
                }
                for a in &actions {
                    if let Action::RemoteCommitment { number, htlcs, tx } = a {
                        if !self.opts.towers.is_empty() {
                            b.put_remote_commitment_tx(&ch.id, *number, htlcs, tx)?;
                        } else if !htlcs.is_empty() {
                            b.put_remote_commitment(&ch.id, *number, htlcs)?;
                        }
                    }
                    if let Action::RemoteRevoked { number } = a {
                        for m in appointments
                            .iter()
                            .filter(|x| x.0 == *number)
                            .flat_map(|x| &x.1)
                        {
                            b.put_tower_appointment(
                                &m.tower, &m.locator, &ch.id, *number, &m.body,
                            )?;
                        }
                    }
                }
                if self.opts.dev && persist && ch.onchain.is_none() {
                    // The whole resolution of this commitment: its HTLC transactions too.
                    if let Some(tx) = ch.signed_local_commitment(&signer) {
                        let r = ch.resolution(&signer, &tx, &[]);
                        let json = serde_json::to_string(&r)?;
                        b.put_dev_commitment(&ch.id, ch.ledger.local.number, &json)?;
                    }
                }
                for i in &invoices {
                    b.put_invoice(i)?;
                }
                for p in &payments {
                    b.put_payment(p)?;
                }
                for f in &forwards {
                    b.put_forward(f)?;
                }
                b.commit()
            };
            if let Err(e) = write() {
                // Nothing may leave that the store does not hold: stop here.
                panic!("the store failed; refusing to send what it does not hold: {e}");
            }
        }
        for (_, made) in appointments {
            self.hand_to_towers(made);
        }
        let peer = ch.peer;
        let funding_txid = ch.funding_txid();
        let funding_outpoint = ch.funding_outpoint;
        let closing = ch.shutdown.closing_txs.last().cloned();
        if !forget {
            self.channels.insert(id, ch);
        }
        for (reply, result) in replies {
            self.answer(reply, result);
        }
        for (incoming, ev) in upstream {
            match ev {
                // BOLT 5: an incoming HTLC already on chain is claimed there with the preimage.
                Event::Fulfill { preimage, .. }
                    if self
                        .channels
                        .get(&incoming)
                        .is_some_and(|c| c.onchain.is_some()) =>
                {
                    self.provide_onchain_preimage(incoming, preimage);
                }
                ev => queue.push_back((incoming, ev)),
            }
        }
        for a in actions {
            match a {
                Action::Send(m) => self.send(&peer, &m),
                Action::Broadcast(tx) => {
                    let ours = closing.as_ref() != Some(&tx)
                        && Some(tx.compute_txid()) != funding_txid
                        && tx
                            .input
                            .iter()
                            .any(|i| Some(i.previous_output) == funding_outpoint);
                    if ours && self.let_theirs_confirm(id) {
                        // The peer force-closed with nothing at stake: its commitment goes first.
                    } else if ours {
                        // Our commitment: its resolution broadcasts it, with a CPFP if it needs one.
                        self.start_resolution(id, &tx);
                        self.drive_onchain();
                    } else {
                        self.broadcast(&tx);
                    }
                    if Some(tx.compute_txid()) == funding_txid {
                        if let Some(reply) = self.pending_open.remove(&id) {
                            let ch = &self.channels[&id];
                            let outnum = ch.funding_outpoint.map(|o| o.vout).unwrap_or(0);
                            let answer = to_value(rpc::FundchannelResponse {
                                tx: bitcoin::consensus::encode::serialize_hex(&tx),
                                txid: tx.compute_txid().to_string(),
                                outnum,
                                channel_id: id.to_string(),
                                channel_type: type_info(ch.channel_type, ch.alias_only),
                            });
                            self.answer(reply, answer);
                        }
                    } else if let Some((reply, _)) = self.pending_close.remove(&id) {
                        let kind = if closing.as_ref() == Some(&tx) {
                            "mutual"
                        } else {
                            "unilateral"
                        };
                        let answer = to_value(rpc::CloseResponse {
                            kind: kind.into(),
                            tx: bitcoin::consensus::encode::serialize_hex(&tx),
                            txid: tx.compute_txid().to_string(),
                        });
                        self.answer(reply, answer);
                    }
                }
                Action::Disconnect => self.hang_up(peer, None),
                _ => {}
            }
        }
    }

    /// After a restart: incoming HTLCs that were committed but not yet
    /// answered get their answer now (it waits in the channel until reestablish).
    fn redecide_incoming(&mut self) {
        let pending: Vec<(ChannelId, channel::UpdateAddHtlc)> = self
            .channels
            .values()
            .flat_map(|c| {
                c.unresolved_incoming()
                    .into_iter()
                    .map(|a| (c.id, a.clone()))
            })
            .collect();
        for (id, add) in pending {
            let answers = match self.stored_forward_answer(id, &add) {
                Some(answer) => answer.map(|ev| (id, ev)).into_iter().collect(),
                None => self.decide(&add),
            };
            for (id, ev) in answers {
                let _ = self.drive(id, ev);
            }
            self.drive_forwards();
        }
    }

    /// Forward what was decided outside a channel step (a restart, a
    /// cancelled hold), then run what that leads to.
    fn drive_forwards(&mut self) {
        let mut queue = VecDeque::new();
        self.run_forwards(&mut queue);
        for (id, ev) in queue {
            if let Err(e) = self.drive(id, ev) {
                warn!(channel = %id, "refused: {e}");
            }
        }
    }

    /// The payment an HTLC of ours carries: as staged in this step, else as stored.
    fn payment_of(
        &self,
        channel: ChannelId,
        htlc: u64,
        staged: &[PaymentRecord],
    ) -> Option<PaymentRecord> {
        let cid = channel.to_string();
        staged
            .iter()
            .rev()
            .find(|p| p.channel_id == cid && p.htlc_id == htlc)
            .cloned()
            .or_else(|| self.store.payment_by_htlc(&cid, htlc).ok().flatten())
            .filter(|p| p.status == "pending")
    }

    /// `temporary_channel_failure` for an HTLC we refuse to hold (BOLT 4).
    fn fail_temporary(&self, add: &channel::UpdateAddHtlc) -> Event {
        match pay::temporary_failure(&self.node_signer, add) {
            Some(back) => back.event(add.id),
            None => Event::FailMalformed {
                id: add.id,
                sha256_of_onion: sha2::Digest::finalize(
                    <sha2::Sha256 as sha2::Digest>::new_with_prefix(&add.onion),
                )
                .into(),
                failure_code: crate::channel::BADONION | 5,
            },
        }
    }

    fn broadcast(&mut self, tx: &Transaction) {
        let txid = tx.compute_txid();
        match tokio::task::block_in_place(|| self.chain.broadcast(tx)) {
            Ok(_) => info!(%txid, "broadcast"),
            Err(crate::chain::ChainError::Rejected { rejection, .. })
                if rejection.kind.never_confirms() =>
            {
                // The other closing transaction of a negotiation, say: the
                // wallet must not spend outputs that will never exist.
                warn!(%txid, "broadcast refused: {}", rejection.reason);
                return;
            }
            Err(e) => warn!(%txid, "broadcast refused: {e}"),
        }
        let _ = self.wallet.broadcasted(tx, now_secs());
    }

    fn fee_estimate(&self, target: u16) -> FeeratePerKw {
        tokio::task::block_in_place(|| self.chain.fee_estimate(target))
            .map(|f| f.feerate)
            .unwrap_or(crate::chain::DEFAULT_FALLBACK_FEERATE)
    }

    fn funding_feerate(&self) -> FeeRate {
        FeeRate::from_sat_per_kwu(u64::from(self.fee_estimate(6).0))
    }

    /// The feerate a request gave (sat per 1000 weight), else the chain's estimate.
    fn funding_feerate_or(&self, given: Option<u32>) -> FeeRate {
        given
            .map(|f| FeeRate::from_sat_per_kwu(u64::from(f)))
            .unwrap_or_else(|| self.funding_feerate())
    }

    fn closing_feerate(&self) -> FeeratePerKw {
        self.fee_estimate(12)
    }

    // ---- chain --------------------------------------------------------------

    fn poll_chain(&mut self) {
        let mut blocks = Blocks::default();
        let chain = self.chain.clone();
        let result =
            tokio::task::block_in_place(|| self.follower.poll(chain.as_ref(), &mut blocks));
        if let Err(e) = result {
            debug!("chain poll failed: {e}");
        }
        if blocks.connected.is_empty() && blocks.disconnected.is_empty() {
            return;
        }
        for h in &blocks.disconnected {
            self.funding_seen.retain(|_, (height, _)| *height < *h);
        }
        let watching: HashMap<Txid, ()> = self
            .channels
            .values()
            .filter_map(|c| c.funding_txid())
            .map(|t| (t, ()))
            .collect();
        for h in &blocks.disconnected {
            // A reorg: what its blocks confirmed is undone, and redone as the new branch says.
            for c in self.channels.values_mut() {
                if let Some(r) = c.onchain.as_mut() {
                    r.block_disconnected(*h);
                }
            }
            self.gossip.block_disconnected(*h);
        }
        for (block, height) in &blocks.connected {
            if let Err(e) = self.wallet.block_connected(block, *height) {
                warn!("wallet: block {height}: {e}");
            }
            self.watch_funding_spends(block, *height);
            self.resolutions_block(block, *height);
            self.gossip.block_connected(block, *height);
            for (i, tx) in block.txdata.iter().enumerate() {
                let txid = tx.compute_txid();
                if watching.contains_key(&txid) {
                    self.funding_seen.insert(txid, (*height, i as u32));
                }
            }
        }
        let tip = self.follower.tip();
        // The resolutions first, then the tip: a crash between the two replays blocks, never skips them.
        self.persist_resolutions();
        if let Ok(b) = self.store.batch() {
            let _ = b.set_meta("tip_height", &tip.height.to_string());
            let _ = b.set_meta("tip_hash", &tip.hash.to_string());
            let _ = b.commit();
        }
        self.update_depths();
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for id in ids {
            self.maybe_announce(id);
        }
        self.gossip.prune(now_secs(), tip.height);
        self.fail_expiring_channels();
        self.check_awaiting_theirs();
        self.drive_onchain();
    }

    /// BOLT 5: a transaction spending a funding output starts the channel's resolution.
    fn watch_funding_spends(&mut self, block: &Block, _height: u32) {
        let funding: HashMap<bitcoin::OutPoint, ChannelId> = self
            .channels
            .values()
            .filter(|c| c.onchain.as_ref().is_none_or(|r| r.confirmed_at.is_none()))
            .filter_map(|c| Some((c.funding_outpoint?, c.id)))
            .collect();
        for tx in &block.txdata {
            for input in &tx.input {
                if let Some(id) = funding.get(&input.previous_output).copied() {
                    self.start_resolution(id, tx);
                }
            }
        }
    }

    /// BOLT 2's HTLC deadlines: a channel whose HTLC would otherwise be lost
    /// is failed, and the HTLC resolved on chain.
    fn fail_expiring_channels(&mut self) {
        let height = self.height();
        let due: Vec<(ChannelId, String)> = self
            .channels
            .values()
            .filter(|c| c.onchain.is_none())
            .filter_map(|c| Some((c.id, c.htlc_deadline_passed(height)?)))
            .collect();
        for (id, why) in due {
            warn!(channel = %id, "force-closing: {why}");
            let _ = self.drive(id, Event::ForceClose);
        }
    }

    /// Find the funding of channels still waiting for depth (after a restart).
    fn funding_from_chain(&mut self) {
        let waiting: Vec<Txid> = self
            .channels
            .values()
            .filter(|c| c.phase == Phase::AwaitingReady || c.scid.is_none())
            .filter_map(|c| c.funding_txid())
            .collect();
        for txid in waiting {
            if let Ok(Some(info)) = tokio::task::block_in_place(|| self.chain.transaction(&txid)) {
                if let crate::chain::TxStatus::Confirmed { block, .. } = info.status {
                    if let Ok(b) = tokio::task::block_in_place(|| self.chain.block(&block.hash)) {
                        if let Some(i) = b.txdata.iter().position(|t| t.compute_txid() == txid) {
                            self.funding_seen.insert(txid, (block.height, i as u32));
                        }
                    }
                }
            }
        }
    }

    fn update_depths(&mut self) {
        let tip = self.height();
        let updates: Vec<(ChannelId, u32, u64)> = self
            .channels
            .values()
            .filter(|c| {
                matches!(c.phase, Phase::AwaitingReady)
                    || (c.scid.is_none() && c.funding_outpoint.is_some())
            })
            .filter_map(|c| {
                let op = c.funding_outpoint?;
                let (h, i) = self.funding_seen.get(&op.txid)?;
                let scid = (u64::from(*h) << 40) | (u64::from(*i) << 16) | u64::from(op.vout);
                Some((c.id, tip.saturating_sub(*h) + 1, scid))
            })
            .collect();
        for (id, confirmations, scid) in updates {
            let _ = self.drive(
                id,
                Event::FundingDepth {
                    confirmations,
                    scid: Some(scid),
                },
            );
        }
    }

    // ---- timers -------------------------------------------------------------

    fn housekeeping(&mut self) {
        let now = Instant::now();
        // Pings, and peers that stopped answering, sent no `init`, or
        // leave what we send unread.
        let mut dead = vec![];
        let with_channels: HashSet<PublicKey> = self
            .channels
            .values()
            .filter(|c| c.phase != Phase::Closed)
            .map(|c| c.peer)
            .collect();
        for (id, p) in self.peers.iter_mut() {
            p.handle.flow.set_priority(with_channels.contains(id));
            if p.handle.flow.stalled_for() > WRITE_STALL {
                dead.push((
                    *id,
                    format!(
                        "what we sent was left unread for {} s",
                        WRITE_STALL.as_secs()
                    ),
                ));
                continue;
            }
            if p.init.is_none() {
                if now.duration_since(p.connected_at) > INIT_TIMEOUT {
                    dead.push((*id, format!("no init within {} s", INIT_TIMEOUT.as_secs())));
                }
                continue;
            }
            if let Some(sent) = p.ping_outstanding {
                if now.duration_since(sent) > PING_TIMEOUT {
                    dead.push((*id, "ping timeout: no pong".into()));
                }
            } else if now.duration_since(p.last_ping) > PING_INTERVAL {
                p.last_ping = now;
                p.ping_outstanding = Some(now);
                let ping = Message {
                    typ: 18,
                    name: Some("ping"),
                    fields: vec![
                        ("num_pong_bytes", WireValue::Uint(4)),
                        ("ignored", WireValue::Bytes(vec![])),
                    ],
                    tlvs: vec![],
                    raw: None,
                };
                if p.handle
                    .send(wire_msg::encode(&ping).expect("ping encodes"))
                    .is_err()
                {
                    dead.push((*id, "its outbound queue is full".into()));
                }
            }
        }
        for (id, why) in dead {
            self.hang_up(id, Some(why));
        }
        // Reconnect to peers we have channels with, with backoff.
        let want: Vec<PublicKey> = self
            .channels
            .values()
            .filter(|c| !matches!(c.phase, Phase::Closed | Phase::Failed))
            .map(|c| c.peer)
            .filter(|p| !self.peers.contains_key(p) && self.addresses.contains_key(p))
            .collect();
        for peer in want {
            let (at, backoff) = self
                .reconnect
                .get(&peer)
                .copied()
                .unwrap_or((now, Duration::from_secs(1)));
            if now >= at {
                self.reconnect.insert(
                    peer,
                    (now + backoff, (backoff * 2).min(Duration::from_secs(60))),
                );
                let addr = self.addresses[&peer].clone();
                self.spawn_connect(peer, addr);
            }
        }
        self.gossip_timers();
        self.sync_timers();
        if now >= self.next_gossip_flush {
            self.next_gossip_flush = now + self.opts.gossip.flush;
            self.retry_held_gossip();
            self.reoffer_own_gossip();
            self.flush_gossip();
        }
        // BOLT 2 update_fee: the opener keeps its commitments' feerate near the chain's estimate.
        if now >= self.next_fee_check {
            self.next_fee_check = now + FEE_CHECK_INTERVAL;
            self.update_fees();
        }
        // Mutual closes that ran out of time.
        let expired: Vec<ChannelId> = self
            .pending_close
            .iter()
            .filter(|(_, (_, at))| now >= *at)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let _ = self.drive(id, Event::ForceClose);
        }
        self.expire_mpp_sets();
        // Payments whose deadline passed with nothing in flight are answered.
        let late: Vec<PaymentHash> = self.outgoing.keys().copied().collect();
        self.payments_due.extend(late);
        self.run_payments();
    }

    fn update_fees(&mut self) {
        let target = self.fee_estimate(6);
        let due: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| c.opener == Side::Local && c.is_usable())
            .filter(|c| {
                let current = c
                    .ledger
                    .view(c.ledger.ours.end(), c.ledger.local.theirs)
                    .feerate
                    .0;
                // Only a real move is worth a commitment round: more than a fifth either way.
                target.0.abs_diff(current) * 5 > current
            })
            .map(|c| c.id)
            .collect();
        for id in due {
            match self.drive(id, Event::UpdateFee(target)) {
                Ok(()) => info!(channel = %id, feerate_per_kw = target.0, "update_fee"),
                Err(e) => debug!(channel = %id, "no update_fee: {e}"),
            }
        }
    }

    fn spawn_connect(&mut self, peer: PublicKey, addr: String) {
        if self.peers.contains_key(&peer) || !self.dialing.insert(peer) {
            return;
        }
        let inputs = self.inputs.clone();
        let signer = self.node_signer.clone();
        tokio::spawn(async move {
            match peer::connect(&addr, &signer, &peer).await {
                Ok((stream, transport)) => {
                    let _ = inputs.send(Input::Handshaked {
                        stream,
                        transport,
                        address: addr,
                        outbound: true,
                    });
                }
                Err(e) => {
                    let _ = inputs.send(Input::ConnectFailed {
                        node_id: peer,
                        error: e.to_string(),
                    });
                }
            }
        });
    }

    // ---- RPC ----------------------------------------------------------------

    fn rpc(&mut self, method: &str, params: Value, reply: Reply) {
        debug!(method, "rpc");
        let result = match method {
            "getinfo" => rpc::parse::<rpc::GetinfoRequest>(params).and_then(|_| self.getinfo()),
            "newaddr" => rpc::parse(params).and_then(|r| self.newaddr(r)),
            "listfunds" => {
                rpc::parse::<rpc::ListfundsRequest>(params).and_then(|_| self.listfunds())
            }
            "withdraw" => rpc::parse(params).and_then(|r| self.withdraw(r)),
            "connect" => match rpc::parse(params).and_then(|r| self.connect(r)) {
                Ok(Connecting::Started(peer)) => {
                    self.pending_connect.entry(peer).or_default().push(reply);
                    return;
                }
                Ok(Connecting::Already(v)) => Ok(v),
                Err(e) => Err(e),
            },
            "disconnect" => rpc::parse(params).and_then(|r| self.disconnect(r)),
            "listpeers" => rpc::parse(params).and_then(|r| self.listpeers(r)),
            "fundchannel" => match rpc::parse(params).and_then(|r| self.fundchannel(r)) {
                Ok(id) => {
                    self.pending_open.insert(id, reply);
                    return;
                }
                Err(e) => Err(e),
            },
            "listpeerchannels" => rpc::parse(params).and_then(|r| self.listpeerchannels(r)),
            "close" => match rpc::parse(params).and_then(|r| self.close(r)) {
                Ok((id, deadline)) => {
                    self.pending_close.insert(id, (reply, deadline));
                    // A close that completed at once (or a force close) answers now.
                    self.flush_close(id);
                    return;
                }
                Err(e) => Err(e),
            },
            "invoice" => rpc::parse(params).and_then(|r| self.invoice(r)),
            "rebalanceall" => match rpc::parse(params) {
                Ok(r) => return self.rebalanceall(r, reply),
                Err(e) => Err(e),
            },
            "pay" | "keysend" | "rebalance" => match match method {
                "pay" => rpc::parse(params).and_then(|r| self.pay(r)),
                "keysend" => rpc::parse(params).and_then(|r| self.keysend(r)),
                _ => rpc::parse(params).and_then(|r| self.rebalance(r)),
            } {
                Ok((hash, wait)) => {
                    if let Some(p) = self.outgoing.get_mut(&hash) {
                        let (tx, rx) = oneshot::channel();
                        p.reply = Some(tx);
                        let method = method.to_string();
                        tokio::spawn(async move {
                            let result = match tokio::time::timeout(wait, rx).await {
                                Ok(Ok(r)) => r,
                                Ok(Err(_)) => Err(RpcError::failed("the node stopped")),
                                Err(_) => Err(RpcError {
                                    code: 210,
                                    message: format!(
                                        "{method}: still pending after {} s; see listpays",
                                        wait.as_secs()
                                    ),
                                }),
                            };
                            let _ = reply.send(result);
                        });
                    }
                    return;
                }
                Err(e) => Err(e),
            },
            "settleinvoice" => rpc::parse(params).and_then(|r| self.settleinvoice(r)),
            "cancelinvoice" => rpc::parse(params).and_then(|r| self.cancelinvoice(r)),
            "listinvoices" => rpc::parse(params).and_then(|r| self.listinvoices(r)),
            "listpays" => rpc::parse(params).and_then(|r| self.listpays(r)),
            "listforwards" => rpc::parse(params).and_then(|r| self.listforwards(r)),
            "listtowers" => rpc::parse(params).and_then(|r| self.listtowers(r)),
            "listclosedchannels" => rpc::parse(params).and_then(|r| self.listclosedchannels(r)),
            "listchannels" => rpc::parse(params).and_then(|r| self.listchannels(r)),
            "listnodes" => rpc::parse(params).and_then(|r| self.listnodes(r)),
            "exportgraph" => rpc::parse(params).and_then(|r| self.exportgraph(r)),
            "setchannel" => rpc::parse(params).and_then(|r| self.setchannel(r)),
            "getroute" => rpc::parse(params).and_then(|r| self.getroute(r)),
            "bumpfee" => rpc::parse(params).and_then(|r| self.bumpfee(r)),
            "dev-broadcast-revoked" => {
                rpc::parse(params).and_then(|r| self.dev_broadcast_revoked(r))
            }
            "stop" => match rpc::parse::<rpc::StopRequest>(params) {
                Ok(_) => {
                    self.stop = Some(reply);
                    return;
                }
                Err(e) => Err(e),
            },
            other => Err(RpcError {
                code: -32601,
                message: format!(
                    "method: unknown method `{other}` (known: {})",
                    rpc::METHODS
                        .iter()
                        .map(|m| m.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        };
        self.answer(reply, result);
    }

    fn flush_close(&mut self, id: ChannelId) {
        let Some(signer) = self.signer_for(id) else {
            return;
        };
        let ch = &self.channels[&id];
        let done = match ch.phase {
            Phase::Closed => ch
                .shutdown
                .closing_txs
                .last()
                .cloned()
                .map(|tx| ("mutual", tx)),
            Phase::Failed => ch
                .signed_local_commitment(&signer)
                .map(|tx| ("unilateral", tx)),
            _ => None,
        };
        if let Some((kind, tx)) = done {
            if let Some((reply, _)) = self.pending_close.remove(&id) {
                let answer = to_value(rpc::CloseResponse {
                    kind: kind.into(),
                    tx: bitcoin::consensus::encode::serialize_hex(&tx),
                    txid: tx.compute_txid().to_string(),
                });
                self.answer(reply, answer);
            }
        }
    }

    fn signer_for(&mut self, id: ChannelId) -> Option<ChannelSigner> {
        let index = self.channels.get(&id)?.key_index;
        Some(self.signer(index))
    }

    fn getinfo(&self) -> Result<Value, RpcError> {
        let count = |f: fn(&Phase) -> bool| self.channels.values().filter(|c| f(&c.phase)).count();
        to_value(rpc::GetinfoResponse {
            id: self.node_id.to_string(),
            alias: self.opts.alias.clone(),
            num_peers: self.peers.values().filter(|p| p.init.is_some()).count(),
            num_pending_channels: count(|p| {
                matches!(
                    p,
                    Phase::AwaitingAccept
                        | Phase::AwaitingFundingTx
                        | Phase::AwaitingFundingSigned
                        | Phase::AwaitingFundingCreated
                        | Phase::AwaitingReady
                )
            }),
            num_active_channels: count(|p| {
                matches!(p, Phase::Normal | Phase::ShuttingDown | Phase::Negotiating)
            }),
            num_inactive_channels: count(|p| matches!(p, Phase::Closed | Phase::Failed)),
            binding: self
                .listen
                .iter()
                .map(|a| rpc::Binding {
                    kind: if a.is_ipv4() { "ipv4" } else { "ipv6" }.into(),
                    address: a.ip().to_string(),
                    port: a.port(),
                })
                .collect(),
            blockheight: self.height(),
            network: network_name(self.opts.network).into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    fn newaddr(&mut self, r: rpc::NewaddrRequest) -> Result<Value, RpcError> {
        let taproot = match r.addresstype.as_deref() {
            None | Some("bech32") => false,
            Some("p2tr") => true,
            Some(other) => {
                return Err(RpcError::param(
                    "addresstype",
                    format!("`{other}` is not bech32 or p2tr"),
                ))
            }
        };
        let addr = self
            .wallet
            .new_address(taproot)
            .map_err(RpcError::failed)?
            .to_string();
        to_value(if taproot {
            rpc::NewaddrResponse {
                bech32: None,
                p2tr: Some(addr),
            }
        } else {
            rpc::NewaddrResponse {
                bech32: Some(addr),
                p2tr: None,
            }
        })
    }

    fn listfunds(&self) -> Result<Value, RpcError> {
        let outputs = self
            .wallet
            .outputs()
            .into_iter()
            .map(|o| rpc::FundsOutput {
                txid: o.outpoint.txid.to_string(),
                output: o.outpoint.vout,
                amount_msat: o.amount.to_sat() * 1000,
                address: Address::from_script(&o.script_pubkey, self.opts.network)
                    .ok()
                    .map(|a| a.to_string()),
                scriptpubkey: hex::encode(o.script_pubkey.as_bytes()),
                status: if o.height.is_some() {
                    "confirmed"
                } else {
                    "unconfirmed"
                }
                .into(),
                blockheight: o.height,
            })
            .collect();
        let channels = self
            .channels
            .values()
            .filter(|c| c.funding_outpoint.is_some())
            .map(|c| rpc::FundsChannel {
                peer_id: c.peer.to_string(),
                connected: self.peers.get(&c.peer).is_some_and(|p| p.init.is_some()),
                state: c.phase.name().into(),
                channel_id: c.id.to_string(),
                short_channel_id: c.scid.map(scid_string),
                our_amount_msat: c.balances().0 .0,
                amount_msat: c.funding_amount.to_sat() * 1000,
                funding_txid: c.funding_txid().map(|t| t.to_string()),
                funding_output: c.funding_outpoint.map(|o| o.vout),
            })
            .collect();
        to_value(rpc::ListfundsResponse {
            outputs,
            channels,
            sweeps: self.pending_sweeps(),
        })
    }

    fn address(&self, field: &str, s: &str) -> Result<ScriptBuf, RpcError> {
        let a: Address<bitcoin::address::NetworkUnchecked> = s
            .parse()
            .map_err(|e| RpcError::param(field, format!("not an address: {e}")))?;
        let a = a.require_network(self.opts.network).map_err(|_| {
            RpcError::param(
                field,
                format!("not an address of {}", network_name(self.opts.network)),
            )
        })?;
        Ok(a.script_pubkey())
    }

    fn withdraw(&mut self, r: rpc::WithdrawRequest) -> Result<Value, RpcError> {
        let script = self.address("destination", &r.destination)?;
        let amount = match &r.satoshi {
            Value::String(s) if s == "all" => None,
            Value::Number(n) => Some(Amount::from_sat(n.as_u64().ok_or_else(|| {
                RpcError::param("satoshi", "a whole number of satoshis is expected")
            })?)),
            _ => {
                return Err(RpcError::param(
                    "satoshi",
                    "a number of satoshis or \"all\" is expected",
                ))
            }
        };
        let feerate = self.funding_feerate_or(r.feerate_per_kw);
        let tx = self
            .wallet
            .pay_to(script, amount, feerate)
            .map_err(|e| RpcError::param("satoshi", e))?;
        self.broadcast(&tx);
        to_value(rpc::WithdrawResponse {
            tx: bitcoin::consensus::encode::serialize_hex(&tx),
            txid: tx.compute_txid().to_string(),
        })
    }

    fn connect(&mut self, r: rpc::ConnectRequest) -> Result<Connecting, RpcError> {
        let (key, addr) = match r.id.split_once('@') {
            Some((k, a)) => (k.to_string(), a.to_string()),
            None => {
                let host = r
                    .host
                    .clone()
                    .ok_or_else(|| RpcError::param("id", "expected pubkey@host:port, or a host"))?;
                (r.id.clone(), format!("{host}:{}", r.port.unwrap_or(9735)))
            }
        };
        let peer: PublicKey = key.parse().map_err(|_| {
            RpcError::param(
                "id",
                format!("`{key}` is not a node id (33-byte hex pubkey)"),
            )
        })?;
        let addr = if addr.contains(':') {
            addr
        } else {
            format!("{addr}:{}", r.port.unwrap_or(9735))
        };
        if peer == self.node_id {
            return Err(RpcError::param("id", "that is this node"));
        }
        self.addresses.insert(peer, addr.clone());
        if let Ok(b) = self.store.batch() {
            let _ = b.put_peer(&peer.serialize(), &addr);
            let _ = b.commit();
        }
        if let Some(response) = self.connect_response(&peer) {
            // Already connected: answer with the live connection, as Core Lightning does.
            return Ok(Connecting::Already(to_value(response)?));
        }
        self.spawn_connect(peer, addr);
        Ok(Connecting::Started(peer))
    }

    /// `connect`'s answer for a peer whose `init` is in.
    fn connect_response(&self, peer: &PublicKey) -> Option<rpc::ConnectResponse> {
        let p = self.peers.get(peer)?;
        Some(rpc::ConnectResponse {
            id: peer.to_string(),
            features: hex::encode(p.init.as_ref()?),
            direction: "out".into(),
            address: p.address.clone(),
        })
    }

    fn peer_id(field: &str, s: &str) -> Result<PublicKey, RpcError> {
        s.parse().map_err(|_| {
            RpcError::param(
                field,
                format!("`{s}` is not a node id (33-byte hex pubkey)"),
            )
        })
    }

    fn disconnect(&mut self, r: rpc::DisconnectRequest) -> Result<Value, RpcError> {
        let peer = Self::peer_id("id", &r.id)?;
        if !self.peers.contains_key(&peer) {
            return Err(RpcError::param("id", "not connected to that peer"));
        }
        self.addresses.remove(&peer);
        self.hang_up(peer, None);
        to_value(rpc::EmptyResponse {})
    }

    fn listpeers(&self, r: rpc::ListpeersRequest) -> Result<Value, RpcError> {
        let only =
            r.id.as_deref()
                .map(|s| Self::peer_id("id", s))
                .transpose()?;
        let mut ids: Vec<PublicKey> = self
            .peers
            .keys()
            .copied()
            .chain(self.channels.values().map(|c| c.peer))
            .collect();
        ids.sort();
        ids.dedup();
        let peers = ids
            .into_iter()
            .filter(|p| only.is_none_or(|o| o == *p))
            .map(|p| {
                let state = self.peers.get(&p);
                rpc::PeerInfo {
                    id: p.to_string(),
                    connected: state.is_some_and(|s| s.init.is_some()),
                    num_channels: self.channels.values().filter(|c| c.peer == p).count(),
                    netaddr: state
                        .map(|s| s.address.clone())
                        .or_else(|| self.addresses.get(&p).cloned())
                        .into_iter()
                        .collect(),
                    features: state.and_then(|s| s.init.as_ref()).map(hex::encode),
                }
            })
            .collect();
        to_value(rpc::ListpeersResponse { peers })
    }

    fn fundchannel(&mut self, r: rpc::FundchannelRequest) -> Result<ChannelId, RpcError> {
        let peer = Self::peer_id("id", &r.id)?;
        let negotiated = match self.peers.get(&peer) {
            Some(p) if p.init.is_some() => p.negotiated,
            _ => {
                return Err(RpcError::param(
                    "id",
                    "not connected to that peer: connect first",
                ))
            }
        };
        let funding = Amount::from_sat(r.amount);
        if funding > channel::MAX_FUNDING {
            return Err(RpcError::param("amount", format!("{} sat is above the 2^24 - 1 sat a channel may hold without option_support_large_channel", r.amount)));
        }
        if funding < Amount::from_sat(20_000) {
            return Err(RpcError::param(
                "amount",
                "a channel needs at least 20000 sat",
            ));
        }
        let push = Msat(r.push_msat.unwrap_or(0));
        if push.0 > r.amount * 1000 {
            return Err(RpcError::param("push_msat", "more than the channel"));
        }
        let channel_type = match r.channel_type.as_deref() {
            None if negotiated.anchors => ChannelType::AnchorsZeroFeeHtlcTx,
            None => ChannelType::StaticRemotekey,
            Some(bits) => {
                let t = channel_type_from_bits(&crate::wire::features::from_bits(bits))
                    .ok_or_else(|| {
                        RpcError::param(
                            "channel_type",
                            "expected [12] (static_remotekey) or [12, 22] (anchors)",
                        )
                    })?;
                if t.has_anchors() && !negotiated.anchors {
                    return Err(RpcError::param(
                        "channel_type",
                        "the peer does not support anchors",
                    ));
                }
                t
            }
        };
        let feerate = self.funding_feerate_or(r.feerate_per_kw);
        // BDK answers whether the funds are there before anything is asked of the peer.
        let probe = ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::all_zeros());
        self.wallet
            .pay_to(probe, Some(funding), feerate)
            .map_err(|e| RpcError::param("amount", e))?;
        let index = self.next_key_index();
        let signer = self.signer(index);
        let chain = bitcoin::constants::ChainHash::using_genesis_block(self.opts.network);
        let (mut ch, actions) = Channel::open(
            &signer,
            OpenRequest {
                peer,
                chain_hash: bitcoin::BlockHash::from_byte_array(chain.to_bytes()),
                temporary_id: channel::temporary_id(random32()),
                key_index: index,
                funding,
                push,
                feerate: self.fee_estimate(6),
                channel_type,
                announce: r.announce.unwrap_or(true),
                negotiated,
                config: self.opts.channel.clone(),
            },
        );
        ch.set_alias(self.new_alias());
        let id = ch.id;
        info!(%peer, channel = %id, %funding, "opening a channel");
        self.channels.insert(id, ch);
        self.execute(id, actions, &mut VecDeque::new());
        Ok(id)
    }

    fn listpeerchannels(&mut self, r: rpc::ListpeerchannelsRequest) -> Result<Value, RpcError> {
        let only =
            r.id.as_deref()
                .map(|s| Self::peer_id("id", s))
                .transpose()?;
        let channels = self
            .channels
            .values()
            .filter(|c| only.is_none_or(|o| o == c.peer))
            .map(|c| {
                let (ours, _) = c.balances();
                let mut alias = BTreeMap::new();
                if let Some(a) = c.our_alias {
                    alias.insert("local".to_string(), scid_string(a));
                }
                if let Some(a) = c.their_alias {
                    alias.insert("remote".to_string(), scid_string(a));
                }
                let their_reserve = c.ours.channel_reserve.to_sat() * 1000;
                let our_reserve = c
                    .theirs
                    .as_ref()
                    .map(|t| t.channel_reserve.to_sat() * 1000)
                    .unwrap_or(0);
                rpc::PeerChannel {
                    peer_id: c.peer.to_string(),
                    peer_connected: self.peers.get(&c.peer).is_some_and(|p| p.init.is_some()),
                    // Core Lightning's name once the funding spend is confirmed.
                    state: if c.onchain.as_ref().is_some_and(|r| r.confirmed_at.is_some()) {
                        "ONCHAIN".into()
                    } else {
                        c.phase.name().into()
                    },
                    channel_id: c.id.to_string(),
                    short_channel_id: c.scid.map(scid_string),
                    alias,
                    opener: if c.opener == Side::Local {
                        "local"
                    } else {
                        "remote"
                    }
                    .into(),
                    funding_txid: c.funding_txid().map(|t| t.to_string()),
                    funding_outnum: c.funding_outpoint.map(|o| o.vout),
                    to_us_msat: ours.0,
                    total_msat: c.funding_amount.to_sat() * 1000,
                    spendable_msat: if c.is_usable() { c.spendable().0 } else { 0 },
                    receivable_msat: if c.is_usable() { c.receivable().0 } else { 0 },
                    our_reserve_msat: our_reserve,
                    their_reserve_msat: their_reserve,
                    feerate_perkw: c.ledger.view_of(&c.ledger.local).feerate.0,
                    commitment_number: c.ledger.local.number,
                    channel_type: type_info(c.channel_type, c.alias_only),
                    htlcs: c
                        .htlcs()
                        .into_iter()
                        .map(|h| rpc::HtlcInfo {
                            direction: if h.offerer == Side::Local {
                                "out"
                            } else {
                                "in"
                            }
                            .into(),
                            id: h.id,
                            amount_msat: h.amount.0,
                            expiry: h.cltv_expiry.0,
                            payment_hash: h.payment_hash.to_string(),
                        })
                        .collect(),
                    failure: c.failure.clone(),
                    closing_txids: c
                        .shutdown
                        .closing_txs
                        .iter()
                        .map(|t| t.compute_txid().to_string())
                        .collect(),
                    funding_spend: c.onchain.as_ref().and_then(|r| {
                        use channel::onchain::FundingSpend as F;
                        Some(rpc::FundingSpendInfo {
                            txid: r.txid().to_string(),
                            blockheight: r.confirmed_at?,
                            kind: r.spend.name().into(),
                            commitment_number: match r.spend {
                                F::MutualClose => None,
                                F::OurCommitment { number }
                                | F::TheirCommitment { number }
                                | F::Revoked { number }
                                | F::Future { number } => Some(number),
                            },
                        })
                    }),
                    private: !c.announce,
                    updates: self.channel_updates_info(c),
                }
            })
            .collect();
        to_value(rpc::ListpeerchannelsResponse { channels })
    }

    fn find_channel(&self, s: &str) -> Result<ChannelId, RpcError> {
        let live = |c: &&Channel| !matches!(c.phase, Phase::Closed | Phase::Failed);
        if let Ok(peer) = s.parse::<PublicKey>() {
            return self
                .channels
                .values()
                .filter(live)
                .find(|c| c.peer == peer)
                .map(|c| c.id)
                .ok_or_else(|| RpcError::param("id", "no open channel with that peer"));
        }
        if let Some(scid) = crate::wire::tlv::scid_from_str(s) {
            return self
                .channels
                .values()
                .find(|c| c.scid == Some(scid) || c.our_alias == Some(scid))
                .map(|c| c.id)
                .ok_or_else(|| RpcError::param("id", "no channel has that short channel id"));
        }
        let bytes: [u8; 32] = hex::decode(s)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                RpcError::param(
                    "id",
                    "expected a peer id, a channel id or a short channel id",
                )
            })?;
        self.channels
            .get(&ChannelId(bytes))
            .map(|c| c.id)
            .ok_or_else(|| RpcError::param("id", "no such channel"))
    }

    fn close(&mut self, r: rpc::CloseRequest) -> Result<(ChannelId, Instant), RpcError> {
        let id = self.find_channel(&r.id)?;
        let script = match &r.destination {
            Some(d) => self.address("destination", d)?,
            None => self
                .wallet
                .new_address(false)
                .map_err(RpcError::failed)?
                .script_pubkey(),
        };
        let timeout = Duration::from_secs(r.unilateraltimeout.unwrap_or(172_800));
        if r.force || timeout.is_zero() {
            self.drive(id, Event::ForceClose)
                .map_err(|e| RpcError::failed(format!("close: {e}")))?;
            return Ok((id, Instant::now()));
        }
        let feerate = self.closing_feerate();
        self.drive(id, Event::Shutdown { script, feerate })
            .map_err(|e| RpcError::failed(format!("close: {e}")))?;
        Ok((id, Instant::now() + timeout))
    }

    fn invoice(&mut self, r: rpc::InvoiceRequest) -> Result<Value, RpcError> {
        let amount = match &r.amount_msat {
            Value::String(s) if s == "any" => None,
            Value::Number(n) => Some(Msat(n.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                RpcError::param(
                    "amount_msat",
                    "a positive whole number of msat, or \"any\", is expected",
                )
            })?)),
            _ => {
                return Err(RpcError::param(
                    "amount_msat",
                    "a number of msat or \"any\" is expected",
                ))
            }
        };
        if self
            .store
            .invoice_labelled(&r.label)
            .map_err(RpcError::failed)?
            .is_some()
        {
            return Err(RpcError {
                code: 900,
                message: format!("label: an invoice labelled `{}` exists", r.label),
            });
        }
        let preimage = match (&r.preimage, &r.payment_hash) {
            (Some(_), Some(_)) => {
                return Err(RpcError::param(
                    "payment_hash",
                    "give a preimage or (for a hold invoice) a payment_hash, not both",
                ))
            }
            (Some(p), None) => Some(PaymentPreimage(rpc::hex32("preimage", p)?)),
            (None, Some(_)) => None,
            (None, None) => Some(PaymentPreimage(random32())),
        };
        let hash = match (&preimage, &r.payment_hash) {
            (Some(p), _) => p.payment_hash(),
            (None, Some(h)) => PaymentHash(rpc::hex32("payment_hash", h)?),
            (None, None) => unreachable!("a preimage is drawn when neither is given"),
        };
        if self
            .store
            .invoice(&hash.to_string())
            .map_err(RpcError::failed)?
            .is_some()
        {
            return Err(RpcError::param(
                "preimage",
                "an invoice with this preimage exists",
            ));
        }
        let secret = random32();
        let expiry = r.expiry.unwrap_or(604_800);
        let cltv = r.cltv.unwrap_or(pay::DEFAULT_FINAL_CLTV_DELTA);
        let too_far = crate::node::forward::EXPIRY_TOO_FAR_BLOCKS;
        if cltv > too_far {
            return Err(RpcError::param(
                "cltv",
                format!("{cltv} blocks: at most {too_far} (a payer's whole route may not lock funds longer)"),
            ));
        }
        let now = now_secs();
        let currency = match self.opts.network {
            Network::Bitcoin => "bc",
            Network::Signet => "tbs",
            Network::Regtest => "bcrt",
            _ => "tb",
        };
        let bolt11 = pay::make_invoice(
            &self.node_signer,
            currency,
            amount,
            &hash,
            &secret,
            &r.description,
            expiry,
            cltv,
            now,
            self.route_hints(amount),
        )
        .map_err(|e| RpcError::param("description", e))?;
        let rec = InvoiceRecord {
            label: r.label,
            bolt11: bolt11.clone(),
            payment_hash: hash.to_string(),
            preimage: preimage.map(|p| hex::encode(p.0)).unwrap_or_default(),
            payment_secret: hex::encode(secret),
            amount_msat: amount.map(|a| a.0),
            description: r.description,
            created_at: now,
            expires_at: now + expiry,
            min_final_cltv_expiry_delta: cltv,
            paid_at: None,
            amount_received_msat: None,
            paid_by: None,
            hold: preimage.is_none(),
            canceled: false,
            paid_parts: vec![],
        };
        let b = self.store.batch().map_err(RpcError::failed)?;
        b.put_invoice(&rec).map_err(RpcError::failed)?;
        b.commit().map_err(RpcError::failed)?;
        to_value(rpc::InvoiceResponse {
            bolt11,
            payment_hash: rec.payment_hash,
            payment_secret: rec.payment_secret,
            expires_at: rec.expires_at,
        })
    }

    /// BOLT 11 `r` hints for our private channels that can take `amount`
    /// in (Core Lightning's default): each names the peer, the alias it gave
    /// us (BOLT 2: usable in `r` fields) and the peer's policy toward us.
    /// The three with the most inbound room.
    fn route_hints(&self, amount: Option<Msat>) -> Vec<Vec<crate::invoice::RouteHop>> {
        let mut private: Vec<(Msat, crate::invoice::RouteHop)> = self
            .channels
            .values()
            .filter(|c| c.is_usable() && c.gossip.announcement.is_none() && !c.announce)
            .filter(|c| amount.is_none_or(|a| c.receivable() >= a))
            .filter_map(|c| {
                let policy = c.gossip.their_policy?;
                Some((
                    c.receivable(),
                    crate::invoice::RouteHop {
                        pubkey: c.peer,
                        short_channel_id: c.their_alias.or(c.scid)?,
                        fee_base_msat: policy.fee_base_msat,
                        fee_proportional_millionths: policy.fee_proportional_millionths,
                        cltv_expiry_delta: policy.cltv_expiry_delta,
                    },
                ))
            })
            .collect();
        private.sort_by_key(|(room, _)| std::cmp::Reverse(*room));
        private.into_iter().take(3).map(|(_, h)| vec![h]).collect()
    }

    fn listinvoices(&self, r: rpc::ListinvoicesRequest) -> Result<Value, RpcError> {
        let now = now_secs();
        let invoices = self
            .store
            .invoices()
            .map_err(RpcError::failed)?
            .into_iter()
            .filter(|i| r.label.as_ref().is_none_or(|l| *l == i.label))
            .filter(|i| r.payment_hash.as_ref().is_none_or(|h| *h == i.payment_hash))
            .map(|i| rpc::InvoiceInfo {
                status: if i.paid_at.is_some() {
                    "paid"
                } else if now > i.expires_at {
                    "expired"
                } else {
                    "unpaid"
                }
                .into(),
                payment_preimage: i.paid_at.map(|_| i.preimage.clone()),
                label: i.label,
                bolt11: i.bolt11,
                payment_hash: i.payment_hash,
                amount_msat: i.amount_msat,
                description: i.description,
                expires_at: i.expires_at,
                paid_at: i.paid_at,
                amount_received_msat: i.amount_received_msat,
            })
            .collect();
        to_value(rpc::ListinvoicesResponse { invoices })
    }
}

enum Connecting {
    Started(PublicKey),
    Already(Value),
}
