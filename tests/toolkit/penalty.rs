//! `lnkit penalty`: the justice transaction against a revoked commitment,
//! on the BOLT 3 vector channels (local cheats with the Appendix C/F
//! commitment; remote holds the revocation basepoint secret 0x22..22). Every
//! justice transaction is checked by Bitcoin Core's interpreter against the
//! revoked outputs it spends, including outputs of second-stage HTLC txs.

use crate::common;

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::Transaction;
use common::vectors::{appendices, cli_input};
use common::{lnkit, lnkit_json, prevouts, s};
use lnkit::verify::verify_transaction;
use serde_json::{json, Value};

const REMOTE_REVOCATION_SECRET: &str =
    "2222222222222222222222222222222222222222222222222222222222222222";
/// P2WPKH of remote's payment basepoint secret 0x44..44: where the justice goes.
const DESTINATION: &str = "0014cc1b07838e387deacd0e5232e1e8b49f4c29e484";

/// The built (signed) commitment of a vector case, as `build-commitment` outputs it.
fn commitment(appendix: usize, case_name: &str) -> Value {
    let all = appendices();
    let a = &all[appendix];
    let case = a.cases.iter().find(|c| s(c, "name") == case_name).unwrap();
    lnkit_json(&["build-commitment", "--verify"], &cli_input(a, case)).json()
}

fn tx(v: &Value, f: &str) -> Transaction {
    deserialize_hex(s(v, f)).unwrap()
}

#[test]
fn build_commitment_piped_into_penalty_claims_everything() {
    for (appendix, case) in [
        (
            0,
            "commitment tx with seven outputs untrimmed (maximum feerate)",
        ),
        (1, "commitment tx with seven outputs untrimmed"),
        (
            2,
            "commitment tx with six outputs untrimmed (minimum feerate)",
        ),
        (
            3,
            "commitment tx with seven outputs untrimmed (maximum feerate)",
        ),
    ] {
        let built = commitment(appendix, case);
        let revoked = tx(&built, "signed_tx_hex");
        // The pipe: build-commitment's output (input echoed) + the secrets the penalty needs.
        let out = lnkit(
            &[
                "penalty",
                "--verify",
                "--set",
                &format!("revocation_basepoint_secret={REMOTE_REVOCATION_SECRET}"),
                "--set",
                &format!("destination={DESTINATION}"),
                "--set",
                "feerate_per_kw=2500",
            ],
            &built.to_string(),
        )
        .json();
        assert_eq!(out["cheater"], "local", "{case}");
        assert_eq!(out["commitment_number"], 42, "{case}");
        // to_local and every untrimmed HTLC output: everything but to_remote (ours) and anchors.
        let expected_claims = built["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["type"] == "to_local" || o["htlc"].is_object())
            .count();
        assert_eq!(
            out["claimed"].as_array().unwrap().len(),
            expected_claims,
            "{case}"
        );
        let justice = tx(&out["penalty_txs"][0], "tx_hex");
        assert_eq!(justice.input.len(), expected_claims);
        // Checked again here, independently of --verify.
        verify_transaction(&justice, &prevouts(&justice, &[&revoked])).unwrap();
    }
}

#[test]
fn penalty_takes_second_stage_outputs_and_skips_what_they_spent() {
    let built = commitment(
        0,
        "commitment tx with seven outputs untrimmed (maximum feerate)",
    );
    let revoked = tx(&built, "signed_tx_hex");
    let second: Vec<Transaction> = built["htlc_txs"].as_array().unwrap()[..2]
        .iter()
        .map(|t| tx(t, "signed_tx_hex"))
        .collect();
    let mut input = built.clone();
    input["revocation_basepoint_secret"] = json!(REMOTE_REVOCATION_SECRET);
    input["destination"] = json!(DESTINATION);
    input["second_stage_tx_hex"] = json!(built["htlc_txs"].as_array().unwrap()[..2]
        .iter()
        .map(|t| t["signed_tx_hex"].clone())
        .collect::<Vec<_>>());
    let out = lnkit_json(&["penalty", "--verify", "--split"], &input).json();
    assert_eq!(out["already_spent"].as_array().unwrap().len(), 2);
    let claimed = out["claimed"].as_array().unwrap();
    assert_eq!(
        claimed
            .iter()
            .filter(|c| c["type"] == "second_stage_htlc_output")
            .count(),
        2
    );
    // --split: one justice tx per claimed output, each verified against what it spends.
    let txs = out["penalty_txs"].as_array().unwrap();
    let uneconomical = out["uneconomical"].as_array().unwrap();
    assert_eq!(txs.len() + uneconomical.len(), claimed.len());
    assert!(txs.len() >= 3, "{out}");
    let sources: Vec<&Transaction> = std::iter::once(&revoked).chain(second.iter()).collect();
    for t in txs {
        let justice = tx(t, "tx_hex");
        assert_eq!(justice.input.len(), 1);
        verify_transaction(&justice, &prevouts(&justice, &sources)).unwrap();
    }
}

#[test]
fn penalty_refuses_what_does_not_match() {
    let built = commitment(
        0,
        "commitment tx with seven outputs untrimmed (maximum feerate)",
    );
    let mut input = built.clone();
    input["revocation_basepoint_secret"] = json!(REMOTE_REVOCATION_SECRET);
    input["destination"] = json!(DESTINATION);
    // A secret that is not this commitment's.
    let mut wrong = input.clone();
    wrong["per_commitment_secret"] =
        json!("0101010101010101010101010101010101010101010101010101010101010101");
    lnkit_json(&["penalty"], &wrong)
        .assert_bad_input("per_commitment_secret", &["does not match the commitment"]);
    // A transaction that does not spend the funding output.
    let mut other = input.clone();
    other["signed_tx_hex"] = built["htlc_txs"][0]["signed_tx_hex"].clone();
    lnkit_json(&["penalty"], &other)
        .assert_bad_input("signed_tx_hex", &["does not spend the funding output"]);
    // A feerate that eats everything.
    let mut greedy = input.clone();
    greedy["feerate_per_kw"] = json!(100_000_000);
    lnkit_json(&["penalty"], &greedy).assert_bad_input("feerate_per_kw", &["the fee is"]);
}
