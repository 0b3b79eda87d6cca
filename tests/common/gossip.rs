//! Signed BOLT 7 gossip for the tests, built with the toolkit's signer.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lnkit::wire::gossip::sign;
use lnkit::wire::message::{Message, Value as V};

pub fn regtest_chain_hash() -> [u8; 32] {
    bitcoin::constants::ChainHash::REGTEST.to_bytes()
}

pub fn pk(k: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), k)
}

/// A `channel_announcement` of `scid` on regtest, signed by all four keys (`nodes[0]` must be the lesser id).
pub fn channel_announcement(
    nodes: [&SecretKey; 2],
    bitcoin: [&SecretKey; 2],
    scid: u64,
) -> Vec<u8> {
    let mut m = Message {
        typ: 256,
        name: Some("channel_announcement"),
        fields: vec![
            ("node_signature_1", V::Bytes(vec![0; 64])),
            ("node_signature_2", V::Bytes(vec![0; 64])),
            ("bitcoin_signature_1", V::Bytes(vec![0; 64])),
            ("bitcoin_signature_2", V::Bytes(vec![0; 64])),
            ("features", V::Features(vec![])),
            ("chain_hash", V::Bytes(regtest_chain_hash().to_vec())),
            ("short_channel_id", V::Scid(scid)),
            ("node_id_1", V::Point(pk(nodes[0]))),
            ("node_id_2", V::Point(pk(nodes[1]))),
            ("bitcoin_key_1", V::Point(pk(bitcoin[0]))),
            ("bitcoin_key_2", V::Point(pk(bitcoin[1]))),
        ],
        tlvs: vec![],
        raw: None,
    };
    sign(
        &Secp256k1::new(),
        &mut m,
        &[
            ("node_signature_1", nodes[0]),
            ("node_signature_2", nodes[1]),
            ("bitcoin_signature_1", bitcoin[0]),
            ("bitcoin_signature_2", bitcoin[1]),
        ],
    )
    .unwrap()
}

/// A `channel_update` of `scid`'s direction `channel_flags & 1`, signed by `signer`.
pub fn channel_update(
    scid: u64,
    timestamp: u64,
    channel_flags: u64,
    fee_base_msat: u64,
    signer: &SecretKey,
) -> Vec<u8> {
    let mut m = Message {
        typ: 258,
        name: Some("channel_update"),
        fields: vec![
            ("signature", V::Bytes(vec![0; 64])),
            ("chain_hash", V::Bytes(regtest_chain_hash().to_vec())),
            ("short_channel_id", V::Scid(scid)),
            ("timestamp", V::Uint(timestamp)),
            ("message_flags", V::Uint(1)),
            ("channel_flags", V::Uint(channel_flags)),
            ("cltv_expiry_delta", V::Uint(144)),
            ("htlc_minimum_msat", V::Uint(1000)),
            ("fee_base_msat", V::Uint(fee_base_msat)),
            ("fee_proportional_millionths", V::Uint(100)),
            ("htlc_maximum_msat", V::Uint(990_000_000)),
        ],
        tlvs: vec![],
        raw: None,
    };
    sign(&Secp256k1::new(), &mut m, &[("signature", signer)]).unwrap()
}
