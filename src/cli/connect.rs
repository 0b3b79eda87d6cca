//! `lnkit wire connect`: open a TCP connection to `pubkey@host:port`, do the
//! BOLT 8 handshake, exchange `init`, send a `ping`, and print every message
//! received as one JSON line, until a count or a timeout.

use std::io::Write;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bitcoin::secp256k1::{rand, PublicKey, Secp256k1, SecretKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::field::{field_type, Privkey, Uint};
use super::input::{self, Input};
use super::wire_json::{message_out, MessageOut};
use super::{CliError, Explain, StepResult};
use crate::wire::features;
use crate::wire::message::{self, Message, Value as V};
use crate::wire::peer::Peer;

fn init() -> Vec<u8> {
    // var_onion_optin and option_static_remotekey, both optional: a client that only listens.
    let f = features::from_bits(&[9, 13]);
    let m = Message {
        typ: 16,
        name: Some("init"),
        fields: vec![
            ("globalfeatures", V::Features(vec![])),
            ("features", V::Features(f)),
        ],
        tlvs: vec![],
        raw: None,
    };
    message::encode(&m).expect("our init encodes")
}

fn ping() -> Vec<u8> {
    let m = Message {
        typ: 18,
        name: Some("ping"),
        fields: vec![
            ("num_pong_bytes", V::Uint(4)),
            ("ignored", V::Bytes(vec![])),
        ],
        tlvs: vec![],
        raw: None,
    };
    message::encode(&m).expect("our ping encodes")
}

fn peer(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| "expected pubkey@host:port".into())
}

field_type! {
    /// A node's address: `pubkey@host:port`.
    PeerAddr(String), peer, |s| Value::String(s.clone()),
    {"type": "string", "format": "pubkey@host:port"}
}

/// How long a session lasts, and who we are.
#[derive(Deserialize, JsonSchema)]
pub struct SessionIn {
    /// Stop after this many messages (--count; default 3).
    count: Option<Uint>,
    /// Stop after this many seconds (--timeout-secs; default 10).
    timeout_secs: Option<Uint>,
    /// Our node key (--node-privkey; random when absent).
    node_privkey: Option<Privkey>,
}

impl SessionIn {
    fn count(&self) -> u64 {
        self.count.as_ref().map_or(3, |c| c.0)
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.as_ref().map_or(10, |t| t.0))
    }
    fn key(&self) -> SecretKey {
        self.node_privkey
            .as_ref()
            .map_or_else(|| SecretKey::new(&mut rand::thread_rng()), |k| k.0)
    }
}

/// `wire connect`'s peer.
#[derive(Deserialize, JsonSchema)]
pub struct ConnectIn {
    /// The node (--peer).
    peer: PeerAddr,
}

/// `wire listen`'s port.
#[derive(Deserialize, JsonSchema)]
pub struct ListenIn {
    /// The loopback port (--port; default 0, any).
    port: Option<Uint>,
}

/// One JSON line of `wire connect` or `wire listen`.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum LineOut {
    /// `listen`'s first line: the address to reach it.
    Listening { listening: String },
    /// A message received, as `wire decode` prints it.
    Message(MessageOut),
    /// Bytes that are no message.
    Undecodable {
        undecodable: String,
        message_hex: String,
    },
}

fn print_line(out: &mut impl Write, line: LineOut) {
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_value(line).expect("a line serializes")
    );
    let _ = out.flush();
}

/// Run `lnkit wire connect`: JSON lines on stdout, nothing else.
pub fn connect(input: &Input, ex: &mut Explain) -> StepResult {
    let peer = input.typed::<ConnectIn>()?.peer.0;
    let session: SessionIn = input.typed()?;
    let (key, addr) = peer
        .split_once('@')
        .ok_or_else(|| input.error("peer", "expected pubkey@host:port"))?;
    let remote = input::pubkey(&Value::String(key.into())).map_err(|e| input.error("peer", e))?;
    let count = session.count();
    let timeout = session.timeout();
    let local = session.key();
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| input.error("peer", format!("cannot resolve {addr}: {e}")))?
        .next()
        .ok_or_else(|| input.error("peer", format!("{addr} resolves to nothing")))?;
    let stream = TcpStream::connect_timeout(&sock, timeout)
        .map_err(|e| CliError::failure(format!("connect {sock}: {e}")))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| CliError::failure(e.to_string()))?;
    let mut conn = Peer::connect(
        stream,
        &local,
        &remote,
        &SecretKey::new(&mut rand::thread_rng()),
    )
    .map_err(|e| CliError::failure(format!("{sock}: {e}")))?;
    ex.line(format!(
        "handshake done with {remote}; sending init and ping"
    ));
    conn.send(&init())
        .map_err(|e| CliError::failure(e.to_string()))?;
    conn.send(&ping())
        .map_err(|e| CliError::failure(e.to_string()))?;
    print_messages(&mut conn, count, timeout, ex, false);
    Ok(Value::Null)
}

fn pong(num: u64) -> Vec<u8> {
    let m = Message {
        typ: 19,
        name: Some("pong"),
        fields: vec![("ignored", V::Bytes(vec![0; num as usize]))],
        tlvs: vec![],
        raw: None,
    };
    message::encode(&m).expect("our pong encodes")
}

/// Print up to `count` received messages as JSON lines; answer pings when `answer_pings`.
fn print_messages(
    conn: &mut Peer<TcpStream>,
    count: u64,
    timeout: Duration,
    ex: &mut Explain,
    answer_pings: bool,
) {
    let start = Instant::now();
    let mut out = std::io::stdout().lock();
    for _ in 0..count {
        if start.elapsed() > timeout {
            break;
        }
        let bytes = match conn.recv() {
            Ok(b) => b,
            Err(e) => {
                ex.line(format!("stopped: {e}"));
                break;
            }
        };
        let line = match message::decode(&bytes) {
            Ok(m) => {
                if let (true, Some("ping"), Some((_, V::Uint(n)))) =
                    (answer_pings, m.name, m.fields.first())
                {
                    if *n < 65532 {
                        let _ = conn.send(&pong(*n));
                    }
                }
                LineOut::Message(message_out(&m))
            }
            Err(e) => LineOut::Undecodable {
                undecodable: e.to_string(),
                message_hex: hex::encode(&bytes),
            },
        };
        print_line(&mut out, line);
    }
}

/// Run `lnkit wire listen`: accept one connection on 127.0.0.1, print the
/// address to reach us as the first JSON line, then what arrives.
pub fn listen(input: &Input, ex: &mut Explain) -> StepResult {
    let session: SessionIn = input.typed()?;
    let local = session.key();
    let port = input.typed::<ListenIn>()?.port.map_or(0, |p| p.0);
    let port = u16::try_from(port).map_err(|_| input.error("port", "expected a port number"))?;
    let count = session.count();
    let timeout = session.timeout();
    // Loopback only: this is a tool for tests and learners, not a node.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| CliError::failure(format!("bind 127.0.0.1:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::failure(e.to_string()))?;
    let node_id = PublicKey::from_secret_key(&Secp256k1::signing_only(), &local);
    print_line(
        &mut std::io::stdout().lock(),
        LineOut::Listening {
            listening: format!("{node_id}@{addr}"),
        },
    );
    let (stream, from) = listener
        .accept()
        .map_err(|e| CliError::failure(format!("accept: {e}")))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| CliError::failure(e.to_string()))?;
    let mut conn = Peer::accept(stream, &local, &SecretKey::new(&mut rand::thread_rng()))
        .map_err(|e| CliError::failure(format!("{from}: {e}")))?;
    ex.line(format!(
        "handshake done with {} from {from}",
        conn.remote_static()
    ));
    conn.send(&init())
        .map_err(|e| CliError::failure(e.to_string()))?;
    print_messages(&mut conn, count, timeout, ex, true);
    Ok(Value::Null)
}
