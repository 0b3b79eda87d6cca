//! The swap contract of `lnkit htlc-script --kind swap`, spent both ways in
//! transactions that Bitcoin Core's script interpreter checks: the claim with
//! the preimage, the refund after the locktime — and each way it must fail.

mod common;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, SecretKey};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};
use common::{lnkit_json, s};
use lnkit::payment::PaymentPreimage;
use lnkit::script::{swap_claim_witness, swap_htlc, swap_refund_witness, SwapTerms};
use lnkit::verify::verify_transaction;
use serde_json::json;

const LOCKTIME: u32 = 800_000;

struct Fixture {
    claim_key: SecretKey,
    refund_key: SecretKey,
    preimage: PaymentPreimage,
    script: ScriptBuf,
    funded: TxOut,
}

fn fixture() -> Fixture {
    let secp = Secp256k1::new();
    let claim_key = SecretKey::from_slice(&[0x51; 32]).unwrap();
    let refund_key = SecretKey::from_slice(&[0x52; 32]).unwrap();
    let preimage = PaymentPreimage([0x77; 32]);
    let script = swap_htlc(&SwapTerms {
        payment_hash: preimage.payment_hash(),
        claim_pubkey: PublicKey::from_secret_key(&secp, &claim_key),
        refund_pubkey: PublicKey::from_secret_key(&secp, &refund_key),
        locktime: LockTime::from_consensus(LOCKTIME),
    });
    let funded = TxOut {
        value: Amount::from_sat(250_000),
        script_pubkey: script.to_p2wsh(),
    };
    Fixture {
        claim_key,
        refund_key,
        preimage,
        script,
        funded,
    }
}

fn spend(_f: &Fixture, lock_time: u32) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(lock_time),
        input: vec![TxIn {
            previous_output: OutPoint::new(Txid::from_byte_array([0xab; 32]), 0),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_LOCKTIME_NO_RBF,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(249_000),
            script_pubkey: ScriptBuf::new_op_return([1, 2, 3]),
        }],
    }
}

fn sign(f: &Fixture, tx: &Transaction, key: &SecretKey) -> bitcoin::secp256k1::ecdsa::Signature {
    let digest = SighashCache::new(tx)
        .p2wsh_signature_hash(0, &f.script, f.funded.value, EcdsaSighashType::All)
        .unwrap();
    Secp256k1::new().sign_ecdsa(&Message::from_digest(digest.to_byte_array()), key)
}

#[test]
fn claim_with_the_preimage_passes_bitcoin_core() {
    let f = fixture();
    let mut tx = spend(&f, 0);
    let sig = sign(&f, &tx, &f.claim_key);
    tx.input[0].witness = swap_claim_witness(&sig, &f.preimage, &f.script);
    verify_transaction(&tx, std::slice::from_ref(&f.funded)).unwrap();

    // A wrong preimage fails.
    let mut bad = tx.clone();
    bad.input[0].witness = swap_claim_witness(&sig, &PaymentPreimage([0x78; 32]), &f.script);
    assert!(verify_transaction(&bad, std::slice::from_ref(&f.funded)).is_err());
    // The refund key cannot claim.
    let mut bad = tx.clone();
    let wrong_sig = sign(&f, &tx, &f.refund_key);
    bad.input[0].witness = swap_claim_witness(&wrong_sig, &f.preimage, &f.script);
    assert!(verify_transaction(&bad, std::slice::from_ref(&f.funded)).is_err());
}

#[test]
fn preimage_of_the_wrong_size_is_rejected_by_the_size_guard() {
    // A 33-byte "preimage" whose SHA256 is the hash: only OP_SIZE 32 stops it.
    let long_preimage = [0x99u8; 33];
    let secp = Secp256k1::new();
    let claim_key = SecretKey::from_slice(&[0x61; 32]).unwrap();
    let script = swap_htlc(&SwapTerms {
        payment_hash: lnkit::payment::PaymentHash(
            bitcoin::hashes::sha256::Hash::hash(&long_preimage).to_byte_array(),
        ),
        claim_pubkey: PublicKey::from_secret_key(&secp, &claim_key),
        refund_pubkey: PublicKey::from_secret_key(&secp, &claim_key),
        locktime: LockTime::from_consensus(LOCKTIME),
    });
    let f = Fixture {
        claim_key,
        refund_key: claim_key,
        preimage: PaymentPreimage([0; 32]),
        funded: TxOut {
            value: Amount::from_sat(10_000),
            script_pubkey: script.to_p2wsh(),
        },
        script,
    };
    let mut tx = spend(&f, 0);
    let sig = sign(&f, &tx, &f.claim_key);
    let mut w = Witness::new();
    let mut sig_bytes = sig.serialize_der().to_vec();
    sig_bytes.push(1);
    w.push(sig_bytes);
    w.push(long_preimage);
    w.push([1u8]);
    w.push(f.script.as_bytes());
    tx.input[0].witness = w;
    assert!(verify_transaction(&tx, std::slice::from_ref(&f.funded)).is_err());
}

#[test]
fn refund_after_the_locktime_passes_and_before_it_fails() {
    let f = fixture();
    let mut tx = spend(&f, LOCKTIME);
    let sig = sign(&f, &tx, &f.refund_key);
    tx.input[0].witness = swap_refund_witness(&sig, &f.script);
    verify_transaction(&tx, std::slice::from_ref(&f.funded)).unwrap();

    let mut early = spend(&f, LOCKTIME - 1);
    let sig = sign(&f, &early, &f.refund_key);
    early.input[0].witness = swap_refund_witness(&sig, &f.script);
    assert!(verify_transaction(&early, std::slice::from_ref(&f.funded)).is_err());

    // A final nSequence disables nLockTime, so CLTV must fail too.
    let mut final_seq = spend(&f, LOCKTIME);
    final_seq.input[0].sequence = Sequence::MAX;
    let sig = sign(&f, &final_seq, &f.refund_key);
    final_seq.input[0].witness = swap_refund_witness(&sig, &f.script);
    assert!(verify_transaction(&final_seq, std::slice::from_ref(&f.funded)).is_err());
}

#[test]
fn htlc_script_swap_cli_matches_the_library() {
    let f = fixture();
    let secp = Secp256k1::new();
    let out = lnkit_json(
        &["htlc-script", "--kind", "swap", "--network", "regtest"],
        &json!({
            "payment_hash": f.preimage.payment_hash().to_string(),
            "claim_pubkey": PublicKey::from_secret_key(&secp, &f.claim_key).to_string(),
            "refund_pubkey": PublicKey::from_secret_key(&secp, &f.refund_key).to_string(),
            "locktime": LOCKTIME,
        }),
    )
    .json();
    assert_eq!(s(&out, "script_hex"), hex::encode(f.script.as_bytes()));
    assert_eq!(
        s(&out, "script_pubkey"),
        hex::encode(f.funded.script_pubkey.as_bytes())
    );
    assert!(s(&out, "address").starts_with("bcrt1q"));
    assert!(s(&out, "asm").starts_with("OP_IF OP_SIZE OP_PUSHBYTES_1 20 OP_EQUALVERIFY OP_SHA256"));
}
