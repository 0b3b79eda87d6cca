//! `lnkit close`: the mutual closing transaction, and the sweeps after a
//! unilateral close, on the BOLT 3 vector channel. Every transaction is
//! checked by Bitcoin Core's interpreter against the outputs it spends.

use crate::common;

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::Transaction;
use common::vectors::{appendices, cli_input};
use common::{lnkit_json, prevouts, s};
use lnkit::verify::verify_transaction;
use serde_json::{json, Value};

const LOCAL_SCRIPT: &str = "00143ca33c2e4446f4a305f23c80df8ad1afdcf652f9";
const REMOTE_SCRIPT: &str = "0014cc1b07838e387deacd0e5232e1e8b49f4c29e484";

fn channel(appendix: usize, case: &str) -> Value {
    let all = appendices();
    let a = &all[appendix];
    cli_input(a, a.cases.iter().find(|c| s(c, "name") == case).unwrap())
}

fn tx(v: &Value, f: &str) -> Transaction {
    deserialize_hex(s(v, f)).unwrap()
}

#[test]
fn mutual_close_signed_and_verified() {
    let mut input = channel(0, "simple commitment tx with no HTLCs");
    input["local_scriptpubkey"] = json!(LOCAL_SCRIPT);
    input["remote_scriptpubkey"] = json!(REMOTE_SCRIPT);
    input["fee_sat"] = json!(7000);
    let out = lnkit_json(&["close", "--mutual", "--verify"], &input).json();
    assert_eq!(out["verified"], true);
    let t = tx(&out, "signed_tx_hex");
    // BIP 69: remote's 3,000,000 before local's 7,000,000 - 7,000 fee.
    assert_eq!(t.output[0].value.to_sat(), 3_000_000);
    assert_eq!(t.output[1].value.to_sat(), 6_993_000);
    assert_eq!(out["local_output"]["index"], 1);
    assert_eq!(t.input[0].sequence.0, 0xffff_ffff);
    assert_eq!(t.lock_time.to_consensus_u32(), 0);

    // A fee from a feerate: at least feerate x weight of the signed transaction.
    input.as_object_mut().unwrap().remove("fee_sat");
    input["feerate_per_kw"] = json!(2500);
    let out = lnkit_json(&["close", "--mutual", "--verify"], &input).json();
    let t = tx(&out, "signed_tx_hex");
    let fee = out["fee_sat"].as_u64().unwrap();
    assert!(
        fee >= 2500 * t.weight().to_wu() / 1000,
        "fee {fee} for weight {}",
        t.weight()
    );

    // Dust is dropped; a fee the opener cannot pay is refused.
    input["to_local_msat"] = json!(9_999_500_000u64);
    input["to_remote_msat"] = json!(500_000);
    let out = lnkit_json(&["close", "--mutual", "--verify"], &input).json();
    assert_eq!(tx(&out, "signed_tx_hex").output.len(), 1);
    assert_eq!(out["dropped_as_dust"][0]["amount_sat"], 500);
    input["fee_sat"] = json!(20_000_000);
    lnkit_json(&["close", "--mutual"], &input).assert_bad_input("fee_sat", &["cannot pay a fee"]);

    // Above the dust limit but below Bitcoin Core's dust threshold for its
    // script (BOLT 3 "Dust Limits": P2PKH 546 sat): dropped too, or the
    // close would be refused by every mempool as `dust`.
    input["fee_sat"] = json!(7000);
    input["dust_limit_satoshis"] = json!(354);
    input["remote_scriptpubkey"] = json!(format!("76a914{}88ac", "11".repeat(20)));
    input["to_local_msat"] = json!(9_999_600_000u64);
    input["to_remote_msat"] = json!(400_000);
    let out = lnkit_json(&["close", "--mutual", "--verify"], &input).json();
    assert_eq!(tx(&out, "signed_tx_hex").output.len(), 1);
    assert_eq!(out["dropped_as_dust"][0]["amount_sat"], 400);
    // At 546 it stays.
    input["to_local_msat"] = json!(9_999_454_000u64);
    input["to_remote_msat"] = json!(546_000);
    let out = lnkit_json(&["close", "--mutual", "--verify"], &input).json();
    assert_eq!(tx(&out, "signed_tx_hex").output.len(), 2);
}

#[test]
fn holder_sweeps_to_local_and_its_htlc_tx_outputs_after_the_delay() {
    let built = lnkit_json(
        &["build-commitment"],
        &channel(
            0,
            "commitment tx with seven outputs untrimmed (maximum feerate)",
        ),
    )
    .json();
    let commitment = tx(&built, "signed_tx_hex");
    let second: Vec<Transaction> = built["htlc_txs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| tx(t, "signed_tx_hex"))
        .collect();
    let mut input = built.clone();
    input["local_delayed_payment_basepoint_secret"] =
        json!("3333333333333333333333333333333333333333333333333333333333333333");
    input["destination"] = json!(LOCAL_SCRIPT);
    input["second_stage_tx_hex"] = json!(built["htlc_txs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["signed_tx_hex"].clone())
        .collect::<Vec<_>>());
    input["confirmations"] = json!(144);
    let out = lnkit_json(&["close", "--sweep", "--verify"], &input).json();
    assert_eq!(out["we"], "local");
    let sweep = tx(&out["sweep_tx"], "tx_hex");
    assert_eq!(
        sweep.input.len(),
        1 + second.len(),
        "to_local and every HTLC tx output"
    );
    assert!(
        sweep.input.iter().all(|i| i.sequence.0 == 144),
        "nSequence = to_self_delay"
    );
    let sources: Vec<Transaction> = std::iter::once(commitment).chain(second).collect();
    verify_transaction(&sweep, &prevouts(&sweep, &sources)).unwrap();

    // One block too early: refused, saying when.
    input["confirmations"] = json!(143);
    lnkit_json(&["close", "--sweep"], &input)
        .assert_bad_input("confirmations", &["after 144 confirmations", "has 143"]);
}

#[test]
fn counterparty_sweeps_to_remote_anchor_and_htlcs() {
    for (appendix, case) in [
        (
            0,
            "commitment tx with seven outputs untrimmed (maximum feerate)",
        ),
        (1, "commitment tx with seven outputs untrimmed"),
        (
            2,
            "commitment tx with seven outputs untrimmed (maximum feerate)",
        ),
    ] {
        let built = lnkit_json(&["build-commitment"], &channel(appendix, case)).json();
        let commitment = tx(&built, "signed_tx_hex");
        let mut input = built.clone();
        input["we"] = json!("remote");
        input["remote_payment_basepoint_secret"] =
            json!("4444444444444444444444444444444444444444444444444444444444444444");
        input["destination"] = json!(REMOTE_SCRIPT);
        input["current_height"] = json!(600);
        let out = lnkit_json(&["close", "--sweep", "--verify"], &input).json();
        let sweep = tx(&out["sweep_tx"], "tx_hex");
        let ours = out["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["ours"] == true)
            .count();
        assert_eq!(sweep.input.len(), ours, "{case}: {out}");
        // Local's offered HTLCs by preimage, local's received ones after expiry: nLockTime covers them.
        assert!(sweep.lock_time.to_consensus_u32() >= 504, "{case}");
        verify_transaction(&sweep, &prevouts(&sweep, std::slice::from_ref(&commitment))).unwrap();

        // Before the HTLCs expire, the timeout claims wait.
        input["current_height"] = json!(400);
        let out = lnkit_json(&["close", "--sweep", "--verify"], &input).json();
        assert!(!out["pending"].as_array().unwrap().is_empty(), "{case}");
        let sweep = tx(&out["sweep_tx"], "tx_hex");
        verify_transaction(&sweep, &prevouts(&sweep, &[commitment])).unwrap();
    }
}
