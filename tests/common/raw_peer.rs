//! A raw BOLT 8 peer for the hostile-peer tests: the handshake by the
//! library's `wire::noise` (golden-tested on BOLT 8's vectors), then
//! whatever bytes a scenario sends, read or left unread as it chooses.
//! Blocking sockets with timeouts: nothing here waits without a bound.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lnkit::wire::noise::{self, Transport, ACT_TWO_LEN};

/// A connection that finished the handshake.
pub struct RawPeer {
    pub stream: TcpStream,
    transport: Transport,
}

/// A secret key from a number (distinct peers, reproducible).
pub fn key(n: u64) -> SecretKey {
    let mut b = [0u8; 32];
    b[24..].copy_from_slice(&n.to_be_bytes());
    b[0] = 0x42;
    SecretKey::from_slice(&b).unwrap()
}

impl RawPeer {
    /// TCP, then the three acts, as the initiator with static key `ours`.
    pub fn connect(addr: &str, remote: &PublicKey, ours: &SecretKey) -> std::io::Result<RawPeer> {
        let secp = Secp256k1::new();
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        let ephemeral = key(u64::from(rand_u32()) << 8 | 1);
        let (act1, st) = noise::initiator_act1(&secp, ours, remote, &ephemeral);
        stream.write_all(&act1)?;
        let mut act2 = [0u8; ACT_TWO_LEN];
        stream.read_exact(&mut act2)?;
        let (act3, transport) = noise::initiator_act2_act3(&secp, &st, &act2, remote)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        stream.write_all(&act3)?;
        Ok(RawPeer { stream, transport })
    }

    /// One message, encrypted as a BOLT 8 frame.
    pub fn frame(&mut self, msg: &[u8]) -> Vec<u8> {
        self.transport.encrypt(msg).unwrap()
    }

    /// Send one message.
    pub fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
        let f = self.frame(msg);
        self.stream.write_all(&f)
    }

    /// Read one message (within the socket's read timeout).
    pub fn recv(&mut self) -> std::io::Result<Vec<u8>> {
        let mut header = [0u8; 18];
        self.stream.read_exact(&mut header)?;
        let len = self
            .transport
            .decrypt_length(&header)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut body = vec![0u8; len + 16];
        self.stream.read_exact(&mut body)?;
        self.transport
            .decrypt_body(&body, len)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// BOLT 1 `init` with no features, after reading the node's.
    pub fn init(&mut self) -> std::io::Result<()> {
        let theirs = self.recv()?;
        assert_eq!(&theirs[..2], &[0, 16], "the node's first message is init");
        self.send(&[0, 16, 0, 0, 0, 0])
    }
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() as u32
}

/// What a flood did: bytes written, how long writes were blocked (the
/// node stopped reading), and when (since the start) the node hung up.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flood {
    pub messages: u64,
    pub bytes: u64,
    pub blocked: Duration,
    pub disconnected_after: Option<Duration>,
}

/// Write frames made by `next` for `span`, as fast as the socket takes
/// them, never reading. Writes wait at most 100 ms each.
pub fn flood(peer: &mut RawPeer, span: Duration, mut next: impl FnMut(u64) -> Vec<u8>) -> Flood {
    peer.stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let mut out = Flood::default();
    let mut pending: Vec<u8> = vec![];
    let mut at = 0;
    while start.elapsed() < span {
        if at == pending.len() {
            // A batch of frames per write, as a flooder would.
            pending.clear();
            at = 0;
            while pending.len() < 64 * 1024 {
                let msg = next(out.messages);
                out.messages += 1;
                let f = peer.frame(&msg);
                pending.extend_from_slice(&f);
            }
        }
        let t = Instant::now();
        match peer.stream.write(&pending[at..]) {
            Ok(0) => {
                out.disconnected_after = Some(start.elapsed());
                break;
            }
            Ok(n) => {
                at += n;
                out.bytes += n as u64;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                out.blocked += t.elapsed();
            }
            Err(_) => {
                out.disconnected_after = Some(start.elapsed());
                break;
            }
        }
    }
    out
}
