//! BOLT 3 Appendix B: Funding Transaction Test Vectors, byte for byte, plus
//! funding transactions from P2WPKH inputs (signed, unsigned, mixed). Every
//! signed transaction is checked by Bitcoin Core's script interpreter
//! (libbitcoinkernel) against the outputs it spends.

use crate::common;

use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::psbt::Psbt;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{
    Address, Amount, CompressedPublicKey, FeeRate, Network, OutPoint, PrivateKey, ScriptBuf,
    Transaction, TxOut, Txid,
};
use common::{lnkit_json, s, testdata};
use lnkit::tx::funding::{build_funding, FundingInput, FundingRequest, InputKind};
use lnkit::verify::{verify_transaction, VerifyError};
use serde_json::{json, Value};

fn appendix_b() -> Value {
    testdata("bolt03-funding-tx.json")["cases"][0].clone()
}

fn key(hex_str: &str) -> PrivateKey {
    PrivateKey::new(hex_str.parse::<SecretKey>().unwrap(), Network::Regtest)
}

fn coinbase_output(i: &Value) -> TxOut {
    let coinbase: Transaction = deserialize_hex(s(i, "block1_coinbase_tx_hex")).unwrap();
    assert_eq!(coinbase.compute_txid().to_string(), s(i, "input_txid"));
    coinbase.output[0].clone()
}

#[test]
fn appendix_b_funding_transaction_library() {
    let c = appendix_b();
    let (i, e) = (&c["inputs"], &c["expected"]);
    let secp = Secp256k1::new();
    let coinbase_key = key(s(i, "block1_coinbase_privkey"));
    // The change goes back to the coinbase key, as P2WPKH (it is in the vector's tx).
    let change = ScriptBuf::new_p2wpkh(
        &CompressedPublicKey::try_from(coinbase_key.public_key(&secp))
            .unwrap()
            .wpubkey_hash(),
    );
    let req = FundingRequest {
        inputs: vec![FundingInput {
            previous_output: OutPoint::new(s(i, "input_txid").parse().unwrap(), 0),
            amount: Amount::from_sat(i["input_satoshis"].as_u64().unwrap()),
            kind: InputKind::P2pkh,
            key: Some(coinbase_key),
            script_pubkey: None,
        }],
        local_funding_pubkey: s(i, "local_funding_pubkey").parse().unwrap(),
        remote_funding_pubkey: s(i, "remote_funding_pubkey").parse().unwrap(),
        funding_amount: Amount::from_sat(i["funding_satoshis"].as_u64().unwrap()),
        change_script: change,
        feerate: FeeRate::from_sat_per_kwu(i["feerate_per_kw"].as_u64().unwrap()),
    };
    let built = build_funding(&secp, &req).unwrap();
    assert_eq!(serialize_hex(&built.payment.tx), s(e, "funding_tx_hex"));
    assert_eq!(
        built.payment.tx.compute_txid().to_string(),
        s(e, "funding_txid")
    );
    assert_eq!(
        hex::encode(built.funding_script.as_bytes()),
        s(e, "funding_witness_script")
    );
    assert_eq!(
        built.funding_output_index as u64,
        e["funding_output_index"].as_u64().unwrap()
    );
    assert_eq!(
        built.payment.change.unwrap().to_sat(),
        e["change_satoshis"].as_u64().unwrap()
    );
    assert!(built.payment.psbt.is_none());

    // Bitcoin Core accepts it against the real coinbase output it spends...
    verify_transaction(&built.payment.tx, &[coinbase_output(i)]).unwrap();
    // ...and the check can fail: the same tx against a different amount or script is rejected.
    let mut wrong = coinbase_output(i);
    wrong.script_pubkey = built.payment.tx.output[1].script_pubkey.clone();
    assert!(matches!(
        verify_transaction(&built.payment.tx, &[wrong]),
        Err(VerifyError::ScriptFailed { input: 0, .. })
    ));
}

#[test]
fn appendix_b_funding_transaction_cli() {
    let c = appendix_b();
    let (i, e) = (&c["inputs"], &c["expected"]);
    let out = lnkit_json(
        &["build-funding", "--verify", "--network", "regtest"],
        &json!({
            "inputs": [{
                "txid": i["input_txid"], "vout": 0, "amount_sat": i["input_satoshis"],
                "type": "p2pkh", "privkey": i["block1_coinbase_privkey_base58"],
            }],
            "local_funding_pubkey": i["local_funding_pubkey"],
            "remote_funding_pubkey": i["remote_funding_pubkey"],
            "funding_amount_sat": i["funding_satoshis"],
            "change_script_pubkey": "00143ca33c2e4446f4a305f23c80df8ad1afdcf652f9",
            "feerate_per_kw": i["feerate_per_kw"],
        }),
    )
    .json();
    assert_eq!(s(&out, "tx_hex"), s(e, "funding_tx_hex"));
    assert_eq!(s(&out, "funding_txid"), s(e, "funding_txid"));
    assert_eq!(s(&out, "funding_script"), s(e, "funding_witness_script"));
    assert_eq!(out["funding_output_index"], e["funding_output_index"]);
    assert_eq!(out["change_sat"], e["change_satoshis"]);
    assert_eq!(out["verified"], true);
    assert_eq!(out["psbt"], Value::Null);
}

/// A wallet key and the P2WPKH output it owns.
fn wallet(secret_byte: u8) -> (PrivateKey, ScriptBuf, Address) {
    let secp = Secp256k1::new();
    let k = PrivateKey::new(
        SecretKey::from_slice(&[secret_byte; 32]).unwrap(),
        Network::Regtest,
    );
    let pk = CompressedPublicKey::try_from(k.public_key(&secp)).unwrap();
    let spk = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
    (k, spk, Address::p2wpkh(&pk, Network::Regtest))
}

fn funding_pubkeys() -> (PublicKey, PublicKey) {
    let p = &testdata("bolt03-funding-tx.json")["cases"][0]["inputs"];
    (
        s(p, "local_funding_pubkey").parse().unwrap(),
        s(p, "remote_funding_pubkey").parse().unwrap(),
    )
}

#[test]
fn p2wpkh_inputs_signed_and_verified_at_the_requested_feerate() {
    let (k1, spk1, _) = wallet(7);
    let (k2, spk2, change) = wallet(8);
    let (local, remote) = funding_pubkeys();
    let txid = |b: u8| Txid::from_byte_array_for_test(b);
    let out = lnkit_json(
        &["build-funding", "--verify", "--network", "regtest"],
        &json!({
            "inputs": [
                {"txid": txid(1).to_string(), "vout": 3, "amount_sat": 600_000, "privkey": k1.to_wif()},
                {"txid": txid(2).to_string(), "vout": 0, "amount_sat": 700_000, "privkey": hex::encode(k2.inner.secret_bytes())},
            ],
            "local_funding_pubkey": local.to_string(),
            "remote_funding_pubkey": remote.to_string(),
            "funding_amount_sat": 1_000_000,
            "change_address": change.to_string(),
            "feerate_sat_per_vb": 12,
        }),
    )
    .json();
    assert_eq!(out["verified"], true);
    let tx: Transaction = deserialize_hex(s(&out, "tx_hex")).unwrap();
    // Checked again here, independently of the --verify flag.
    let spent = [
        TxOut {
            value: Amount::from_sat(600_000),
            script_pubkey: spk1,
        },
        TxOut {
            value: Amount::from_sat(700_000),
            script_pubkey: spk2,
        },
    ];
    verify_transaction(&tx, &spent).unwrap();
    // The fee pays at least 12 sat/vB of the real transaction, and no more than the predicted size.
    let fee = out["fee_sat"].as_u64().unwrap();
    assert_eq!(
        fee,
        1_300_000 - 1_000_000 - out["change_sat"].as_u64().unwrap()
    );
    assert!(
        fee >= 12 * tx.vsize() as u64,
        "fee {fee} below 12 sat/vB of {} vB",
        tx.vsize()
    );
    assert!(fee <= 12 * out["predicted_weight"].as_u64().unwrap().div_ceil(4));
    assert_eq!(tx.output[0].value.to_sat(), 1_000_000);
    assert_eq!(
        s(&out, "funding_script_pubkey"),
        hex::encode(tx.output[0].script_pubkey.as_bytes())
    );
}

#[test]
fn unsigned_inputs_give_a_psbt_for_the_wallet() {
    let (k1, spk1, change) = wallet(9);
    let (_, spk2, _) = wallet(10);
    let (local, remote) = funding_pubkeys();
    let out = lnkit_json(
        &["build-funding", "--network", "regtest"],
        &json!({
            "inputs": [
                {"txid": Txid::from_byte_array_for_test(3).to_string(), "vout": 1, "amount_sat": 300_000, "privkey": k1.to_wif()},
                {"txid": Txid::from_byte_array_for_test(4).to_string(), "vout": 2, "amount_sat": 900_000, "script_pubkey": hex::encode(spk2.as_bytes())},
            ],
            "local_funding_pubkey": local.to_string(),
            "remote_funding_pubkey": remote.to_string(),
            "funding_amount_sat": 1_000_000,
            "change_address": change.to_string(),
            "feerate_sat_per_vb": 2,
        }),
    )
    .json();
    assert_eq!(out["complete"], false);
    assert_eq!(out["signed_inputs"], json!([true, false]));
    let psbt: Psbt = s(&out, "psbt").parse().unwrap();
    assert_eq!(psbt.unsigned_tx.input.len(), 2);
    assert_eq!(
        psbt.inputs[0].witness_utxo.as_ref().unwrap().script_pubkey,
        spk1
    );
    assert!(
        psbt.inputs[0].final_script_witness.is_some(),
        "our signed input is finalized"
    );
    assert_eq!(
        psbt.inputs[1].witness_utxo.as_ref().unwrap().value.to_sat(),
        900_000
    );
    assert!(
        psbt.inputs[1].final_script_witness.is_none(),
        "the wallet signs input 1"
    );
    // Same txid signed or not: segwit inputs do not change it.
    assert_eq!(
        psbt.unsigned_tx.compute_txid().to_string(),
        s(&out, "funding_txid")
    );
}

#[test]
fn change_below_dust_goes_to_the_fee() {
    let (k, spk, change) = wallet(11);
    let (local, remote) = funding_pubkeys();
    // 1 input, 1 output P2WSH: 1 sat/vB costs ~154 sat; 1,000,200 leaves ~46 sat of change: dust.
    let out = lnkit_json(
        &["build-funding", "--verify", "--network", "regtest"],
        &json!({
            "inputs": [{"txid": Txid::from_byte_array_for_test(5).to_string(), "vout": 0, "amount_sat": 1_000_200, "privkey": k.to_wif()}],
            "local_funding_pubkey": local.to_string(),
            "remote_funding_pubkey": remote.to_string(),
            "funding_amount_sat": 1_000_000,
            "change_address": change.to_string(),
            "feerate_sat_per_vb": 1,
        }),
    )
    .json();
    let tx: Transaction = deserialize_hex(s(&out, "tx_hex")).unwrap();
    assert_eq!(tx.output.len(), 1);
    assert_eq!(out["change_sat"], Value::Null);
    assert_eq!(out["fee_sat"].as_u64().unwrap(), 200);
    assert!(out["dust_change_dropped_sat"].as_u64().unwrap() > 0);
    verify_transaction(
        &tx,
        &[TxOut {
            value: Amount::from_sat(1_000_200),
            script_pubkey: spk,
        }],
    )
    .unwrap();
}

trait ForTest {
    fn from_byte_array_for_test(b: u8) -> Self;
}

impl ForTest for Txid {
    fn from_byte_array_for_test(b: u8) -> Self {
        use bitcoin::hashes::Hash;
        Txid::from_byte_array([b; 32])
    }
}
