//! `lnkit wire connect`: open a TCP connection to `pubkey@host:port`, do the
//! BOLT 8 handshake, exchange `init`, send a `ping`, and print every message
//! received as one JSON line, until a count or a timeout.

use std::io::Write;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bitcoin::secp256k1::{rand, PublicKey, Secp256k1, SecretKey};
use serde_json::{json, Value};

use super::input::{self, Input};
use super::wire::message_json;
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

/// Run `lnkit wire connect`: JSON lines on stdout, nothing else.
pub fn connect(input: &Input, ex: &mut Explain) -> StepResult {
    let peer = input.req("peer", |v| {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| "expected pubkey@host:port".into())
    })?;
    let (key, addr) = peer
        .split_once('@')
        .ok_or_else(|| input.error("peer", "expected pubkey@host:port"))?;
    let remote = input::pubkey(&Value::String(key.into())).map_err(|e| input.error("peer", e))?;
    let count = input.opt("count", input::uint)?.unwrap_or(3);
    let timeout = Duration::from_secs(input.opt("timeout_secs", input::uint)?.unwrap_or(10));
    let local = input
        .opt("node_privkey", input::secret_key)?
        .unwrap_or_else(|| SecretKey::new(&mut rand::thread_rng()));
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
                message_json(&m)
            }
            Err(e) => json!({ "undecodable": e.to_string(), "message_hex": hex::encode(&bytes) }),
        };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Run `lnkit wire listen`: accept one connection on 127.0.0.1, print the
/// address to reach us as the first JSON line, then what arrives.
pub fn listen(input: &Input, ex: &mut Explain) -> StepResult {
    let local = input
        .opt("node_privkey", input::secret_key)?
        .unwrap_or_else(|| SecretKey::new(&mut rand::thread_rng()));
    let port = input.opt("port", input::uint)?.unwrap_or(0);
    let port = u16::try_from(port).map_err(|_| input.error("port", "expected a port number"))?;
    let count = input.opt("count", input::uint)?.unwrap_or(3);
    let timeout = Duration::from_secs(input.opt("timeout_secs", input::uint)?.unwrap_or(10));
    // Loopback only: this is a tool for tests and learners, not a node.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| CliError::failure(format!("bind 127.0.0.1:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::failure(e.to_string()))?;
    let node_id = PublicKey::from_secret_key(&Secp256k1::signing_only(), &local);
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            json!({ "listening": format!("{node_id}@{addr}") })
        );
        let _ = out.flush();
    }
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
