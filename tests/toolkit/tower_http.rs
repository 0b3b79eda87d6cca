//! `lnkit tower run` as a process, over its HTTP API: teos's endpoints and
//! their answers, every refusal with teos's error code, a restart after
//! `kill -9` that keeps the appointments, and the bad flags of `tower run`.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lnkit::message_signing::{recover, sign};
use lnkit::tower::appointment::{Appointment, Locator};
use lnkit::tower::http::post;
use serde_json::{json, Value};

/// A tower process; dropping it kills it (`kill -9`).
struct TowerProc {
    child: Child,
    url: String,
    tower_id: PublicKey,
}

impl Drop for TowerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tower_run(dir: &Path, extra: &[&str]) -> TowerProc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lnkit"))
        .args(["tower", "run", "--datadir"])
        .arg(dir.join("tower"))
        .arg("--chain-dir")
        .arg(dir.join("chain"))
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lnkit tower run");
    // The first line says where it listens; a tower that fails to start closes stdout.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("tower run printed {line:?}: {e}"));
    TowerProc {
        child,
        url: format!("http://{}", started["listen"].as_str().unwrap()),
        tower_id: started["tower_id"].as_str().unwrap().parse().unwrap(),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn call(t: &TowerProc, endpoint: &str, body: &Value) -> (u16, Value) {
    rt().block_on(post(&t.url, endpoint, body, Duration::from_secs(10)))
        .unwrap()
}

/// A request by hand (a GET, a body that is not JSON).
fn raw(t: &TowerProc, method: &str, endpoint: &str, body: &str) -> (u16, Value) {
    let addr = t.url.trim_start_matches("http://");
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} /{endpoint} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status: u16 = text[9..12].parse().unwrap();
    let json = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

struct User {
    key: SecretKey,
    id: PublicKey,
}

fn user(seed: u8) -> User {
    let key = SecretKey::from_slice(&[seed; 32]).unwrap();
    User {
        id: PublicKey::from_secret_key(&Secp256k1::new(), &key),
        key,
    }
}

fn appointment(n: u8, blob_len: usize) -> Appointment {
    Appointment {
        locator: Locator([n; 16]),
        encrypted_blob: vec![n; blob_len],
        to_self_delay: 144,
    }
}

fn add_body(a: &Appointment, u: &User) -> Value {
    json!({
        "appointment": a,
        "signature": sign(&Secp256k1::new(), &a.signed_bytes(), &u.key),
    })
}

fn get_body(l: &Locator, u: &User) -> Value {
    json!({
        "locator": l.to_string(),
        "signature": sign(&Secp256k1::new(), format!("get appointment {l}").as_bytes(), &u.key),
    })
}

fn assert_refused(answer: (u16, Value), status: u16, code: u64, needle: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error_code"], code, "{}", answer.1);
    assert!(
        answer.1["error"].as_str().unwrap().contains(needle),
        "{needle:?} in {}",
        answer.1
    );
}

#[test]
fn teos_api_answers_and_refuses_with_teos_codes_and_keeps_appointments_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let t = tower_run(dir.path(), &["--max-blob", "1000", "--slots", "3"]);
    let secp = Secp256k1::new();
    let alice = user(1);
    let a = appointment(1, 300);

    // GET /ping answers; POST is the API's only other verb.
    assert_eq!(raw(&t, "GET", "ping", "").0, 200);
    assert_refused(raw(&t, "GET", "register", ""), 405, 6, "POST");
    // An unregistered user.
    assert_refused(
        call(&t, "add_appointment", &add_body(&a, &alice)),
        401,
        7,
        "Invalid signature",
    );
    // register: the receipt is signed by the tower's key.
    let (status, reg) = call(&t, "register", &json!({"user_id": alice.id.to_string()}));
    assert_eq!(status, 200, "{reg}");
    assert_eq!(reg["available_slots"], 3);
    let mut receipt = alice.id.serialize().to_vec();
    for f in [
        "available_slots",
        "subscription_start",
        "subscription_expiry",
    ] {
        receipt.extend((reg[f].as_u64().unwrap() as u32).to_be_bytes());
    }
    assert_eq!(
        recover(
            &secp,
            &receipt,
            reg["subscription_signature"].as_str().unwrap()
        )
        .unwrap(),
        t.tower_id
    );
    // add_appointment: accepted, with a receipt over our signature and the start block.
    let body = add_body(&a, &alice);
    let (status, added) = call(&t, "add_appointment", &body);
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["available_slots"], 2);
    let mut signed = body["signature"].as_str().unwrap().as_bytes().to_vec();
    signed.extend((added["start_block"].as_u64().unwrap() as u32).to_be_bytes());
    assert_eq!(
        recover(&secp, &signed, added["signature"].as_str().unwrap()).unwrap(),
        t.tower_id
    );
    // A bad signature: over another appointment, and not a signature at all.
    let mut forged = add_body(&appointment(2, 300), &alice);
    forged["appointment"] = json!(appointment(3, 300));
    assert_refused(
        call(&t, "add_appointment", &forged),
        401,
        7,
        "Invalid signature",
    );
    forged["signature"] = json!("0000");
    assert_refused(
        call(&t, "add_appointment", &forged),
        401,
        7,
        "Invalid signature",
    );
    // An oversized blob; a body over the limit; a blob that is not hex; a missing field; not JSON.
    assert_refused(
        call(
            &t,
            "add_appointment",
            &add_body(&appointment(4, 1001), &alice),
        ),
        400,
        34,
        "1001 bytes, at most 1000",
    );
    assert_refused(
        call(
            &t,
            "add_appointment",
            &add_body(&appointment(4, 1600), &alice),
        ),
        413,
        34,
        "larger than",
    );
    let mut not_hex = add_body(&a, &alice);
    not_hex["appointment"]["encrypted_blob"] = json!("zz");
    assert_refused(
        call(&t, "add_appointment", &not_hex),
        400,
        5,
        "`encrypted_blob` is not hex",
    );
    assert_refused(
        call(&t, "add_appointment", &json!({"signature": "x"})),
        400,
        1,
        "missing field `appointment`",
    );
    let mut short = add_body(&a, &alice);
    short["appointment"]["locator"] = json!("0101");
    assert_refused(
        call(&t, "add_appointment", &short),
        400,
        4,
        "Expected 16, received 2",
    );
    assert_refused(
        raw(&t, "POST", "add_appointment", "{not json"),
        400,
        6,
        "JSON object",
    );
    assert_refused(
        call(&t, "register", &json!({"user_id": "02"})),
        400,
        4,
        "user_id",
    );
    // Out of slots: 3 given, one used, this one takes 1, the next finds none.
    assert_eq!(
        call(
            &t,
            "add_appointment",
            &add_body(&appointment(5, 300), &alice)
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &t,
            "add_appointment",
            &add_body(&appointment(6, 300), &alice)
        )
        .0,
        200
    );
    assert_refused(
        call(
            &t,
            "add_appointment",
            &add_body(&appointment(7, 300), &alice),
        ),
        401,
        7,
        "enough slots",
    );
    // get_appointment and get_subscription_info.
    let (status, got) = call(&t, "get_appointment", &get_body(&a.locator, &alice));
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["status"], "being_watched");
    assert_eq!(got["appointment"], json!(a));
    assert_refused(
        call(&t, "get_appointment", &get_body(&Locator([9; 16]), &alice)),
        404,
        36,
        "not found",
    );
    // Another user cannot read alice's appointment (and is not registered).
    assert_refused(
        call(&t, "get_appointment", &get_body(&a.locator, &user(2))),
        401,
        7,
        "Invalid signature",
    );
    let info_sig = sign(&secp, b"get subscription info", &alice.key);
    let (status, info) = call(&t, "get_subscription_info", &json!({"signature": info_sig}));
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["available_slots"], 0);
    assert_eq!(info["locators"].as_array().unwrap().len(), 3);

    // kill -9, and back: the appointments are still watched.
    let dir_path = dir.path().to_path_buf();
    let id = t.tower_id;
    drop(t);
    let t = tower_run(&dir_path, &["--max-blob", "1000", "--slots", "3"]);
    assert_eq!(t.tower_id, id, "the same key");
    let (status, got) = call(&t, "get_appointment", &get_body(&a.locator, &alice));
    assert_eq!((status, &got["status"]), (200, &json!("being_watched")));
}

#[test]
fn an_expired_subscription_and_too_many_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = tower_run(
        dir.path(),
        &["--subscription-duration", "0", "--requests-per-second", "3"],
    );
    let alice = user(1);
    assert_eq!(
        call(&t, "register", &json!({"user_id": alice.id.to_string()})).0,
        200
    );
    assert_refused(
        call(
            &t,
            "add_appointment",
            &add_body(&appointment(1, 100), &alice),
        ),
        401,
        7,
        "Your subscription expired at",
    );
    // The burst of 3 is spent; the next request within the second is refused.
    let mut refused = None;
    for _ in 0..5 {
        let answer = call(&t, "register", &json!({"user_id": alice.id.to_string()}));
        if answer.0 == 429 {
            refused = Some(answer);
            break;
        }
    }
    assert_refused(
        refused.expect("a 429 within the burst"),
        429,
        32,
        "Too many requests",
    );
}

#[test]
fn tower_run_bad_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("t");
    let c = dir.path().join("c");
    let (d, c) = (d.to_str().unwrap(), c.to_str().unwrap());
    common::lnkit(
        &[
            "tower",
            "run",
            "--datadir",
            d,
            "--chain-dir",
            c,
            "--listen",
            "nowhere",
        ],
        "",
    )
    .assert_bad_input("--listen", &["HOST:PORT"]);
    common::lnkit(&["tower", "run", "--datadir", d], "")
        .assert_bad_input("chain", &["--bitcoind", "--chain-dir"]);
    common::lnkit(
        &[
            "tower",
            "run",
            "--datadir",
            d,
            "--chain-dir",
            c,
            "--requests-per-second",
            "0",
        ],
        "",
    )
    .assert_bad_input("--requests-per-second", &["at least 1"]);
    // A second tower on a datadir in use.
    let first = tower_run(dir.path(), &[]);
    let other_chain = dir.path().join("c2");
    let td = dir.path().join("tower");
    common::lnkit(
        &[
            "tower",
            "run",
            "--datadir",
            td.to_str().unwrap(),
            "--chain-dir",
            other_chain.to_str().unwrap(),
        ],
        "",
    )
    .assert_bad_input("--datadir", &["another tower runs on it"]);
    drop(first);
}

/// A client connection from a given loopback address (127.0.0.0/8 is all loopback on Linux).
fn connect_from(t: &TowerProc, from: &str) -> std::net::TcpStream {
    let addr: std::net::SocketAddr = t.url.trim_start_matches("http://").parse().unwrap();
    let s = rt().block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
        sock.connect(addr).await.unwrap()
    });
    let s = s.into_std().unwrap();
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Whether the tower closed `s` (a read gets EOF or an error), waiting at most `wait`.
fn closed_within(s: &mut std::net::TcpStream, wait: Duration) -> bool {
    use std::io::Read;
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 1024];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Issue 35's discipline on the tower's open API: connections past the
/// caps (16 per address) are closed at once while other clients are
/// served; a client that sends its headers a byte at a time, or never
/// sends its body, is cut within the read timeout (10 s); a body past the
/// limit is refused with 413; and the tower's memory stays flat through it.
#[test]
fn a_hostile_client_cannot_take_the_tower_down() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let t = tower_run(dir.path(), &["--requests-per-second", "1000"]);
    let rss = || common::node::rss_kib(t.child.id()).unwrap();
    let rest = rss();
    // 1. 100 idle connections from one address: past 16, closed at once.
    let mut idle: Vec<std::net::TcpStream> =
        (0..100).map(|_| connect_from(&t, "127.0.0.1")).collect();
    std::thread::sleep(Duration::from_millis(300));
    let closed_at_once = idle
        .iter_mut()
        .filter_map(|s| closed_within(s, Duration::from_millis(50)).then_some(()))
        .count();
    assert_eq!(
        closed_at_once,
        100 - 16,
        "all but 16 idle connections closed at once"
    );
    // Another address is served meanwhile.
    let mut other = connect_from(&t, "127.0.0.2");
    write!(
        other,
        "GET /ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut other, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // 2. Slow clients: headers a byte a second; a body that never comes.
    let mut slow = connect_from(&t, "127.0.0.3");
    let mut bodiless = connect_from(&t, "127.0.0.4");
    write!(
        bodiless,
        "POST /register HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
    )
    .unwrap();
    let start = std::time::Instant::now();
    let mut cut = false;
    for b in b"POST /register HTTP/1.1\r\nhost: x\r\n"
        .iter()
        .cycle()
        .take(30)
    {
        if slow.write_all(&[*b]).is_err() || closed_within(&mut slow, Duration::from_secs(1)) {
            cut = true;
            break;
        }
    }
    let took = start.elapsed();
    assert!(cut, "a client sending a byte a second was never cut");
    assert!(took <= Duration::from_secs(14), "cut after {took:?}");
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut bodiless, &mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a body that never came: {answer:?}"
    );
    // The idle ones are cut by then too.
    for s in idle.iter_mut() {
        assert!(
            closed_within(s, Duration::from_secs(2)),
            "an idle connection outlived the read timeout"
        );
    }
    // 3. A body past the limit: 413, before it is all read, and the client
    // still sending it reads the 413 (the tower lingers: a close with
    // unread input would reset the connection, and a reset can overtake
    // the answer). The pause lets the tower answer mid-body.
    let mut s = connect_from(&t, "127.0.0.5");
    write!(
        s,
        "POST /register HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        1 << 20
    )
    .unwrap();
    let chunk = [b'a'; 64 << 10];
    s.write_all(&chunk).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 1..16 {
        s.write_all(&chunk)
            .expect("the tower reads and discards the rest of a refused body");
    }
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut s, &mut answer).expect("the 413, then the tower's FIN");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    // 4. Requests from 200 addresses: the tower's memory stays flat.
    for i in 0..200u32 {
        let mut s = connect_from(&t, &format!("127.0.{}.{}", 1 + i / 250, 1 + i % 250));
        write!(
            s,
            "GET /ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut s, &mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"));
    }
    let grew = rss().saturating_sub(rest);
    eprintln!("tower: resting {rest} KiB, grew {grew} KiB; slow client cut after {took:?}");
    assert!(grew < 16 * 1024, "the tower grew {grew} KiB");
}

/// The rate limiter forgets addresses whose bucket has refilled: a flood
/// from many addresses leaves at most `MAX_TRACKED` behind, and once their
/// buckets refill, none.
#[test]
fn the_towers_rate_limiter_is_pruned() {
    use lnkit::tower::http::{RateLimiter, MAX_TRACKED};
    let mut l = RateLimiter::default();
    let rate = 1000.0;
    for i in 0..(MAX_TRACKED as u32 * 2) {
        let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        assert!(l.allow(ip, rate));
        assert!(l.tracked() <= MAX_TRACKED, "{} tracked", l.tracked());
    }
    std::thread::sleep(Duration::from_millis(20));
    for i in 0..1024u32 {
        l.allow(
            std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i)),
            rate,
        );
    }
    assert!(
        l.tracked() <= 1024,
        "refilled buckets kept: {}",
        l.tracked()
    );
}
