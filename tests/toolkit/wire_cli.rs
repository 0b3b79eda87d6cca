//! `lnkit wire decode | encode`, and two lnkit processes talking BOLT 8 over loopback.

use crate::common;

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

#[test]
fn transport_pipeline_reproduces_the_bolt8_vector() {
    let v = testdata("bolt08-transport.json");
    let (i, r) = (&v["initiator"][0], &v["responder"][0]);
    let keys = json!({
        "initiator_privkey": i["keys"]["ls_priv"], "initiator_ephemeral": i["keys"]["e_priv"], "responder_pubkey": i["keys"]["rs_pub"],
        "responder_privkey": r["keys"]["ls_priv"], "responder_ephemeral": r["keys"]["e_priv"],
    });
    let a1 = lnkit_json(&["transport", "act1"], &keys).json();
    let a2 = lnkit_json(&["transport", "act2"], &a1).json();
    let a3 = lnkit_json(&["transport", "act3"], &a2).json();
    let done = lnkit_json(&["transport", "finish"], &a3).json();
    let step = |t: &Value, act: &str, f: &str| {
        t["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["act"] == act)
            .unwrap()[f]
            .clone()
    };
    assert_eq!(a1["act1_hex"], step(i, "act1", "output"));
    assert_eq!(a2["act2_hex"], step(r, "act2", "output"));
    assert_eq!(a3["act3_hex"], step(i, "act3", "output"));
    assert_eq!(done["initiator_transport"]["sk"], i["expected_keys"]["sk"]);
    assert_eq!(done["responder_transport"]["rk"], i["expected_keys"]["sk"]);
    assert_eq!(done["initiator_pubkey"], i["keys"]["ls_pub"]);
    let mut st = done;
    st["side"] = json!("initiator");
    st["message_hex"] = v["message_encryption"]["message_plaintext"].clone();
    let enc = lnkit_json(&["transport", "encrypt"], &st).json();
    assert_eq!(
        enc["ciphertext_hex"],
        v["message_encryption"]["outputs"][0]["ciphertext"]
    );
    let mut dec_in = enc.clone();
    dec_in["side"] = json!("responder");
    let dec = lnkit_json(&["transport", "decrypt"], &dec_in).json();
    assert_eq!(dec["message_hex"], "68656c6c6f");
    // A bad MAC at act two, named.
    let mut bad = a2.clone();
    let mut act2 = hex::decode(s(&a2, "act2_hex")).unwrap();
    act2[49] ^= 1;
    bad["act2_hex"] = json!(hex::encode(act2));
    lnkit_json(&["transport", "act3"], &bad).assert_bad_input("act2_hex", &["act 2: bad MAC"]);
    bad["act2_hex"] = json!("00");
    lnkit_json(&["transport", "act3"], &bad)
        .assert_bad_input("act2_hex", &["act 2: expected 50 bytes, got 1"]);
    let mut long = enc.clone();
    long["side"] = json!("initiator");
    long["message_hex"] = json!("00".repeat(65536));
    lnkit_json(&["transport", "encrypt"], &long)
        .assert_bad_input("message_hex", &["over the 65535-byte limit"]);
    let mut trunc = enc;
    trunc["side"] = json!("responder");
    trunc["ciphertext_hex"] = json!("00".repeat(10));
    lnkit_json(&["transport", "decrypt"], &trunc)
        .assert_bad_input("ciphertext_hex", &["truncated"]);
}

#[test]
fn gossip_sign_then_verify() {
    let k = |b: u8| hex::encode([b; 32]);
    let ann = lnkit_json(
        &["gossip", "sign", "--kind", "channel_announcement", "--network", "regtest"],
        &json!({"node_privkey_1": k(0x31), "node_privkey_2": k(0x32), "bitcoin_privkey_1": k(0x41), "bitcoin_privkey_2": k(0x42), "short_channel_id": "103x1x0"}),
    )
    .json();
    // node_id_1 is the lesser node id.
    assert!(s(&ann["message"], "node_id_1") < s(&ann["message"], "node_id_2"));
    let ok = lnkit_json(
        &["gossip", "verify"],
        &json!({"message_hex": ann["message_hex"]}),
    )
    .json();
    assert_eq!(ok["signatures"].as_array().unwrap().len(), 4);
    // A flipped byte in the signed part breaks the signatures.
    let mut bytes = hex::decode(s(&ann, "message_hex")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let run = lnkit_json(
        &["gossip", "verify"],
        &json!({"message_hex": hex::encode(&bytes)}),
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("does not verify"));
    // With a funding transaction whose output 0 pays the 2-of-2 of the bitcoin keys.
    let funding = lnkit_json(&["build-funding", "--network", "regtest"], &json!({
        "inputs": [{"txid": "fd2105607605d2302994ffea703b09f66b6351816ee737a93e42a841ea20bbad", "vout": 0, "amount_sat": 100000000, "script_pubkey": "0014cc1b07838e387deacd0e5232e1e8b49f4c29e484"}],
        "local_funding_pubkey": ann["message"]["bitcoin_key_1"], "remote_funding_pubkey": ann["message"]["bitcoin_key_2"],
        "funding_amount_sat": 1000000, "change_script_pubkey": "0014cc1b07838e387deacd0e5232e1e8b49f4c29e484", "feerate_sat_per_vb": 1})).json();
    let ok = lnkit_json(
        &["gossip", "verify"],
        &json!({"message_hex": ann["message_hex"], "funding_tx_hex": funding["tx_hex"]}),
    )
    .json();
    assert_eq!(ok["funding_output_matches"], true);

    let upd = lnkit_json(
        &["gossip", "sign", "--kind", "channel_update"],
        &json!({"node_privkey": k(0x31), "short_channel_id": "103x1x0", "timestamp": 1700000000, "direction": 1,
                "cltv_expiry_delta": 144, "htlc_minimum_msat": 1000, "fee_base_msat": 1000, "fee_proportional_millionths": 100, "htlc_maximum_msat": 990000000}),
    )
    .json();
    let signer = lnkit::secp256k1::PublicKey::from_secret_key(
        &lnkit::secp256k1::Secp256k1::new(),
        &lnkit::secp256k1::SecretKey::from_slice(&[0x31; 32]).unwrap(),
    );
    lnkit_json(
        &["gossip", "verify"],
        &json!({"message_hex": upd["message_hex"], "node_id": signer.to_string()}),
    )
    .json();
    lnkit_json(
        &["gossip", "verify"],
        &json!({"message_hex": upd["message_hex"]}),
    )
    .assert_bad_input("message_hex", &["give the node_id"]);
    let node = lnkit_json(&["gossip", "sign", "--kind", "node_announcement"], &json!({"node_privkey": k(0x31), "timestamp": 1, "alias": "lnkit", "features": ["var_onion_optin_optional"]})).json();
    lnkit_json(
        &["gossip", "verify"],
        &json!({"message_hex": node["message_hex"]}),
    )
    .json();
}

#[test]
fn wire_and_transport_bad_input_names_the_rule() {
    // The TLV extension rules, by name (BOLT 1 Appendix C).
    lnkit_json(
        &["wire", "decode"],
        &json!({"message_hex": "001000000000ca012a"}),
    )
    .assert_bad_input(
        "message_hex",
        &["init: TLV extension", "unknown even type 202"],
    );
    lnkit_json(
        &["wire", "decode"],
        &json!({"message_hex": "001000000000c90101c90102"}),
    )
    .assert_bad_input("message_hex", &["duplicate type 201"]);
    lnkit_json(
        &["wire", "decode"],
        &json!({"message_hex": "00100000000001"}),
    )
    .assert_bad_input("message_hex", &["truncated"]);

    let v = testdata("bolt08-transport.json");
    let (i, r) = (&v["initiator"][0], &v["responder"][0]);
    let keys = json!({
        "initiator_privkey": i["keys"]["ls_priv"], "initiator_ephemeral": i["keys"]["e_priv"], "responder_pubkey": i["keys"]["rs_pub"],
        "responder_privkey": r["keys"]["ls_priv"], "responder_ephemeral": r["keys"]["e_priv"],
    });
    let a1 = lnkit_json(&["transport", "act1"], &keys).json();
    let mut bad1 = a1.clone();
    bad1["act1_hex"] = json!(format!("00{}{}", "04".repeat(33), "00".repeat(16)));
    lnkit_json(&["transport", "act2"], &bad1)
        .assert_bad_input("act1_hex", &["act 1: the public key is not a valid point"]);
    let a2 = lnkit_json(&["transport", "act2"], &a1).json();
    let mut v1 = a2.clone();
    v1["act2_hex"] = json!(format!("01{}", &s(&a2, "act2_hex")[2..]));
    lnkit_json(&["transport", "act3"], &v1)
        .assert_bad_input("act2_hex", &["act 2: unknown version 1"]);
    let a3 = lnkit_json(&["transport", "act3"], &a2).json();
    let mut bad3 = a3.clone();
    let mut act3 = hex::decode(s(&a3, "act3_hex")).unwrap();
    act3[65] ^= 1;
    bad3["act3_hex"] = json!(hex::encode(act3));
    lnkit_json(&["transport", "finish"], &bad3).assert_bad_input("act3_hex", &["act 3: bad MAC"]);
}
