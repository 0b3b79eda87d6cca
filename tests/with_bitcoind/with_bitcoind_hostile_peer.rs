//! A peer cannot take the node down (issue 35). One `lnkit node run` (T)
//! with a channel to a well-behaved node (G), on a real regtest bitcoind,
//! while a raw BOLT 8 peer (H, `common::raw_peer`) attacks it on loopback,
//! one scenario at a time, each for a bounded span:
//!
//! - `ping`s as fast as the socket takes them, never reading;
//! - `ping`s asking for 65,531-byte pongs, never reading;
//! - `channel_update`s and `channel_announcement`s with bad signatures;
//! - unknown odd messages of 16 B to 65 KB;
//! - 200 connections that finish the handshake and never send `init`, and
//!   200 that stall in the middle of it.
//!
//! Judged from outside the node: its resident memory read from `/proc`
//! (a peak bound, and no growth over the second half), the latency of
//! `getinfo` on its socket, G's payments to T over their channel (every
//! one completes, each within a bound), and the attacker's own socket (the
//! node stops reading from it, or hangs up).

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::{PublicKey, Secp256k1};
use common::bitcoind::Bitcoind;
use common::node::{rss_kib, NodeProc};
use common::raw_peer::{flood, key, Flood, RawPeer};
use serde_json::{json, Value};

const BURN: &str = "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw";
/// How long each attack lasts.
const SPAN: Duration = Duration::from_secs(8);
/// The node's memory may rise this much above its resting figure, at peak.
const PEAK_MIB: f64 = 48.0;
/// And grow at most this much over the second half of an attack (flat).
const GROWTH_MIB: f64 = 6.0;
/// `getinfo` answers within this, every time.
const RPC_MS: u128 = 1_000;
/// G's payments to T complete within this, every one.
const PAY_MS: u128 = 5_000;

fn mine(btc: &Bitcoind, n: u32, to: &str) {
    btc.cli(&["generatetoaddress", &n.to_string(), to]);
}

/// What the test saw of the node during one attack.
#[derive(Debug)]
struct Seen {
    rest_mib: f64,
    peak_mib: f64,
    growth_mib: f64,
    rpc_max_ms: u128,
    pay_max_ms: u128,
    paid: usize,
}

/// Run `attack` in a thread while G pays T every 0.5 s, `getinfo` is timed
/// on T, and T's memory is sampled every 50 ms.
fn under_attack<R: Send + 'static>(
    name: &str,
    t: &NodeProc,
    g: &NodeProc,
    attack: impl FnOnce() -> R + Send + 'static,
) -> (Seen, R) {
    let pid = t.pid().unwrap();
    let rest = t.rss_kib().unwrap() as f64 / 1024.0;
    let done = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(vec![]));
    let sampler = {
        let (done, samples) = (done.clone(), samples.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(Ordering::Acquire) {
                if let Some(k) = rss_kib(pid) {
                    samples
                        .lock()
                        .unwrap()
                        .push((start.elapsed(), k as f64 / 1024.0));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let attacker = std::thread::spawn(attack);
    let (mut rpc_max, mut pay_max, mut paid, mut n) = (0, 0, 0, 0);
    let start = Instant::now();
    // The whole span, even when the node hangs up on the attacker early.
    while !attacker.is_finished() || start.elapsed() < SPAN {
        let t0 = Instant::now();
        t.call("getinfo", json!({}));
        rpc_max = rpc_max.max(t0.elapsed().as_millis());
        n += 1;
        let label = format!("{name}-{n}");
        let inv = t.call(
            "invoice",
            json!({"amount_msat": 1_000_000, "label": label, "description": "good peer"}),
        );
        let t0 = Instant::now();
        let res = g.try_call("pay", json!({"bolt11": inv["bolt11"], "retry_for": 10}));
        let ms = t0.elapsed().as_millis();
        assert!(
            res.as_ref().is_ok_and(|v| v["status"] == "complete"),
            "{name}: the good peer's payment {n} failed during the attack: {res:?}\n{}",
            t.log()
        );
        pay_max = pay_max.max(ms);
        paid += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = attacker.join().unwrap();
    done.store(true, Ordering::Release);
    sampler.join().unwrap();
    let samples = samples.lock().unwrap().clone();
    let peak = samples.iter().map(|(_, m)| *m).fold(rest, f64::max);
    let half = samples.len() / 2;
    let mid = samples.get(half).map_or(rest, |(_, m)| *m);
    let end = samples.last().map_or(rest, |(_, m)| *m);
    let seen = Seen {
        rest_mib: rest,
        peak_mib: peak,
        growth_mib: end - mid,
        rpc_max_ms: rpc_max,
        pay_max_ms: pay_max,
        paid,
    };
    (seen, out)
}

fn check(name: &str, seen: &Seen, t: &NodeProc) {
    eprintln!(
        "{name}: resting {:.1} MiB, peak {:.1} MiB, growth over the second half {:+.1} MiB; getinfo max {} ms; {} good payments, max {} ms",
        seen.rest_mib, seen.peak_mib, seen.growth_mib, seen.rpc_max_ms, seen.paid, seen.pay_max_ms
    );
    assert!(
        seen.peak_mib <= seen.rest_mib + PEAK_MIB,
        "{name}: memory peaked at {:.1} MiB from {:.1}\n{}",
        seen.peak_mib,
        seen.rest_mib,
        t.log()
    );
    assert!(
        seen.growth_mib <= GROWTH_MIB,
        "{name}: memory still growing ({:+.1} MiB over the second half)",
        seen.growth_mib
    );
    assert!(
        seen.rpc_max_ms <= RPC_MS,
        "{name}: getinfo took {} ms",
        seen.rpc_max_ms
    );
    assert!(
        seen.pay_max_ms <= PAY_MS,
        "{name}: a payment took {} ms",
        seen.pay_max_ms
    );
    assert!(
        seen.paid >= 3,
        "{name}: only {} payments in the attack",
        seen.paid
    );
}

/// An attacker that did the handshake and `init`.
fn attacker(t: &NodeProc, n: u64) -> RawPeer {
    let id: PublicKey = t.node_id.parse().unwrap();
    let mut p = RawPeer::connect(&format!("127.0.0.1:{}", t.port), &id, &key(n)).unwrap();
    p.init().unwrap();
    p
}

fn ping(num_pong_bytes: u16) -> Vec<u8> {
    let mut m = vec![0, 18];
    m.extend_from_slice(&num_pong_bytes.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m
}

fn regtest_chain_hash() -> [u8; 32] {
    bitcoin::constants::ChainHash::using_genesis_block(bitcoin::Network::Regtest).to_bytes()
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

/// A `channel_update` for `scid` whose signature is not its node's.
fn forged_update(scid: u64, i: u64) -> Vec<u8> {
    let mut m = vec![1, 2];
    m.extend_from_slice(&[1; 64]);
    m.extend_from_slice(&regtest_chain_hash());
    m.extend_from_slice(&scid.to_be_bytes());
    m.extend_from_slice(&(now() + (i % 1000) as u32).to_be_bytes());
    m.extend_from_slice(&[1, (i % 2) as u8]);
    m.extend_from_slice(&40u16.to_be_bytes());
    m.extend_from_slice(&1000u64.to_be_bytes());
    m.extend_from_slice(&1000u32.to_be_bytes());
    m.extend_from_slice(&10u32.to_be_bytes());
    m.extend_from_slice(&100_000_000u64.to_be_bytes());
    m
}

/// A `channel_announcement` for a made-up channel, signed by nobody.
fn forged_announcement(i: u64) -> Vec<u8> {
    let secp = Secp256k1::new();
    let mut nodes = [
        PublicKey::from_secret_key(&secp, &key(1_000 + (i % 50))),
        PublicKey::from_secret_key(&secp, &key(2_000 + (i % 50))),
    ];
    nodes.sort_by_key(|k| k.serialize());
    let mut m = vec![1, 0];
    m.extend_from_slice(&[1; 256]);
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&regtest_chain_hash());
    m.extend_from_slice(&(((100 + i) << 40) | 1).to_be_bytes());
    for k in [nodes[0], nodes[1], nodes[0], nodes[1]] {
        m.extend_from_slice(&k.serialize());
    }
    m
}

fn unknown_odd(i: u64) -> Vec<u8> {
    // Type 32769 (odd: BOLT 1 says ignore), 16 B to 65 KB.
    let len = 16 + ((i * 7919) % 65_000) as usize;
    let mut m = vec![0x80, 0x01];
    m.resize(2 + len, 0xab);
    m
}

/// The node stopped reading from the attacker or hung up on it.
fn throttled(name: &str, f: &Flood) {
    eprintln!("{name}: attacker {f:?}");
    assert!(
        f.disconnected_after.is_some() || f.blocked >= Duration::from_secs(1),
        "{name}: the node neither stopped reading nor hung up: {f:?}"
    );
}

fn hung_up(name: &str, f: &Flood) {
    eprintln!("{name}: attacker {f:?}");
    assert!(
        f.disconnected_after.is_some(),
        "{name}: the node did not hang up: {f:?}"
    );
}

#[test]
fn a_hostile_peer_cannot_take_the_node_down() {
    let btc = Bitcoind::start();
    let dir = tempfile::tempdir().unwrap();
    let quiet = ["--log-level", "warn"];
    let t = NodeProc::start_with(dir.path(), "t", &btc, &quiet);
    let g = NodeProc::start_with(dir.path(), "g", &btc, &quiet);
    let addr = g.call("newaddr", json!({}))["bech32"]
        .as_str()
        .unwrap()
        .to_string();
    mine(&btc, 1, &addr);
    mine(&btc, 100, BURN);
    g.until("listfunds", 60, |v| {
        v["outputs"][0]["status"] == "confirmed"
    });
    g.call("connect", json!({"id": t.address()}));
    g.call(
        "fundchannel",
        json!({"id": t.node_id, "amount": 1_000_000, "announce": true}),
    );
    mine(&btc, 6, BURN);
    let listed = t.until("listchannels", 60, |v| {
        v["channels"].as_array().is_some_and(|c| c.len() == 2)
    });
    let scid_str = listed["channels"][0]["short_channel_id"]
        .as_str()
        .unwrap()
        .to_string();
    let parts: Vec<u64> = scid_str.split('x').map(|p| p.parse().unwrap()).collect();
    let scid = parts[0] << 40 | parts[1] << 16 | parts[2];
    g.until("listpeerchannels", 30, |v| {
        v["channels"][0]["state"] == "CHANNELD_NORMAL"
    });

    // 1. Pings, never reading.
    let mut h = attacker(&t, 1);
    let (seen, f) = under_attack("ping flood", &t, &g, move || {
        flood(&mut h, SPAN, |_| ping(4))
    });
    check("ping flood", &seen, &t);
    throttled("ping flood", &f);

    // 2. Pings asking for the largest pongs, never reading.
    let mut h = attacker(&t, 2);
    let (seen, f) = under_attack("big-pong pings", &t, &g, move || {
        flood(&mut h, SPAN, |_| ping(65_531))
    });
    check("big-pong pings", &seen, &t);
    throttled("big-pong pings", &f);

    // 3. channel_updates of a channel the node knows, with bad signatures.
    let mut h = attacker(&t, 3);
    let (seen, f) = under_attack("forged channel_updates", &t, &g, move || {
        flood(&mut h, SPAN, |i| forged_update(scid, i))
    });
    check("forged channel_updates", &seen, &t);
    hung_up("forged channel_updates", &f);

    // 4. channel_announcements with bad signatures.
    let mut h = attacker(&t, 4);
    let (seen, f) = under_attack("forged channel_announcements", &t, &g, move || {
        flood(&mut h, SPAN, forged_announcement)
    });
    check("forged channel_announcements", &seen, &t);
    hung_up("forged channel_announcements", &f);

    // 5. Unknown odd messages (BOLT 1: ignored): memory stays bounded.
    let mut h = attacker(&t, 5);
    let (seen, f) = under_attack("unknown odd messages", &t, &g, move || {
        flood(&mut h, SPAN, unknown_odd)
    });
    check("unknown odd messages", &seen, &t);
    eprintln!("unknown odd messages: attacker {f:?}");

    // 6. 200 connections silent after the handshake, 200 stalled in it.
    let id: PublicKey = t.node_id.parse().unwrap();
    let at = format!("127.0.0.1:{}", t.port);
    let (seen, closed) = under_attack("idle connections", &t, &g, move || {
        let mut silent = vec![];
        for n in 0..200 {
            if let Ok(p) = RawPeer::connect(&at, &id, &key(100 + n)) {
                silent.push(p.stream);
            }
        }
        let mut stalled = vec![];
        for _ in 0..200 {
            if let Ok(mut s) = std::net::TcpStream::connect(&at) {
                use std::io::Write;
                let _ = s.write_all(&[0u8; 10]); // a tenth of act one
                stalled.push(s);
            }
        }
        // Every one is closed by the node, within a bound.
        let start = Instant::now();
        let mut open: Vec<std::net::TcpStream> = silent.into_iter().chain(stalled).collect();
        let mut last_closed = Duration::ZERO;
        while !open.is_empty() && start.elapsed() < Duration::from_secs(30) {
            open.retain(|s| {
                use std::io::Read;
                s.set_nonblocking(true).unwrap();
                let mut b = [0u8; 4096];
                match (&*s).read(&mut b) {
                    Ok(0) => false,
                    Ok(_) => true,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
                    Err(_) => false,
                }
            });
            last_closed = start.elapsed();
            std::thread::sleep(Duration::from_millis(100));
        }
        (open.len(), last_closed)
    });
    check("idle connections", &seen, &t);
    eprintln!(
        "idle connections: {} still open; the last closed {:?} after they were made",
        closed.0, closed.1
    );
    assert_eq!(closed.0, 0, "connections the node never closed");
    assert!(closed.1 <= Duration::from_secs(20));

    // After it all: the node still serves its good peer.
    let inv = t.call(
        "invoice",
        json!({"amount_msat": 5_000_000, "label": "after", "description": "after"}),
    );
    let paid: Value = g.call("pay", json!({"bolt11": inv["bolt11"]}));
    assert_eq!(paid["status"], "complete");
}
