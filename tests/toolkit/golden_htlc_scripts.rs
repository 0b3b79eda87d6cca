//! The offered and received HTLC scripts as they appear in BOLT 3 Appendix C
//! and F (and the removed legacy / anchor_outputs appendices), byte for byte:
//! every witness script the source lists, every HTLC output's P2WSH, and the
//! witness script inside every HTLC transaction — each rebuilt from the keys,
//! payment hash and cltv_expiry, through the library and through
//! `lnkit htlc-script`.

use crate::common;

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::Transaction;
use common::{lnkit_json, s, testdata};
use lnkit::keys::{HtlcPubkey, RevocationPubkey};
use lnkit::payment::{CltvExpiry, PaymentPreimage};
use lnkit::script::{offered_htlc, received_htlc, HtlcKeys};
use serde_json::{json, Value};

struct Appendix {
    params: Value,
    htlcs: Vec<Value>,
    cases: Vec<Value>,
}

fn appendices() -> Vec<Appendix> {
    let current = testdata("bolt03-commitment-txs.json");
    let removed = testdata("bolt03-commitment-txs-removed-from-spec.json");
    let split = |v: &Value, pred: &dyn Fn(&str) -> bool| -> Vec<Value> {
        v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| pred(s(c, "channel_type")))
            .cloned()
            .collect()
    };
    let htlcs = current["common"]["htlcs"].as_array().unwrap().clone();
    let legacy_htlcs = removed["common_legacy"]["htlcs"]
        .as_array()
        .unwrap()
        .clone();
    vec![
        Appendix {
            params: current["common"]["parameters"].clone(),
            htlcs: htlcs.clone(),
            cases: split(&current, &|_| true),
        },
        Appendix {
            params: removed["common_legacy"]["parameters"].clone(),
            htlcs: legacy_htlcs.clone(),
            cases: split(&removed, &|t| t.starts_with("legacy")),
        },
        Appendix {
            params: removed["common_anchor_outputs"]["parameters"].clone(),
            htlcs: legacy_htlcs,
            cases: split(&removed, &|t| t.starts_with("anchor_outputs")),
        },
    ]
}

fn keys(params: &Value) -> HtlcKeys {
    let pk = |names: &[&str]| {
        let name = names.iter().find(|n| params[**n].is_string()).unwrap();
        s(params, name).parse().unwrap()
    };
    HtlcKeys {
        revocation: RevocationPubkey(pk(&["local_revocation_pubkey"])),
        // The HTLC basepoints equal the payment basepoints in these vectors.
        local_htlc: HtlcPubkey(pk(&["local_htlcpubkey", "localpubkey"])),
        remote_htlc: HtlcPubkey(pk(&["remote_htlcpubkey", "remotepubkey"])),
    }
}

fn htlc<'a>(a: &'a Appendix, id: &Value) -> &'a Value {
    a.htlcs.iter().find(|h| h["id"] == *id).expect("htlc id")
}

/// Our script for an HTLC of the vectors.
fn script_for(a: &Appendix, case: &Value, kind: &str, id: &Value) -> Vec<u8> {
    let h = htlc(a, id);
    let preimage = PaymentPreimage(
        hex::decode(s(h, "payment_preimage"))
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let anchors = s(case, "channel_type").contains("anchor");
    let k = keys(&a.params);
    let script = match kind {
        "htlc_offered" => offered_htlc(&k, &preimage.payment_hash(), anchors),
        "htlc_received" => received_htlc(
            &k,
            &preimage.payment_hash(),
            CltvExpiry(h["cltv_expiry"].as_u64().unwrap() as u32),
            anchors,
        ),
        other => panic!("not an HTLC: {other}"),
    };
    script.into_bytes()
}

#[test]
fn every_listed_witness_script_and_htlc_output() {
    let (mut listed, mut outputs, mut in_htlc_txs) = (0, 0, 0);
    for a in appendices() {
        for case in &a.cases {
            let name = s(case, "name");
            // 1. Witness scripts the source prints in its comments.
            for o in case["expected"]["outputs_listed_in_source"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let kind = s(o, "kind");
                if kind.starts_with("htlc") {
                    let ours = script_for(&a, case, kind, &o["htlc_id"]);
                    assert_eq!(hex::encode(ours), s(o, "witness_script"), "{name}");
                    listed += 1;
                }
            }
            // 2. The P2WSH of every HTLC output of the commitment transaction.
            let commit: Transaction =
                deserialize_hex(s(&case["expected"], "commit_tx_hex")).unwrap();
            for o in case["derived"]["outputs"].as_array().unwrap() {
                let kind = s(o, "kind");
                if kind.starts_with("htlc") {
                    let ours =
                        bitcoin::ScriptBuf::from_bytes(script_for(&a, case, kind, &o["htlc_id"]));
                    let index = o["index"].as_u64().unwrap() as usize;
                    assert_eq!(
                        ours.to_p2wsh(),
                        commit.output[index].script_pubkey,
                        "{name} output {index}"
                    );
                    outputs += 1;
                }
            }
            // 3. The witness script each HTLC transaction reveals (its last witness element).
            for t in case["expected"]["htlc_txs"].as_array().unwrap() {
                let tx: Transaction = deserialize_hex(s(t, "tx_hex")).unwrap();
                let spent = tx.input[0].previous_output.vout as usize;
                let o = case["derived"]["outputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|o| o["index"].as_u64() == Some(spent as u64))
                    .unwrap();
                let ours = script_for(&a, case, s(o, "kind"), &o["htlc_id"]);
                assert_eq!(
                    tx.input[0].witness.last().unwrap(),
                    ours.as_slice(),
                    "{name}"
                );
                in_htlc_txs += 1;
            }
        }
    }
    // 33 listed in Appendix C + 33 in the legacy appendix; every HTLC tx of all four appendices.
    assert_eq!(listed, 66);
    assert_eq!(in_htlc_txs, 48 + 61);
    assert!(outputs >= in_htlc_txs);
}

#[test]
fn htlc_script_cli_reproduces_appendix_c_and_f() {
    let all = appendices();
    let a = &all[0];
    let mut checked = 0;
    let mut anchors_checked = 0;
    for case in &a.cases {
        let anchors = s(case, "channel_type").contains("anchor");
        for o in case["derived"]["outputs"].as_array().unwrap() {
            let kind = s(o, "kind");
            if !kind.starts_with("htlc") {
                continue;
            }
            let h = htlc(a, &o["htlc_id"]);
            let mut args = vec![
                "htlc-script",
                "--kind",
                if kind == "htlc_offered" {
                    "offered"
                } else {
                    "received"
                },
            ];
            if anchors {
                args.push("--anchors");
            }
            let out = lnkit_json(
                &args,
                &json!({
                    "revocationpubkey": a.params["local_revocation_pubkey"],
                    "local_htlcpubkey": a.params["local_htlcpubkey"],
                    "remote_htlcpubkey": a.params["remote_htlcpubkey"],
                    "payment_preimage": h["payment_preimage"],
                    "cltv_expiry": h["cltv_expiry"],
                }),
            )
            .json();
            assert_eq!(
                out["script_pubkey"],
                o["script_pubkey"],
                "{}",
                s(case, "name")
            );
            assert_eq!(out["anchors"], anchors);
            checked += 1;
            anchors_checked += anchors as usize;
        }
    }
    // Every HTLC output of Appendix C (static_remotekey) and F (anchors).
    assert!(checked >= 48, "{checked}");
    assert!(anchors_checked >= 15, "{anchors_checked}");
}
