//! BOLT 4 onion test vectors: create and peel, byte for byte.

use crate::common;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use common::{s, testdata};
use lnkit::onion::packet::{create_onion, peel, OnionPacket};
use lnkit::wire::BigSize;

/// The vector's payloads carry their BigSize length prefix; lnkit takes the bare TLV bytes.
fn strip_length(payload: &[u8]) -> Vec<u8> {
    let (len, n) = BigSize::decode(payload).unwrap();
    assert_eq!(len.0 as usize, payload.len() - n);
    payload[n..].to_vec()
}

#[test]
fn onion_test_create_and_peel_every_hop() {
    let v = testdata("bolt04-onion-test.json");
    let g = &v["generate"];
    let secp = Secp256k1::new();
    let session: SecretKey = s(g, "session_key").parse().unwrap();
    let ad = hex::decode(s(g, "associated_data")).unwrap();
    let hops: Vec<(PublicKey, Vec<u8>)> = g["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                s(h, "pubkey").parse().unwrap(),
                strip_length(&hex::decode(s(h, "payload")).unwrap()),
            )
        })
        .collect();
    let created = create_onion(&secp, &session, &hops, &ad).unwrap();
    assert_eq!(hex::encode(created.packet.serialize()), s(&v, "onion"));

    // Each hop peels its layer with its private key and finds its payload.
    let mut packet = OnionPacket::parse_payment(&hex::decode(s(&v, "onion")).unwrap()).unwrap();
    let privkeys = v["decode"].as_array().unwrap();
    for (i, k) in privkeys.iter().enumerate() {
        let key: SecretKey = k.as_str().unwrap().parse().unwrap();
        let peeled = peel(&secp, &packet, &key, &ad, None).unwrap();
        assert_eq!(peeled.payload, hops[i].1, "hop {i}");
        assert_eq!(peeled.shared_secret, created.hops[i].shared_secret);
        match peeled.next {
            Some(next) => packet = next,
            None => assert_eq!(i, privkeys.len() - 1, "only the last hop is final"),
        }
    }
}

use lnkit::onion::failure::{
    attribution_for_failure, attribution_forward, decode_failure, decode_success, fail_back,
    obfuscate, raw_error_packet, wrap_failure, AttributionData, FailureMessage, FailureValue,
};
use lnkit::onion::keys::{generate_key, route_keys};

fn b32(v: &serde_json::Value, f: &str) -> [u8; 32] {
    hex::decode(s(v, f)).unwrap().try_into().unwrap()
}

#[test]
fn onion_error_test_create_wrap_decode() {
    let v = testdata("bolt04-onion-error-test.json");
    let g = &v["generate"];
    let secp = Secp256k1::new();
    let hops = g["hops"].as_array().unwrap();
    // The sender's view: shared secrets from the session key.
    let pubkeys: Vec<PublicKey> = hops
        .iter()
        .map(|h| s(h, "pubkey").parse().unwrap())
        .collect();
    let keys = route_keys(&secp, &s(g, "session_key").parse().unwrap(), &pubkeys).unwrap();
    for (h, k) in hops.iter().zip(&keys) {
        assert_eq!(k.shared_secret, b32(h, "hop_shared_secret"));
        assert_eq!(
            generate_key(b"ammag", &k.shared_secret),
            b32(h, "ammag_key")
        );
    }
    // hops[4] fails with 0x2002 (permanent_node_failure), padded to 256 bytes.
    let last = &hops[4];
    let ss4 = b32(last, "hop_shared_secret");
    assert_eq!(generate_key(b"um", &ss4), b32(last, "um_key"));
    let failure = hex::decode(s(g, "failure_message")).unwrap();
    let mut packet = raw_error_packet(&ss4, &failure, 256);
    assert_eq!(hex::encode(&packet[32..]), s(last, "payload"));
    // The erring node and every hop back obfuscate with their ammag stream.
    for h in hops.iter().rev() {
        obfuscate(&b32(h, "hop_shared_secret"), &mut packet);
    }
    assert_eq!(hex::encode(&packet), s(&v, "errorpacket"));
    // The origin finds hop 4 and its message.
    let secrets: Vec<[u8; 32]> = keys.iter().map(|k| k.shared_secret).collect();
    let decoded = decode_failure(&secrets, &packet, None).unwrap();
    assert_eq!(decoded.failing_hop, 4);
    assert_eq!(decoded.failure_message, failure);
    assert_eq!(
        FailureMessage::decode(&failure).unwrap().name(),
        Some("temporary_node_failure")
    );
}

#[test]
fn attributable_errors_every_step_and_success_hold_times() {
    let v = testdata("bolt04-attributable-errors.json");
    let p = &v["parameters"];
    let secp = Secp256k1::new();
    let hops = p["hops"].as_array().unwrap();
    let pubkeys: Vec<PublicKey> = hops
        .iter()
        .map(|h| s(h, "pubkey").parse().unwrap())
        .collect();
    let keys = route_keys(&secp, &s(p, "session_key").parse().unwrap(), &pubkeys).unwrap();
    let secrets: Vec<[u8; 32]> = keys.iter().map(|k| k.shared_secret).collect();
    // The reference implementation that made this vector hands out the hold
    // times in the order the failure is processed: node 4 reports
    // htlc_hold_time[0] = 1, ..., node 0 reports htlc_hold_time[4] = 5.
    let hold = |node: usize| {
        hops[hops.len() - 1 - node]["htlc_hold_time"]
            .as_u64()
            .unwrap() as u32
    };

    // The failure message: incorrect_or_unknown_payment_details + a TLV extension.
    let fm = &p["failure_message"];
    let msg = FailureMessage {
        code: 0x400f,
        fields: vec![
            (
                "htlc_msat",
                FailureValue::Uint(fm["htlc_msat"].as_u64().unwrap()),
            ),
            ("height", FailureValue::Uint(fm["height"].as_u64().unwrap())),
        ],
        tlvs: vec![lnkit::wire::tlv::Record {
            typ: fm["tlv_type"].as_u64().unwrap(),
            value: hex::decode(s(fm, "tlv_value_hex")).unwrap(),
        }],
    };
    let encoded = msg.encode().unwrap();
    let c = &v["creating"];
    assert!(s(c, "encoded_failure_message").starts_with(&hex::encode(&encoded)));
    // This vector pads failure_len + pad_len to 1024.
    let raw = raw_error_packet(&secrets[4], &encoded, 1024);
    assert_eq!(hex::encode(&raw[32..]), s(c, "payload"));
    assert_eq!(hex::encode(&raw), s(c, "raw_error_packet"));

    let steps = v["forwarding"].as_array().unwrap();
    let mut packet = raw.clone();
    let mut attribution: Option<AttributionData> = None;
    for step in steps {
        let node = step["node"].as_u64().unwrap() as usize;
        let received = packet.clone();
        attribution = Some(match &attribution {
            None => attribution_for_failure(&secrets[node], &received, hold(node)),
            Some(a) => attribution_forward(&secrets[node], Some(a), &received, hold(node)),
        });
        obfuscate(&secrets[node], &mut packet);
        assert_eq!(hex::encode(&packet), s(step, "error_packet"), "node {node}");
        assert_eq!(
            hex::encode(attribution.as_ref().unwrap().0),
            s(step, "attribution_data"),
            "node {node}"
        );
    }
    let decoded = decode_failure(&secrets, &packet, attribution.as_ref()).unwrap();
    assert_eq!(decoded.failing_hop, 4);
    assert_eq!(decoded.failure_message, encoded);
    assert_eq!(
        decoded.hold_times,
        vec![5, 4, 3, 2, 1],
        "in route order: node 0 first"
    );
    assert_eq!(decoded.attribution_failed_at, None);
    assert_eq!(
        FailureMessage::decode(&decoded.failure_message).unwrap(),
        msg
    );

    // Tampering is attributed: node 1 flips a byte of what node 2 handed it.
    // Nodes 1 and 0 sign what they saw, so their HMACs hold; node 2's breaks.
    let mut packet = raw.clone();
    let mut a: Option<AttributionData> = None;
    for node in (0..5).rev() {
        if node == 1 {
            a.as_mut().unwrap().0[0] ^= 1;
        }
        let received = packet.clone();
        a = Some(attribution_forward(
            &secrets[node],
            a.as_ref(),
            &received,
            hold(node),
        ));
        obfuscate(&secrets[node], &mut packet);
    }
    let d = decode_failure(&secrets, &packet, a.as_ref()).unwrap();
    assert_eq!(d.attribution_failed_at, Some(2));
    assert_eq!(
        d.hold_times,
        vec![5, 4],
        "hold times of the hops before the break"
    );
    assert_eq!(
        d.failing_hop, 4,
        "the failure message itself was not touched"
    );

    // Success: the same hold-time attribution with an empty message.
    let mut a: Option<AttributionData> = None;
    for (k, want) in v["returning_success"]["attribution_data"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let node = want["node"].as_u64().unwrap() as usize;
        a = Some(attribution_forward(
            &secrets[node],
            a.as_ref(),
            &[],
            hold(node),
        ));
        assert_eq!(
            hex::encode(a.as_ref().unwrap().0),
            s(want, "attribution_data"),
            "success step {k}"
        );
    }
    // The origin reads every hop's hold time back, each HMAC verified.
    let read = decode_success(&secrets, a.as_ref().unwrap());
    assert_eq!(read.attribution_failed_at, None);
    assert_eq!(read.hold_times, vec![5, 4, 3, 2, 1]);
    // A flipped bit in the first hop's hold time breaks its HMAC: nothing is believed.
    let mut bad = a.unwrap();
    bad.0[3] ^= 1;
    let read = decode_success(&secrets, &bad);
    assert_eq!(read.attribution_failed_at, Some(0), "{read:?}");
    assert!(read.hold_times.is_empty());
    // The node's helpers, erring at node 4 and wrapping back to node 0:
    // the origin finds the erring hop, its message and every hold time.
    let (mut packet, mut at) = fail_back(&secrets[4], &encoded, hold(4));
    for node in (0..4).rev() {
        at = wrap_failure(&secrets[node], &mut packet, Some(&at), hold(node));
    }
    let d = decode_failure(&secrets, &packet, Some(&at)).unwrap();
    assert_eq!(d.failing_hop, 4);
    assert_eq!(d.failure_message, encoded);
    assert_eq!(d.hold_times, vec![5, 4, 3, 2, 1]);
    assert_eq!(d.attribution_failed_at, None);
    // Erring in the middle (node 2): the hops before it still verify.
    let (mut packet, mut at) = fail_back(&secrets[2], &encoded, 7);
    for node in (0..2).rev() {
        at = wrap_failure(&secrets[node], &mut packet, Some(&at), 9);
    }
    let d = decode_failure(&secrets, &packet, Some(&at)).unwrap();
    assert_eq!(d.failing_hop, 2);
    assert_eq!(d.hold_times, vec![9, 9, 7]);
    assert_eq!(d.attribution_failed_at, None);
}

use lnkit::onion::blinding::{create_blinded_path, unblind};
use lnkit::onion::payload::{ENCRYPTED_DATA_TLV, PAYLOAD};
use lnkit::wire::tlv::FieldValue as TlvValue;

#[test]
fn route_blinding_create_and_unblind() {
    let v = testdata("bolt04-route-blinding-test.json");
    let secp = Secp256k1::new();
    let hops = v["generate"]["hops"].as_array().unwrap();
    // Two paths, concatenated: Bob -> Carol (session 0x02), then Dave -> Eve (session 0x01).
    for (start, end) in [(0usize, 2usize), (2, 4)] {
        let session: SecretKey = s(&hops[start], "session_key").parse().unwrap();
        let spec: Vec<(PublicKey, Vec<u8>)> = hops[start..end]
            .iter()
            .map(|h| {
                (
                    s(h, "node_id").parse().unwrap(),
                    hex::decode(s(h, "encoded_tlvs")).unwrap(),
                )
            })
            .collect();
        let path = create_blinded_path(&secp, &session, &spec).unwrap();
        for (got, want) in path.iter().zip(&hops[start..end]) {
            assert_eq!(
                got.path_key.to_string(),
                s(want, "path_key"),
                "{}",
                s(want, "alias")
            );
            assert_eq!(hex::encode(got.shared_secret), s(want, "shared_secret"));
            assert_eq!(hex::encode(got.rho), s(want, "rho"));
            assert_eq!(got.blinded_node_id.to_string(), s(want, "blinded_node_id"));
            assert_eq!(hex::encode(&got.encrypted_data), s(want, "encrypted_data"));
        }
    }
    // Each hop unblinds: its blinded key, its data, the next path key (or Carol's override).
    let route = v["route"]["hops"].as_array().unwrap();
    for (h, r) in v["unblind"]["hops"].as_array().unwrap().iter().zip(route) {
        let u = unblind(
            &secp,
            &s(h, "node_privkey").parse().unwrap(),
            &s(h, "path_key").parse().unwrap(),
            Some(&hex::decode(s(r, "encrypted_data")).unwrap()),
        )
        .unwrap();
        assert_eq!(
            hex::encode(u.blinded_privkey.secret_bytes()),
            s(h, "blinded_privkey")
        );
        assert_eq!(
            hex::encode(u.data.as_ref().unwrap()),
            s(h, "decrypted_data")
        );
        assert_eq!(u.next_path_key.to_string(), s(h, "next_path_key"));
        let records = ENCRYPTED_DATA_TLV.decode(u.data.as_ref().unwrap()).unwrap();
        let override_key = records
            .iter()
            .find(|r| r.name == Some("next_path_key_override"));
        match (h["next_path_key_override"].as_str(), override_key) {
            (Some(want), Some(r)) => {
                assert!(matches!(&r.fields[0].1, TlvValue::Point(p) if p.to_string() == want))
            }
            (None, None) => {}
            other => panic!("override mismatch: {other:?}"),
        }
    }
}

#[test]
fn blinded_payment_onion_create_and_peel_every_hop() {
    let v = testdata("bolt04-blinded-payment-onion-test.json");
    let g = &v["generate"];
    let secp = Secp256k1::new();
    let ad = hex::decode(s(g, "associated_data")).unwrap();
    let hops: Vec<(PublicKey, Vec<u8>)> = g["full_route"]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                s(h, "pubkey").parse().unwrap(),
                strip_length(&hex::decode(s(h, "payload")).unwrap()),
            )
        })
        .collect();
    let created = create_onion(&secp, &s(g, "session_key").parse().unwrap(), &hops, &ad).unwrap();
    assert_eq!(hex::encode(created.packet.serialize()), s(g, "onion"));

    let mut path_key: Option<PublicKey> = None;
    let mut packet = created.packet;
    for (i, h) in v["decrypt"]["hops"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            hex::encode(packet.serialize()),
            s(h, "onion"),
            "{}",
            s(h, "alias")
        );
        let node: SecretKey = s(h, "node_privkey").parse().unwrap();
        let peeled = peel(&secp, &packet, &node, &ad, path_key.as_ref()).unwrap();
        assert_eq!(peeled.payload, hops[i].1);
        let records = PAYLOAD.decode(&peeled.payload).unwrap();
        let field = |name: &str| {
            records
                .iter()
                .find(|r| r.name == Some(name))
                .map(|r| r.fields[0].1.clone())
        };
        // The introduction node finds the path key in its payload; the others get it alongside the onion.
        if let Some(TlvValue::Point(p)) = field("current_path_key") {
            path_key = Some(p);
        }
        if let Some(TlvValue::Bytes(data)) = field("encrypted_recipient_data") {
            let u = unblind(&secp, &node, path_key.as_ref().unwrap(), Some(&data)).unwrap();
            let decrypted = ENCRYPTED_DATA_TLV.decode(u.data.as_ref().unwrap()).unwrap();
            let next = decrypted
                .iter()
                .find(|r| r.name == Some("next_path_key_override"))
                .and_then(|r| match &r.fields[0].1 {
                    TlvValue::Point(p) => Some(*p),
                    _ => None,
                })
                .unwrap_or(u.next_path_key);
            assert_eq!(next.to_string(), s(h, "next_path_key"), "{}", s(h, "alias"));
            path_key = Some(next);
        }
        match peeled.next {
            Some(n) => packet = n,
            None => assert_eq!(s(h, "alias"), "Eve"),
        }
    }
}

use lnkit::onion::payload::{ONIONMSG_TLV, ONION_MESSAGE_TYPE};
use lnkit::wire::tlv::{encode_stream, Record};

/// `onion_message`: `u16 type (513) || path_key || u16 len || onion_message_packet`.
fn onion_message(path_key: &PublicKey, packet: &[u8]) -> Vec<u8> {
    let mut m = ONION_MESSAGE_TYPE.to_be_bytes().to_vec();
    m.extend(path_key.serialize());
    m.extend((packet.len() as u16).to_be_bytes());
    m.extend(packet);
    m
}

#[test]
fn blinded_onion_message_create_and_forward_every_hop() {
    let v = testdata("bolt04-blinded-onion-message-onion-test.json");
    let secp = Secp256k1::new();
    let gen = v["generate"]["hops"].as_array().unwrap();
    // Alice's one-hop path (the sender's, overriding to Dave's path), then Dave's Bob -> Carol -> Dave.
    let mut path = vec![];
    for (start, end) in [(0usize, 1usize), (1, 4)] {
        let session: SecretKey = s(&gen[start], "path_key_secret").parse().unwrap();
        let node_ids = [
            "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619",
            "0324653eac434488002cc06bbfb7f10fe18991e35f9fe4302dbea6d2353dc0ab1c",
            "027f31ebc5462c1fdce1b737ecff52d37d75dea43ce11c74d25aa297165faa2007",
            "032c0b7cf95324a07d05398b240174dc0c2be444d96b159aa6c7f7b1e668680991",
        ];
        let spec: Vec<(PublicKey, Vec<u8>)> = (start..end)
            .map(|i| {
                (
                    node_ids[i].parse().unwrap(),
                    hex::decode(s(&gen[i], "encrypted_data_tlv")).unwrap(),
                )
            })
            .collect();
        path.extend(create_blinded_path(&secp, &session, &spec).unwrap());
    }
    let route = v["route"]["hops"].as_array().unwrap();
    for (i, (got, want)) in path.iter().zip(route).enumerate() {
        assert_eq!(
            got.blinded_node_id.to_string(),
            s(want, "blinded_node_id"),
            "hop {i}"
        );
        assert_eq!(
            hex::encode(&got.encrypted_data),
            s(want, "encrypted_recipient_data"),
            "hop {i}"
        );
        assert_eq!(hex::encode(got.shared_secret), s(&gen[i], "ss"));
    }
    assert_eq!(
        path[0].path_key.to_string(),
        s(&v["route"], "first_path_key")
    );

    // The sender's onion: each blinded hop gets its encrypted data; Dave also a "hello" (odd type 1).
    let hello = hex::decode(s(&v["onionmessage"], "unknown_tag_1")).unwrap();
    let hops: Vec<(PublicKey, Vec<u8>)> = path
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut records = vec![];
            if i == path.len() - 1 {
                records.push(Record {
                    typ: 1,
                    value: hello.clone(),
                });
            }
            records.push(Record {
                typ: 4,
                value: h.encrypted_data.clone(),
            });
            (h.blinded_node_id, encode_stream(&records))
        })
        .collect();
    let created = create_onion(
        &secp,
        &s(&v["generate"], "session_key").parse().unwrap(),
        &hops,
        &[],
    )
    .unwrap();
    assert_eq!(
        hex::encode(created.packet.serialize()),
        s(&v["onionmessage"], "onion_message_packet")
    );

    // Each hop: peel with its blinded key, read its data, forward with the next path key.
    let mut message = onion_message(&path[0].path_key, &created.packet.serialize());
    for h in v["decrypt"]["hops"].as_array().unwrap() {
        assert_eq!(
            hex::encode(&message),
            s(h, "onion_message"),
            "{}",
            s(h, "alias")
        );
        let path_key = PublicKey::from_slice(&message[2..35]).unwrap();
        let packet = OnionPacket::parse(&message[37..]).unwrap();
        let node: SecretKey = s(h, "privkey").parse().unwrap();
        let peeled = peel(&secp, &packet, &node, &[], Some(&path_key)).unwrap();
        let records = ONIONMSG_TLV.decode(&peeled.payload).unwrap();
        let data = match &records
            .iter()
            .find(|r| r.name == Some("encrypted_recipient_data"))
            .unwrap()
            .fields[0]
            .1
        {
            TlvValue::Bytes(b) => b.clone(),
            _ => unreachable!(),
        };
        let u = unblind(&secp, &node, &path_key, Some(&data)).unwrap();
        let tlvs = ENCRYPTED_DATA_TLV.decode(u.data.as_ref().unwrap()).unwrap();
        let point = |name: &str| {
            tlvs.iter()
                .find(|r| r.name == Some(name))
                .and_then(|r| match &r.fields[0].1 {
                    TlvValue::Point(p) => Some(*p),
                    _ => None,
                })
        };
        match peeled.next {
            Some(next) => {
                assert_eq!(
                    point("next_node_id").unwrap().to_string(),
                    s(h, "next_node_id")
                );
                let next_key = point("next_path_key_override").unwrap_or(u.next_path_key);
                message = onion_message(&next_key, &next.serialize());
            }
            None => {
                assert_eq!(s(h, "alias"), "Dave");
                assert!(records.iter().any(|r| r.typ == 1 && r.value == hello));
            }
        }
    }
}
