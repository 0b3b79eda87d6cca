//! BOLT 8 connections on tokio, over the toolkit's `wire::noise`: the three
//! acts, then a reader task that decrypts frames into the node's input queue
//! and a writer task that encrypts what the node sends.

use std::time::Duration;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::signer::NodeSigner;
use crate::wire::noise::{self, Transport, ACT_ONE_LEN, ACT_THREE_LEN, ACT_TWO_LEN};

/// BOLT 8 handshake must finish within this (a peer that stalls is dropped).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection tells the node.
#[derive(Debug)]
pub enum PeerEvent {
    /// A message arrived.
    Message(PublicKey, u64, Vec<u8>),
    /// The connection ended.
    Closed(PublicKey, u64, String),
}

/// The node's handle on a live connection.
#[derive(Clone, Debug)]
pub struct PeerHandle {
    /// Messages to send (plaintext, type first); dropping every sender closes the connection.
    pub tx: mpsc::UnboundedSender<Vec<u8>>,
    /// Which connection this is (a reconnection gets a new number).
    pub conn: u64,
    /// The reader task, aborted when we hang up.
    pub reader: tokio::task::AbortHandle,
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
pub fn spawn(
    stream: TcpStream,
    transport: Transport,
    conn: u64,
    events: mpsc::UnboundedSender<PeerEvent>,
) -> PeerHandle {
    let remote = transport.remote_static;
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut sender = transport.clone();
    let mut receiver = transport;
    let ev = events.clone();
    let reader = tokio::spawn(async move {
        let why = loop {
            let mut header = [0u8; 18];
            if let Err(e) = rd.read_exact(&mut header).await {
                break format!("read: {e}");
            }
            let len = match receiver.decrypt_length(&header) {
                Ok(l) => l,
                Err(e) => break format!("transport: {e}"),
            };
            let mut body = vec![0u8; len + 16];
            if let Err(e) = rd.read_exact(&mut body).await {
                break format!("read: {e}");
            }
            match receiver.decrypt_body(&body, len) {
                Ok(m) => {
                    if ev.send(PeerEvent::Message(remote, conn, m)).is_err() {
                        return;
                    }
                }
                Err(e) => break format!("transport: {e}"),
            }
        };
        let _ = ev.send(PeerEvent::Closed(remote, conn, why));
    })
    .abort_handle();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let Ok(frame) = sender.encrypt(&m) else { break };
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    PeerHandle { tx, conn, reader }
}
