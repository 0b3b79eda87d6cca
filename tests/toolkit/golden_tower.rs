//! The watchtower appointment against The Eye of Satoshi's own test vector,
//! byte for byte.
//!
//! The vector (a transaction, a txid, and the blob teos encrypts the one
//! under the other) is from `talaia-labs/rust-teos`,
//! `teos-common/src/cryptography.rs`, tests `test_encrypt`/`test_decrypt`
//! (commit 42db02157eb379039f16552049e63d886f9da2e7). teos parses the txid
//! with `Txid::from_str`: the displayed (reversed) hex, so key and locator
//! use the txid's internal byte order.

use std::str::FromStr;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{consensus, Transaction, Txid};
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use lnkit::tower::appointment::{decrypt, encrypt, Appointment, DecryptError, Locator};

const HEX_TX: &str = "010000000001010000000000000000000000000000000000000000000000000000000000000000ffffffff54038e830a1b4d696e656420627920416e74506f6f6c373432c2005b005e7a0ae3fabe6d6d7841cd582ead8ea5dd8e3de1173cae6fcd2a53c7362ebb7fb6f815604fe07cbe0200000000000000ac0e060005f90000ffffffff04d9476026000000001976a91411dbe48cc6b617f9c6adaf4d9ed5f625b1c7cb5988ac0000000000000000266a24aa21a9ed7248c6efddd8d99bfddd7f499f0b915bffa8253003cc934df1ff14a81301e2340000000000000000266a24b9e11b6d7054937e13f39529d6ad7e685e9dd4efa426f247d5f5a5bed58cdddb2d0fa60100000000000000002b6a2952534b424c4f434b3a054a68aa5368740e8b3e3c67bce45619c2cfd07d4d4f0936a5612d2d0034fa0a0120000000000000000000000000000000000000000000000000000000000000000000000000";
const HEX_TXID: &str = "d6ac4a5e61657c4c604dcde855a1db74ec6b3e54f32695d72c5e11c7761ea1b4";
const ENC_BLOB: &str = "f64d730654738fdbcd9e65068be17bc1abb44e74f8977985cce48e77209cf97292c862e4eb7190aedc6c53ceddda6871a3988d1d9608e2d0dd7a1f59769e410618a7029001479ac3b9d699b11a08b0ccb04e56bfee88461d9cd3207623a4a543996dd3805323c93cd62069636305aaf159e9cca1063ad1f097c16fb3c2ebbcf09be96512c5d7c195c684569cbe8b7979870b04cada9806b7610569c66021afcc63f46dd4af75716950c4de094334cdf7d9e532820afe29d2621dd79920c7e0ecc10853517dd84ca9d699f712c229e86954c227cba1d0fc87c8d48ac05e2de8a6bc980afdfafcd7064e411c8d76065c06cc7f233e869eaff5bd8ccb5d8f0090d91a8f017355cc115863356ecf06cdda9b309096ea766d033dbd4f70a789a5b03138cfc7e2900a79bb465abf07a7ac45c41b4b30c008d4b299aad9d001cf45acd07e47cdd63c3b13d4b0788b041735225b5db1a43a2142311f695478168e31deb260702976fd70d0724ded84a7c3f89b";

fn tx() -> Transaction {
    consensus::deserialize(&hex::decode(HEX_TX).unwrap()).unwrap()
}

#[test]
fn the_teos_vector_encrypts_byte_for_byte() {
    let txid = Txid::from_str(HEX_TXID).unwrap();
    assert_eq!(hex::encode(encrypt(&tx(), &txid)), ENC_BLOB);
}

#[test]
fn the_teos_vector_decrypts_to_its_transaction() {
    let txid = Txid::from_str(HEX_TXID).unwrap();
    let blob = hex::decode(ENC_BLOB).unwrap();
    assert_eq!(decrypt(&blob, &txid).unwrap(), tx());
}

#[test]
fn the_locator_is_the_txids_first_16_bytes_in_internal_order() {
    let txid = Txid::from_str(HEX_TXID).unwrap();
    // The displayed hex reversed: b4a11e76 … (the serialized txid's first 16 bytes).
    assert_eq!(
        Locator::of(&txid).to_string(),
        "b4a11e76c7115e2cd79526f3543e6bec"
    );
    assert_eq!(
        Locator::from_str("b4a11e76c7115e2cd79526f3543e6bec").unwrap(),
        Locator::of(&txid)
    );
    assert!(Locator::from_str("b4a11e76").is_err());
}

#[test]
fn an_appointment_opens_only_with_its_breach() {
    // The vector's transaction stands in for a penalty; it punishes any breach here.
    let breach = tx();
    let mut other = tx();
    other.lock_time = bitcoin::absolute::LockTime::from_consensus(1);
    let a = Appointment::new(&tx(), &breach.compute_txid(), 144);
    assert_eq!(a.open(&breach).unwrap(), tx());
    assert_eq!(a.open(&other), Err(DecryptError::WrongKey));
    // Same locator, tampered blob: the tag refuses it.
    let mut bad = a.clone();
    bad.encrypted_blob[0] ^= 1;
    assert_eq!(bad.open(&breach), Err(DecryptError::WrongKey));
    // A blob that decrypts to something not a transaction.
    let txid = breach.compute_txid();
    let key = sha256::Hash::hash(txid.as_byte_array());
    let junk = ChaCha20Poly1305::new(key.as_byte_array().into())
        .encrypt(&Default::default(), &b"not a transaction"[..])
        .unwrap();
    assert!(matches!(
        decrypt(&junk, &txid),
        Err(DecryptError::NotATransaction(_))
    ));
}

/// Users and towers sign as LND's and Core Lightning's `signmessage` do;
/// rust-lightning's `message_signing` (what teos itself calls) is the
/// reference: the same key and message give the same zbase32 string, and
/// each side recovers the other's signer.
#[test]
fn message_signatures_match_rust_lightning_byte_for_byte() {
    use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
    use lightning::util::message_signing as ldk;
    use lnkit::message_signing::{recover, sign};

    let secp = Secp256k1::new();
    let breach = tx();
    let appointment = Appointment::new(&tx(), &breach.compute_txid(), 144);
    let messages: [Vec<u8>; 4] = [
        appointment.signed_bytes(),
        b"get subscription info".to_vec(),
        format!("get appointment {}", appointment.locator).into_bytes(),
        vec![],
    ];
    for seed in 1u8..=20 {
        let key = SecretKey::from_slice(&[seed; 32]).unwrap();
        let pk = PublicKey::from_secret_key(&secp, &key);
        for m in &messages {
            let ours = sign(&secp, m, &key);
            assert_eq!(ours, ldk::sign(m, &key), "seed {seed}");
            assert_eq!(ldk::recover_pk(m, &ours).unwrap(), pk);
            assert_eq!(recover(&secp, m, &ldk::sign(m, &key)).unwrap(), pk);
        }
    }
}

#[test]
fn the_signed_bytes_are_locator_blob_and_a_big_endian_u32_delay() {
    let breach = tx();
    let a = Appointment::new(&tx(), &breach.compute_txid(), 0x0102_0304);
    let bytes = a.signed_bytes();
    assert_eq!(&bytes[..16], &a.locator.0);
    assert_eq!(&bytes[16..bytes.len() - 4], &a.encrypted_blob[..]);
    assert_eq!(&bytes[bytes.len() - 4..], &[1, 2, 3, 4]);
}
