//! Property tests of the onion:
//! - random routes of 1–27 hops with random payload sizes round-trip through create → peel × n;
//! - an error created at a random hop k decodes to hop k at the origin (with attribution: hold times too);
//! - any single flipped bit of an onion makes the next peel fail (the HMAC, for payload and HMAC bits).

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lnkit::onion::failure::{
    attribution_for_failure, attribution_forward, decode_failure, obfuscate, raw_error_packet,
};
use lnkit::onion::packet::{
    create_onion, peel, shift_size, OnionPacket, PeelError, HOP_PAYLOADS_LEN, PACKET_LEN,
};
use proptest::prelude::*;

fn secret(b: [u8; 32]) -> SecretKey {
    SecretKey::from_slice(&b).unwrap_or(SecretKey::from_slice(&[7; 32]).unwrap())
}

/// A route: node keys and payloads whose entries fit in the 1300 bytes.
fn route() -> impl Strategy<Value = (Vec<SecretKey>, Vec<Vec<u8>>)> {
    (1usize..=27).prop_flat_map(|n| {
        let budget = HOP_PAYLOADS_LEN / n - 35; // room for the length prefix and HMAC
        (
            proptest::collection::vec(any::<[u8; 32]>().prop_map(secret), n),
            proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 2..=budget.clamp(2, 400)),
                n,
            ),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn create_then_peel_every_hop((keys, payloads) in route(), session in any::<[u8; 32]>(), ad in any::<[u8; 32]>()) {
        let secp = Secp256k1::new();
        let hops: Vec<(PublicKey, Vec<u8>)> = keys.iter().zip(&payloads).map(|(k, p)| (PublicKey::from_secret_key(&secp, k), p.clone())).collect();
        prop_assume!(hops.iter().map(|(_, p)| shift_size(p.len())).sum::<usize>() <= HOP_PAYLOADS_LEN);
        let created = create_onion(&secp, &secret(session), &hops, &ad).unwrap();
        let mut packet = OnionPacket::parse_payment(&created.packet.serialize()).unwrap();
        for (i, k) in keys.iter().enumerate() {
            let p = peel(&secp, &packet, k, &ad, None).unwrap();
            prop_assert_eq!(&p.payload, &payloads[i]);
            prop_assert_eq!(p.shared_secret, created.hops[i].shared_secret);
            match p.next {
                Some(next) => { prop_assert!(i + 1 < keys.len()); packet = next; }
                None => prop_assert_eq!(i, keys.len() - 1),
            }
        }
    }

    #[test]
    fn an_error_at_hop_k_decodes_to_hop_k(n in 1usize..=20, k_seed in any::<usize>(), session in any::<[u8; 32]>(), msg in proptest::collection::vec(any::<u8>(), 2..200), holds in proptest::collection::vec(0u32..1000, 20)) {
        let secp = Secp256k1::new();
        let k = k_seed % n;
        let nodes: Vec<PublicKey> = (0..n).map(|i| PublicKey::from_secret_key(&secp, &secret([i as u8 + 1; 32]))).collect();
        let secrets: Vec<[u8; 32]> = lnkit::onion::keys::route_keys(&secp, &secret(session), &nodes).unwrap().iter().map(|h| h.shared_secret).collect();
        let mut packet = raw_error_packet(&secrets[k], &msg, 256);
        let mut attribution = Some(attribution_for_failure(&secrets[k], &packet, holds[k]));
        obfuscate(&secrets[k], &mut packet);
        for i in (0..k).rev() {
            attribution = Some(attribution_forward(&secrets[i], attribution.as_ref(), &packet, holds[i]));
            obfuscate(&secrets[i], &mut packet);
        }
        let d = decode_failure(&secrets, &packet, attribution.as_ref()).unwrap();
        prop_assert_eq!(d.failing_hop, k);
        prop_assert_eq!(d.failure_message, msg);
        prop_assert_eq!(d.attribution_failed_at, None);
        prop_assert_eq!(d.hold_times, holds[..=k].to_vec());
    }

    #[test]
    fn any_flipped_bit_fails_the_next_peel(bit in 0usize..PACKET_LEN * 8, session in any::<[u8; 32]>()) {
        let secp = Secp256k1::new();
        let key = secret([9; 32]);
        let hops = vec![(PublicKey::from_secret_key(&secp, &key), vec![2, 2, 1, 1])];
        let mut bytes = create_onion(&secp, &secret(session), &hops, b"ad").unwrap().packet.serialize();
        bytes[bit / 8] ^= 1 << (bit % 8);
        match OnionPacket::parse_payment(&bytes) {
            // The version byte or the ephemeral key: refused before any HMAC.
            Err(_) => prop_assert!(bit < 34 * 8),
            Ok(p) => {
                let r = peel(&secp, &p, &key, b"ad", None);
                prop_assert_eq!(r, Err(PeelError::HmacMismatch));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The fuzz targets' property on stable: untrusted bytes never panic the decoders.
    #[test]
    fn untrusted_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500), full in proptest::collection::vec(any::<u8>(), PACKET_LEN)) {
        use lnkit::onion::payload::{ENCRYPTED_DATA_TLV, ONIONMSG_TLV, PAYLOAD};
        let secp = Secp256k1::new();
        let key = secret([0x41; 32]);
        for data in [&bytes, &full] {
            if let Ok(p) = OnionPacket::parse(data) {
                let _ = peel(&secp, &p, &key, b"", None);
            }
            for ns in [PAYLOAD, ENCRYPTED_DATA_TLV, ONIONMSG_TLV] {
                let _ = ns.decode(data);
            }
            let _ = lnkit::onion::failure::FailureMessage::decode(data);
            let _ = decode_failure(&[[1; 32], [2; 32]], data, None);
        }
    }
}
