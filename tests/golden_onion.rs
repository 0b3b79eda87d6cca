//! BOLT 4 onion test vectors: create and peel, byte for byte.

mod common;

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
        .map(|h| (s(h, "pubkey").parse().unwrap(), strip_length(&hex::decode(s(h, "payload")).unwrap())))
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
