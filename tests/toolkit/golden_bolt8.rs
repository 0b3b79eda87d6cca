//! BOLT 8 Appendix A: every initiator and responder handshake (failing ones
//! at the exact act where they must fail, with the right error class) and the
//! message-encryption outputs 0, 1, 500, 501, 1000, 1001.

use crate::common;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use common::{s, testdata};
use lnkit::wire::noise::*;
use serde_json::Value;

fn class(e: &HandshakeError) -> String {
    match e {
        HandshakeError::Length { act, .. } => format!("ACT{act}_READ_FAILED"),
        HandshakeError::Version { act, .. } => format!("ACT{act}_BAD_VERSION"),
        HandshakeError::PublicKey(act) => format!("ACT{act}_BAD_PUBKEY"),
        HandshakeError::Ciphertext => "ACT3_BAD_CIPHERTEXT".into(),
        HandshakeError::Tag(act) => format!("ACT{act}_BAD_TAG"),
    }
}

fn step<'a>(t: &'a Value, act: &str) -> &'a Value {
    t["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["act"] == act)
        .unwrap()
}

fn bytes(v: &Value, f: &str) -> Vec<u8> {
    hex::decode(s(v, f)).unwrap()
}

#[test]
fn every_initiator_handshake() {
    let v = testdata("bolt08-transport.json");
    let secp = Secp256k1::new();
    let cases = v["initiator"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for t in cases {
        let k = &t["keys"];
        let ls: SecretKey = s(k, "ls_priv").parse().unwrap();
        let rs: PublicKey = s(k, "rs_pub").parse().unwrap();
        let e: SecretKey = s(k, "e_priv").parse().unwrap();
        let (act1, st) = initiator_act1(&secp, &ls, &rs, &e);
        assert_eq!(
            hex::encode(act1),
            s(step(t, "act1"), "output"),
            "{}",
            s(t, "name")
        );
        let r = initiator_act2_act3(&secp, &st, &bytes(step(t, "act2"), "input"), &rs);
        match t["expected_error"].as_str() {
            None => {
                let (act3, transport) = r.unwrap();
                assert_eq!(hex::encode(act3), s(step(t, "act3"), "output"));
                assert_eq!(hex::encode(transport.sk), s(&t["expected_keys"], "sk"));
                assert_eq!(hex::encode(transport.rk), s(&t["expected_keys"], "rk"));
            }
            Some(err) => {
                assert_eq!(s(t, "error_at_act"), "act2");
                assert_eq!(class(&r.unwrap_err()), err, "{}", s(t, "name"));
            }
        }
    }
}

#[test]
fn every_responder_handshake() {
    let v = testdata("bolt08-transport.json");
    let secp = Secp256k1::new();
    let cases = v["responder"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for t in cases {
        let name = s(t, "name");
        let k = &t["keys"];
        let ls: SecretKey = s(k, "ls_priv").parse().unwrap();
        let e: SecretKey = s(k, "e_priv").parse().unwrap();
        let want = t["expected_error"].as_str();
        let at = t["error_at_act"].as_str();
        let r1 = responder_act1(&secp, &ls, &bytes(step(t, "act1"), "input"));
        if at == Some("act1") {
            assert_eq!(class(&r1.unwrap_err()), want.unwrap(), "{name}");
            continue;
        }
        let (act2, st) = responder_act2(&secp, &r1.unwrap(), &e);
        assert_eq!(hex::encode(act2), s(step(t, "act2"), "output"), "{name}");
        let r3 = responder_act3(&st, &bytes(step(t, "act3"), "input"));
        match want {
            None => {
                let transport = r3.unwrap();
                assert_eq!(hex::encode(transport.sk), s(&t["expected_keys"], "sk"));
                assert_eq!(hex::encode(transport.rk), s(&t["expected_keys"], "rk"));
            }
            Some(err) => {
                assert_eq!(at, Some("act3"));
                assert_eq!(class(&r3.unwrap_err()), err, "{name}");
            }
        }
    }
}

#[test]
fn message_encryption_with_key_rotation() {
    let v = testdata("bolt08-transport.json");
    let m = &v["message_encryption"];
    let b32 = |f: &str| -> [u8; 32] { bytes(m, f).try_into().unwrap() };
    let remote: PublicKey = "028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7"
        .parse()
        .unwrap();
    let mut sender = Transport {
        sk: b32("sk"),
        sn: 0,
        sck: b32("ck"),
        rk: b32("rk"),
        rn: 0,
        rck: b32("ck"),
        remote_static: remote,
    };
    // The receiver's keys are the sender's, swapped.
    let mut receiver = Transport {
        sk: b32("rk"),
        sn: 0,
        sck: b32("ck"),
        rk: b32("sk"),
        rn: 0,
        rck: b32("ck"),
        remote_static: remote,
    };
    let plaintext = bytes(m, "message_plaintext");
    let outputs = m["outputs"].as_array().unwrap();
    let mut checked = 0;
    for i in 0..=1001 {
        let c = sender.encrypt(&plaintext).unwrap();
        if let Some(o) = outputs.iter().find(|o| o["message_index"] == i) {
            assert_eq!(hex::encode(&c), s(o, "ciphertext"), "message {i}");
            checked += 1;
        }
        assert_eq!(receiver.decrypt(&c).unwrap(), plaintext, "message {i}");
    }
    assert_eq!(checked, 6);
}
