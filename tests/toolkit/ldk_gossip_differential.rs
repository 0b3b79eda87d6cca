//! lnkit's signed gossip, read by rust-lightning: LDK decodes the bytes into
//! its own message types, and the signatures verify over the digest LDK
//! computes from its own re-encoding of the signed contents.

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, SecretKey};
use lightning::ln::msgs::{ChannelAnnouncement, ChannelUpdate};
use lightning::util::ser::{LengthReadable, Writeable};

use crate::common;

fn key(b: u8) -> SecretKey {
    SecretKey::from_slice(&[b; 32]).unwrap()
}

#[test]
fn ldk_reads_and_verifies_lnkit_gossip() {
    let secp = Secp256k1::new();
    let pk = |k: &SecretKey| PublicKey::from_secret_key(&secp, k);
    let (mut n1, mut n2, mut b1, mut b2) = (key(0x31), key(0x32), key(0x41), key(0x42));
    if pk(&n1).serialize() > pk(&n2).serialize() {
        std::mem::swap(&mut n1, &mut n2);
        std::mem::swap(&mut b1, &mut b2);
    }
    let bytes =
        common::gossip::channel_announcement([&n1, &n2], [&b1, &b2], (103 << 40) | (1 << 16));
    let ann =
        <ChannelAnnouncement as LengthReadable>::read_from_fixed_length_buffer(&mut &bytes[2..])
            .expect("LDK decodes lnkit's channel_announcement");
    let digest = Message::from_digest(sha256d::Hash::hash(&ann.contents.encode()).to_byte_array());
    for (sig, k) in [
        (&ann.node_signature_1, &n1),
        (&ann.node_signature_2, &n2),
        (&ann.bitcoin_signature_1, &b1),
        (&ann.bitcoin_signature_2, &b2),
    ] {
        secp.verify_ecdsa(&digest, sig, &pk(k))
            .expect("the signature verifies over LDK's digest");
    }
    assert_eq!(ann.contents.short_channel_id, (103 << 40) | (1 << 16));

    let bytes =
        common::gossip::channel_update((103 << 40) | (1 << 16), 1_700_000_000, 1, 1000, &n2);
    let upd = <ChannelUpdate as LengthReadable>::read_from_fixed_length_buffer(&mut &bytes[2..])
        .expect("LDK decodes lnkit's channel_update");
    let digest = Message::from_digest(sha256d::Hash::hash(&upd.contents.encode()).to_byte_array());
    secp.verify_ecdsa(&digest, &upd.signature, &pk(&n2))
        .expect("verifies over LDK's digest");
    assert_eq!(upd.contents.htlc_maximum_msat, 990_000_000);
    assert_eq!(upd.contents.cltv_expiry_delta, 144);
}
