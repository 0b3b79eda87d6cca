//! `lnkit tower appointment | decrypt | watch`: the watchtower's steps on
//! the BOLT 3 vector channel (local cheats with the Appendix C commitment,
//! remote holds the revocation basepoint secret 0x22..22), and their bad input.

use crate::common;

use bitcoin::block::{Header, Version};
use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Block, BlockHash, CompactTarget, Transaction, TxMerkleNode};
use common::vectors::{appendices, cli_input};
use common::{lnkit, lnkit_json, s};
use serde_json::{json, Value};

const REMOTE_REVOCATION_SECRET: &str =
    "2222222222222222222222222222222222222222222222222222222222222222";
const DESTINATION: &str = "0014cc1b07838e387deacd0e5232e1e8b49f4c29e484";

/// The revoked commitment (as `build-commitment` outputs it) and `penalty`'s output for it.
fn breach_and_penalty(split: bool) -> (Value, Value) {
    let all = appendices();
    let a = &all[0];
    let case = a
        .cases
        .iter()
        .find(|c| s(c, "name") == "commitment tx with seven outputs untrimmed (maximum feerate)")
        .unwrap();
    let built = lnkit_json(&["build-commitment"], &cli_input(a, case)).json();
    let mut args = vec![
        "penalty",
        "--verify",
        "--set",
        "feerate_per_kw=2500",
        "--set",
        "destination=0014cc1b07838e387deacd0e5232e1e8b49f4c29e484",
    ];
    if split {
        args.push("--split");
    }
    let secret = format!("revocation_basepoint_secret={REMOTE_REVOCATION_SECRET}");
    args.extend(["--set", &secret]);
    let penalty = lnkit(&args, &built.to_string()).json();
    assert!(DESTINATION.len() == 44);
    (built, penalty)
}

fn tx(v: &Value, f: &str) -> Transaction {
    deserialize_hex(s(v, f)).unwrap()
}

fn block_of(txs: Vec<Transaction>) -> Block {
    Block {
        header: Header {
            version: Version::TWO,
            prev_blockhash: BlockHash::all_zeros(),
            merkle_root: TxMerkleNode::all_zeros(),
            time: 0,
            bits: CompactTarget::from_consensus(0x207fffff),
            nonce: 0,
        },
        txdata: txs,
    }
}

#[test]
fn penalty_piped_into_appointment_then_decrypt_gives_the_penalty_back() {
    let (built, penalty) = breach_and_penalty(false);
    let breach = tx(&built, "signed_tx_hex");
    assert_eq!(
        s(&penalty, "revoked_txid"),
        breach.compute_txid().to_string()
    );
    let appointment = lnkit(&["tower", "appointment"], &penalty.to_string()).json();
    let a = &appointment["appointment"];
    assert_eq!(
        s(a, "locator"),
        hex::encode(&breach.compute_txid().as_byte_array()[..16])
    );
    assert_eq!(a["to_self_delay"], penalty["to_self_delay"]);
    // The blob reveals nothing of the penalty without the breach's txid.
    let justice = tx(&penalty["penalty_txs"][0], "tx_hex");
    assert!(!s(a, "encrypted_blob").contains(&serialize_hex(&justice)[8..40]));

    let mut input = appointment.clone();
    input["breach_tx_hex"] = built["signed_tx_hex"].clone();
    let opened = lnkit_json(&["tower", "decrypt"], &input).json();
    assert_eq!(s(&opened, "penalty_tx_hex"), serialize_hex(&justice));
    assert_eq!(s(&opened, "breach_txid"), breach.compute_txid().to_string());
    assert_eq!(opened["verified"], true);
}

#[test]
fn a_signed_appointment_recovers_to_its_user() {
    let (_, penalty) = breach_and_penalty(false);
    let key = "0101010101010101010101010101010101010101010101010101010101010101";
    let out = lnkit(
        &["tower", "appointment", "--user-secret", key],
        &penalty.to_string(),
    )
    .json();
    let secp = Secp256k1::new();
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[1; 32]).unwrap());
    assert_eq!(s(&out, "user_id"), pk.to_string());
    let a = lnkit::tower::appointment::Appointment {
        locator: s(&out["appointment"], "locator").parse().unwrap(),
        encrypted_blob: hex::decode(s(&out["appointment"], "encrypted_blob")).unwrap(),
        to_self_delay: out["appointment"]["to_self_delay"].as_u64().unwrap() as u32,
    };
    assert_eq!(
        lnkit::message_signing::recover(&secp, &a.signed_bytes(), s(&out, "signature")).unwrap(),
        pk
    );
}

#[test]
fn watch_finds_the_breach_in_a_block_and_refuses_a_blob_that_does_not_open() {
    let (built, penalty) = breach_and_penalty(false);
    let breach = tx(&built, "signed_tx_hex");
    let good = lnkit(&["tower", "appointment"], &penalty.to_string()).json()["appointment"].clone();
    let mut tampered = good.clone();
    let mut blob = hex::decode(s(&good, "encrypted_blob")).unwrap();
    blob[3] ^= 0x40;
    tampered["encrypted_blob"] = json!(hex::encode(blob));
    // A third appointment for a transaction that is not in the block.
    let mut elsewhere = good.clone();
    elsewhere["locator"] = json!("00112233445566778899aabbccddeeff");
    let other = tx(&penalty["penalty_txs"][0], "tx_hex");
    let block = block_of(vec![other, breach.clone()]);
    let out = lnkit_json(
        &["tower", "watch"],
        &json!({"appointments": [good, tampered, elsewhere], "block_hex": serialize_hex(&block)}),
    )
    .json();
    assert_eq!(out["transactions"], 2);
    assert_eq!(out["appointments"], 3);
    let found = out["penalties"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{out}");
    assert_eq!(
        s(&found[0], "breach_txid"),
        breach.compute_txid().to_string()
    );
    assert_eq!(
        s(&found[0], "penalty_tx_hex"),
        s(&penalty["penalty_txs"][0], "tx_hex")
    );
    let refused = out["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{out}");
    assert!(
        s(&refused[0], "reason").contains("does not decrypt"),
        "{out}"
    );
}

#[test]
fn a_blob_that_decrypts_to_a_transaction_not_spending_the_breach_is_refused() {
    let (built, penalty) = breach_and_penalty(false);
    let breach = tx(&built, "signed_tx_hex");
    // A valid blob under the breach's txid, of a transaction that spends something else.
    let unrelated = tx(&built, "signed_tx_hex");
    let a = lnkit::tower::appointment::Appointment::new(&unrelated, &breach.compute_txid(), 144);
    let input = json!({
        "appointment": {"locator": a.locator.to_string(), "encrypted_blob": hex::encode(&a.encrypted_blob)},
        "breach_tx_hex": built["signed_tx_hex"],
    });
    lnkit_json(&["tower", "decrypt"], &input)
        .assert_bad_input("appointment.encrypted_blob", &["spends no output of"]);
    let _ = penalty;
}

#[test]
fn bad_input_names_the_field() {
    let (built, penalty) = breach_and_penalty(false);
    let (_, split) = breach_and_penalty(true);
    // An appointment holds one penalty.
    lnkit(&["tower", "appointment"], &split.to_string())
        .assert_bad_input("penalty_txs", &["an appointment holds one", "--split"]);
    // No breach txid.
    let mut no_txid = penalty.clone();
    no_txid.as_object_mut().unwrap().remove("revoked_txid");
    lnkit_json(&["tower", "appointment"], &no_txid)
        .assert_bad_input("revoked_txid", &["missing required field", "breach_txid"]);
    // A txid the penalty does not spend.
    let mut wrong = penalty.clone();
    wrong["revoked_txid"] = json!("00".repeat(32));
    lnkit_json(&["tower", "appointment"], &wrong)
        .assert_bad_input("revoked_txid", &["spends no output of"]);
    // A bad key to sign with.
    lnkit(
        &["tower", "appointment", "--user-secret", "00"],
        &penalty.to_string(),
    )
    .assert_bad_input("user_secret", &["32-byte secret key"]);
    // decrypt: no appointment; a breach that is not this appointment's.
    lnkit_json(
        &["tower", "decrypt"],
        &json!({"breach_tx_hex": built["signed_tx_hex"]}),
    )
    .assert_bad_input("appointment", &["missing required field"]);
    let appointment = lnkit(&["tower", "appointment"], &penalty.to_string()).json();
    let mut input = appointment.clone();
    input["breach_tx_hex"] = penalty["penalty_txs"][0]["tx_hex"].clone();
    lnkit_json(&["tower", "decrypt"], &input)
        .assert_bad_input("breach_tx_hex", &["is not the appointment's"]);
    let mut bad_locator = appointment.clone();
    bad_locator["appointment"]["locator"] = json!("abcd");
    bad_locator["breach_tx_hex"] = built["signed_tx_hex"].clone();
    lnkit_json(&["tower", "decrypt"], &bad_locator)
        .assert_bad_input("appointment.locator", &["16-byte hex"]);
    // watch: a block that is not one.
    lnkit_json(
        &["tower", "watch"],
        &json!({"appointments": [appointment["appointment"]], "block_hex": "00ff"}),
    )
    .assert_bad_input("block_hex", &["serialized block"]);
    lnkit_json(
        &["tower", "watch"],
        &json!({"appointments": [{"locator": 5}], "block_hex": serialize_hex(&block_of(vec![]))}),
    )
    .assert_bad_input("appointments[0].locator", &["16-byte hex"]);
}

#[test]
fn watch_reads_its_block_from_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    let c = chain.to_str().unwrap();
    let mined = lnkit(
        &["chain", "mine", "2", "--to", DESTINATION, "--chain-dir", c],
        "",
    )
    .json();
    let first = &mined["blocks"][0];
    let coinbase: bitcoin::Txid = s(first, "coinbase_txid").parse().unwrap();
    // An appointment for block 1's coinbase, whose "penalty" spends it without a valid witness.
    let penalty = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![bitcoin::TxIn {
            previous_output: bitcoin::OutPoint::new(coinbase, 0),
            ..Default::default()
        }],
        output: vec![],
    };
    let a = lnkit::tower::appointment::Appointment::new(&penalty, &coinbase, 144);
    let input = json!({ "appointments": [a] });
    let at_1 = lnkit_json(
        &["tower", "watch", "--chain-dir", c, "--height", "1"],
        &input,
    )
    .json();
    assert_eq!(at_1["height"], 1);
    assert_eq!(at_1["block_hash"], first["hash"]);
    assert_eq!(at_1["transactions"], 1);
    let refused = at_1["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{at_1}");
    assert_eq!(s(&refused[0], "locator"), a.locator.to_string());
    assert!(
        s(&refused[0], "reason").contains("does not verify"),
        "{at_1}"
    );
    // By hash, and the tip by default: block 2, no match.
    let second = &mined["blocks"][1];
    let by_hash = lnkit_json(
        &[
            "tower",
            "watch",
            "--chain-dir",
            c,
            "--block-hash",
            s(second, "hash"),
        ],
        &input,
    )
    .json();
    let tip = lnkit_json(&["tower", "watch", "--chain-dir", c], &input).json();
    for out in [by_hash, tip] {
        assert_eq!(out["height"], 2);
        assert!(out["refused"].as_array().unwrap().is_empty());
        assert!(out["penalties"].as_array().unwrap().is_empty());
    }
    lnkit_json(
        &["tower", "watch", "--chain-dir", c, "--height", "9"],
        &input,
    )
    .assert_bad_input("height", &["above the chain's tip (2)"]);
}
