//! The BOLT 3 commitment vectors (Appendix C and F, and the removed legacy
//! and anchor_outputs appendices), and each case as `build-commitment` input.

use serde_json::{json, Value};

use super::{s, testdata};

/// One appendix: its common parameters, secrets, HTLCs and cases.
pub struct Appendix {
    pub name: &'static str,
    pub params: Value,
    pub secrets: Value,
    pub htlcs: Vec<Value>,
    pub cases: Vec<Value>,
}

pub fn appendices() -> Vec<Appendix> {
    let current = testdata("bolt03-commitment-txs.json");
    let removed = testdata("bolt03-commitment-txs-removed-from-spec.json");
    let cases = |v: &Value, prefix: &str| -> Vec<Value> {
        v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| s(c, "channel_type").starts_with(prefix))
            .cloned()
            .collect()
    };
    let htlcs = current["common"]["htlcs"].as_array().unwrap().clone();
    let legacy = &removed["common_legacy"];
    vec![
        Appendix {
            name: "C (static_remotekey)",
            params: current["common"]["parameters"].clone(),
            secrets: current["common"]["internal_values_from_source_comment"].clone(),
            htlcs: htlcs.clone(),
            cases: cases(&current, "static_remotekey"),
        },
        Appendix {
            name: "F (anchors_zero_fee_htlc_tx)",
            params: current["common"]["parameters"].clone(),
            secrets: current["common"]["internal_values_from_source_comment"].clone(),
            htlcs,
            cases: cases(&current, "anchors_zero_fee_htlc_tx"),
        },
        Appendix {
            name: "C, removed (legacy)",
            params: legacy["parameters"].clone(),
            secrets: legacy["internal_values_from_source_comment"].clone(),
            htlcs: legacy["htlcs"].as_array().unwrap().clone(),
            cases: cases(&removed, "legacy"),
        },
        Appendix {
            name: "F, removed (anchor_outputs)",
            params: removed["common_anchor_outputs"]["parameters"].clone(),
            // The same secrets generated every appendix's keys.
            secrets: legacy["internal_values_from_source_comment"].clone(),
            htlcs: legacy["htlcs"].as_array().unwrap().clone(),
            cases: cases(&removed, "anchor_outputs"),
        },
    ]
}

/// A vector case as the input of `lnkit build-commitment`.
pub fn cli_input(a: &Appendix, case: &Value) -> Value {
    let (p, sec, i) = (&a.params, &a.secrets, &case["inputs"]);
    let htlcs: Vec<Value> = i["htlc_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            let h = a.htlcs.iter().find(|h| h["id"] == *id).unwrap();
            json!({
                "direction": h["type_in_local_commitment"],
                "amount_msat": h["amount_msat"],
                "payment_preimage": h["payment_preimage"],
                "cltv_expiry": h["cltv_expiry"],
            })
        })
        .collect();
    json!({
        "channel_type": s(case, "channel_type").split_whitespace().next().unwrap(),
        "funding_txid": p["funding_tx_id"],
        "funding_output_index": p["funding_output_index"],
        "funding_amount_sat": p["funding_amount_satoshi"],
        "local_funding_privkey": p["local_funding_privkey"],
        "remote_funding_privkey": sec["remote_funding_privkey"],
        "local_payment_basepoint": p["local_payment_basepoint"],
        "remote_payment_basepoint": p["remote_payment_basepoint"],
        "local_htlc_basepoint_secret": sec["local_payment_basepoint_secret"],
        "remote_htlc_basepoint_secret": sec["remote_payment_basepoint_secret"],
        "local_delayed_payment_basepoint": sec["local_delayed_payment_basepoint"],
        "remote_revocation_basepoint": sec["remote_revocation_basepoint"],
        "opener": "local",
        "holder": "local",
        "commitment_number": p["commitment_number"],
        "per_commitment_secret": sec["local_per_commitment_secret"],
        "to_self_delay": p["local_delay"],
        "dust_limit_satoshis": i["dust_limit_satoshi"],
        "feerate_per_kw": i["feerate_per_kw"],
        "to_local_msat": i["to_local_msat"],
        "to_remote_msat": i["to_remote_msat"],
        "htlcs": htlcs,
    })
}
