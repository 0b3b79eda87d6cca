//! `lnkit wire decode | encode`, and two lnkit processes talking BOLT 8 over loopback.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{lnkit_json, s, testdata};
use serde_json::{json, Value};

#[test]
fn wire_decode_encode_every_extended_query() {
    for c in testdata("bolt07-extended-queries.json").as_array().unwrap() {
        let d = lnkit_json(&["wire", "decode"], &json!({"message_hex": c["hex"]})).json();
        let e = lnkit_json(&["wire", "encode"], &d).json();
        assert_eq!(e["message_hex"], c["hex"], "{}", d["name"]);
        if d["encoded_short_ids"]["encoding"] == "zlib" {
            assert!(s(&d["encoded_short_ids"], "note").contains("forbids"));
            assert!(d["encoded_short_ids"]["short_channel_ids"]
                .as_array()
                .is_some_and(|a| !a.is_empty()));
        }
    }
}

#[test]
fn wire_init_with_feature_names_both_ways() {
    let e = lnkit_json(
        &["wire", "encode"],
        &json!({"name": "init", "globalfeatures": {"hex": ""}, "features": {"names": ["var_onion_optin_required", "option_static_remotekey_optional", "payment_secret_required"]}}),
    )
    .json();
    let d = lnkit_json(&["wire", "decode"], &e).json();
    assert_eq!(
        d["features"]["names"],
        json!([
            "var_onion_optin_required",
            "option_static_remotekey_optional",
            "payment_secret_required"
        ])
    );
    // An unknown even feature bit is refused; an unknown odd one is fine.
    lnkit_json(
        &["wire", "decode"],
        &json!({"message_hex": "001000000006010000000000"}),
    )
    .assert_bad_input("message_hex", &["unknown required feature bit 40"]);
    lnkit_json(
        &["wire", "decode"],
        &json!({"message_hex": "001000000006020000000000"}),
    )
    .json();
    lnkit_json(&["wire", "decode"], &json!({"message_hex": "8000"}))
        .assert_bad_input("message_hex", &["unknown even message type 32768"]);
    lnkit_json(&["wire", "decode"], &json!({"message_hex": "0012000a"}))
        .assert_bad_input("message_hex", &["truncated in field ignored"]);
    lnkit_json(
        &["wire", "encode"],
        &json!({"name": "ping", "num_pong_bytes": 70000, "ignored": ""}),
    )
    .assert_bad_input("type", &["num_pong_bytes"]);
}

#[test]
fn two_lnkit_processes_handshake_and_ping_pong_over_loopback() {
    let bin = env!("CARGO_BIN_EXE_lnkit");
    let mut listener = Command::new(bin)
        .args([
            "wire",
            "listen",
            "--count",
            "2",
            "--timeout-secs",
            "20",
            "--node-privkey",
            "2121212121212121212121212121212121212121212121212121212121212121",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(listener.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let peer = s(&first, "listening").to_string();
    assert!(peer.starts_with(
        "028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7@127.0.0.1:"
    ));

    let client = Command::new(bin)
        .args([
            "wire",
            "connect",
            "--peer",
            &peer,
            "--count",
            "2",
            "--timeout-secs",
            "20",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    let got: Vec<Value> = String::from_utf8(client.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        got.iter().map(|m| m["name"].clone()).collect::<Vec<_>>(),
        vec![json!("init"), json!("pong")]
    );
    assert_eq!(
        got[1]["ignored"], "00000000",
        "pong carries num_pong_bytes zero bytes"
    );

    let heard: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(
        heard.iter().map(|m| m["name"].clone()).collect::<Vec<_>>(),
        vec![json!("init"), json!("ping")]
    );
    assert!(listener.wait().unwrap().success());
}
