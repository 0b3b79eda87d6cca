//! BOLT 8 connections on tokio, over the toolkit's `wire::noise`: the three
//! acts, then a reader task that decrypts frames into the node's input queue
//! and a writer task that encrypts what the node sends.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

use crate::signer::NodeSigner;
use crate::wire::noise::{self, Transport, ACT_ONE_LEN, ACT_THREE_LEN, ACT_TWO_LEN};

/// BOLT 8 handshake must finish within this (a peer that stalls is dropped).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A peer's memory, bounded (issue 35: a peer cannot take the node down).
///
/// - Outbound: the node queues at most [`MAX_OUTBOUND`] bytes for a peer;
///   a send past it drops the peer. Past [`PAUSE_READING_AT`] we stop
///   reading from the peer until its queue drains (as LDK pauses reads): a
///   peer that asks for answers and never reads them stops being heard.
/// - Inbound: at most [`MAX_INBOUND`] bytes read from a peer wait for the
///   node; the reader waits for the node before it reads more.
///
/// So a connection holds at most `MAX_OUTBOUND + MAX_INBOUND` (2.25 MiB)
/// of messages, plus one frame being read.
pub const MAX_OUTBOUND: usize = 2 * 1024 * 1024;
/// Outbound bytes queued past which the peer's messages are not read.
pub const PAUSE_READING_AT: usize = 256 * 1024;
/// Inbound bytes of a peer read and not yet handled by the node.
pub const MAX_INBOUND: usize = 256 * 1024;
/// Bulk gossip (a timestamp filter's dump, query replies, relays) goes out
/// only while less than this is queued, so it never crowds out channel messages.
pub const GOSSIP_BELOW: usize = 64 * 1024;

/// What a connection tells the node.
#[derive(Debug)]
pub enum PeerEvent {
    /// A message arrived; the permit holds its share of [`MAX_INBOUND`]
    /// until the node has handled it.
    Message(PublicKey, u64, Vec<u8>, Option<OwnedSemaphorePermit>),
    /// The connection ended.
    Closed(PublicKey, u64, String),
    /// The outbound queue fell below [`GOSSIP_BELOW`] after the node asked
    /// to hear of it ([`Flow::want_drained`]): more bulk gossip may go.
    Drained(PublicKey, u64),
}

/// Milliseconds since the process's first use of a [`Flow`] (a clock that
/// fits an atomic).
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// What the node and a connection's tasks share of its traffic.
#[derive(Debug)]
pub struct Flow {
    /// Outbound bytes handed to the writer and not yet written.
    queued: AtomicUsize,
    /// Outbound bytes handed to the writer, ever.
    enqueued: AtomicU64,
    /// Outbound bytes written, ever.
    written: AtomicU64,
    /// When the writer last made progress, or the queue last became non-empty.
    progress_ms: AtomicU64,
    /// The writer tells a paused reader the queue has drained.
    drained: Notify,
    /// The peer has a channel with us: its messages go first.
    priority: AtomicBool,
    /// The node waits for the queue to fall below [`GOSSIP_BELOW`].
    wants_drained: AtomicBool,
}

impl Flow {
    fn new() -> Self {
        Flow {
            queued: AtomicUsize::new(0),
            enqueued: AtomicU64::new(0),
            written: AtomicU64::new(0),
            progress_ms: AtomicU64::new(now_ms()),
            drained: Notify::new(),
            priority: AtomicBool::new(false),
            wants_drained: AtomicBool::new(false),
        }
    }

    /// Outbound bytes waiting to be written.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Whether the bytes queued up to `offset` (an [`PeerHandle::send`]
    /// answer) have all been written.
    pub fn written_up_to(&self, offset: u64) -> bool {
        self.written.load(Ordering::Acquire) >= offset
    }

    /// How long the writer has had bytes to write and written none.
    pub fn stalled_for(&self) -> Duration {
        if self.queued() == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(now_ms().saturating_sub(self.progress_ms.load(Ordering::Acquire)))
    }

    /// Ask for a [`PeerEvent::Drained`] once the queue falls below [`GOSSIP_BELOW`].
    pub fn want_drained(&self) {
        self.wants_drained.store(true, Ordering::Release);
    }

    /// Mark the peer as one with a channel (its messages go first).
    pub fn set_priority(&self, on: bool) {
        self.priority.store(on, Ordering::Release);
    }
}

/// Where a connection's reader delivers: peers with a channel to the
/// node's urgent queue (with RPC calls), others to its bulk queue, which
/// the node serves only when the urgent one is empty.
#[derive(Clone, Debug)]
pub struct Inboxes {
    /// Peers with channels.
    pub urgent: mpsc::UnboundedSender<PeerEvent>,
    /// Everyone else.
    pub bulk: mpsc::UnboundedSender<PeerEvent>,
}

/// The node's handle on a live connection.
#[derive(Clone, Debug)]
pub struct PeerHandle {
    /// Messages to send (plaintext, type first); dropping every sender closes the connection.
    tx: mpsc::UnboundedSender<Vec<u8>>,
    /// Which connection this is (a reconnection gets a new number).
    pub conn: u64,
    /// The reader task, aborted when we hang up.
    reader: tokio::task::AbortHandle,
    /// The writer task, aborted when we hang up (it may be blocked on a
    /// peer that does not read).
    writer: tokio::task::AbortHandle,
    /// Its traffic.
    pub flow: Arc<Flow>,
}

/// The node would queue more than [`MAX_OUTBOUND`] bytes for a peer.
#[derive(Debug)]
pub struct Overflow;

impl PeerHandle {
    /// Queue a message; the offset its last byte will have in the stream
    /// of everything sent (for [`Flow::written_up_to`]).
    pub fn send(&self, bytes: Vec<u8>) -> Result<u64, Overflow> {
        let len = bytes.len();
        let before = self.flow.queued.fetch_add(len, Ordering::AcqRel);
        if before + len > MAX_OUTBOUND {
            self.flow.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(Overflow);
        }
        if before == 0 {
            self.flow.progress_ms.store(now_ms(), Ordering::Release);
        }
        let offset = self.flow.enqueued.fetch_add(len as u64, Ordering::AcqRel) + len as u64;
        if self.tx.send(bytes).is_err() {
            self.flow.queued.fetch_sub(len, Ordering::AcqRel);
        }
        Ok(offset)
    }

    /// Stop reading now, and stop writing after `grace` (time for a last
    /// `warning` to leave).
    pub fn close(&self, grace: Duration) {
        self.reader.abort();
        let writer = self.writer.clone();
        if grace.is_zero() {
            writer.abort();
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                writer.abort();
            });
        }
    }
}

/// A failure to connect.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP.
    #[error("cannot reach {0}: {1}")]
    Io(String, std::io::Error),
    /// The acts.
    #[error("handshake with {0} failed: {1}")]
    Handshake(String, String),
    /// Too slow.
    #[error("handshake with {0} timed out")]
    Timeout(String),
}

/// Connect to `remote` at `addr` as the initiator.
pub async fn connect(
    addr: &str,
    local: &NodeSigner,
    remote: &PublicKey,
) -> Result<(TcpStream, Transport), ConnectError> {
    let io = |e| ConnectError::Io(addr.to_string(), e);
    let hs = |e: String| ConnectError::Handshake(addr.to_string(), e);
    let work = async {
        let mut stream = TcpStream::connect(addr).await.map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        let secp = Secp256k1::new();
        let ephemeral = SecretKey::new(&mut bitcoin::secp256k1::rand::thread_rng());
        let (act1, st) = local.noise_initiator(remote, &ephemeral);
        stream.write_all(&act1).await.map_err(io)?;
        let mut act2 = [0u8; ACT_TWO_LEN];
        stream.read_exact(&mut act2).await.map_err(io)?;
        let (act3, transport) =
            noise::initiator_act2_act3(&secp, &st, &act2, remote).map_err(|e| hs(e.to_string()))?;
        stream.write_all(&act3).await.map_err(io)?;
        Ok((stream, transport))
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, work)
        .await
        .map_err(|_| ConnectError::Timeout(addr.to_string()))?
}

/// Accept a connection as the responder.
pub async fn accept(
    mut stream: TcpStream,
    local: &NodeSigner,
) -> Result<(TcpStream, Transport), ConnectError> {
    let addr = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let io = |e| ConnectError::Io(addr.clone(), e);
    let work = async {
        stream.set_nodelay(true).map_err(io)?;
        let secp = Secp256k1::new();
        let mut act1 = [0u8; ACT_ONE_LEN];
        stream.read_exact(&mut act1).await.map_err(io)?;
        let st = local
            .noise_responder(&act1)
            .map_err(|e| ConnectError::Handshake(addr.clone(), e.to_string()))?;
        let ephemeral = SecretKey::new(&mut bitcoin::secp256k1::rand::thread_rng());
        let (act2, st) = noise::responder_act2(&secp, &st, &ephemeral);
        stream.write_all(&act2).await.map_err(io)?;
        let mut act3 = [0u8; ACT_THREE_LEN];
        stream.read_exact(&mut act3).await.map_err(io)?;
        let transport = noise::responder_act3(&st, &act3)
            .map_err(|e| ConnectError::Handshake(addr.clone(), e.to_string()))?;
        Ok((stream, transport))
    };
    let res = tokio::time::timeout(HANDSHAKE_TIMEOUT, work).await;
    res.unwrap_or_else(|_| Err(ConnectError::Timeout("an inbound peer".into())))
}

/// Run a connection: a reader and a writer task. The transport's send keys
/// go to the writer, its receive keys to the reader (each uses only its own half).
pub fn spawn(stream: TcpStream, transport: Transport, conn: u64, inboxes: Inboxes) -> PeerHandle {
    let remote = transport.remote_static;
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut sender = transport.clone();
    let mut receiver = transport;
    let flow = Arc::new(Flow::new());
    let budget = Arc::new(Semaphore::new(MAX_INBOUND));
    let drained = inboxes.urgent.clone();
    let (ours, ev) = (flow.clone(), inboxes);
    let reader = tokio::spawn(async move {
        let mut urgent = ours.priority.load(Ordering::Acquire);
        let why = loop {
            // Back-pressure: while the peer leaves what we send unread, we
            // read nothing more of it.
            loop {
                let drained = ours.drained.notified();
                if ours.queued() < PAUSE_READING_AT {
                    break;
                }
                drained.await;
            }
            let mut header = [0u8; 18];
            if let Err(e) = rd.read_exact(&mut header).await {
                break format!("read: {e}");
            }
            let len = match receiver.decrypt_length(&header) {
                Ok(l) => l,
                Err(e) => break format!("transport: {e}"),
            };
            // BOLT 8 lengths are u16: a frame always fits the budget.
            let Ok(permit) = budget.clone().acquire_many_owned(len as u32).await else {
                break "closed".into();
            };
            let mut body = vec![0u8; len + 16];
            if let Err(e) = rd.read_exact(&mut body).await {
                break format!("read: {e}");
            }
            match receiver.decrypt_body(&body, len) {
                Ok(m) => {
                    let priority = ours.priority.load(Ordering::Acquire);
                    if priority != urgent {
                        // Switching queues: what went to the other one is
                        // handled first, so the peer's messages keep their order.
                        while budget.available_permits() + permit.num_permits() < MAX_INBOUND {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        urgent = priority;
                    }
                    let to = if urgent { &ev.urgent } else { &ev.bulk };
                    if to
                        .send(PeerEvent::Message(remote, conn, m, Some(permit)))
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => break format!("transport: {e}"),
            }
        };
        let _ = ev.urgent.send(PeerEvent::Closed(remote, conn, why));
    })
    .abort_handle();
    let theirs = flow.clone();
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let Ok(frame) = sender.encrypt(&m) else { break };
            if wr.write_all(&frame).await.is_err() {
                break;
            }
            theirs.written.fetch_add(m.len() as u64, Ordering::AcqRel);
            theirs.progress_ms.store(now_ms(), Ordering::Release);
            let left = theirs.queued.fetch_sub(m.len(), Ordering::AcqRel) - m.len();
            if left < PAUSE_READING_AT {
                theirs.drained.notify_waiters();
            }
            if left < GOSSIP_BELOW && theirs.wants_drained.swap(false, Ordering::AcqRel) {
                let _ = drained.send(PeerEvent::Drained(remote, conn));
            }
        }
        let _ = wr.shutdown().await;
    })
    .abort_handle();
    PeerHandle {
        tx,
        conn,
        reader,
        writer,
        flow,
    }
}
