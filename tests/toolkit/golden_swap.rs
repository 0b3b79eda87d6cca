//! Golden tests for the swap against what others publish: BIP 327's key
//! aggregation vectors (the MuSig2 internal key), and the P2WSH script Boltz
//! locks its reverse swaps with, byte for byte — through the library and the
//! binary (`swap create`, `swap verify`).

use crate::common;

use bitcoin::absolute::Height;
use bitcoin::secp256k1::PublicKey;
use common::{lnkit_json, s, testdata};
use lnkit::payment::PaymentHash;
use lnkit::swap::contract::{p2wsh_script, parse_p2wsh, SwapTerms};
use lnkit::swap::musig::key_agg;
use serde_json::json;

#[test]
fn bip327_key_aggregation() {
    let v = &testdata("swap-interop.json")["bip327_key_agg"];
    let keys: Vec<PublicKey> = v["pubkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().parse().unwrap())
        .collect();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let picked: Vec<PublicKey> = case["key_indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| keys[i.as_u64().unwrap() as usize])
            .collect();
        let agg = key_agg(&picked).unwrap().x_only_public_key().0;
        assert_eq!(
            agg.to_string(),
            s(case, "expected").to_lowercase(),
            "{case}"
        );
    }
}

#[test]
fn boltz_reverse_swap_script_byte_for_byte() {
    let v = &testdata("swap-interop.json")["boltz_reverse_swap_script"];
    let hash: [u8; 32] = hex::decode(s(v, "payment_hash"))
        .unwrap()
        .try_into()
        .unwrap();
    let terms = SwapTerms {
        payment_hash: PaymentHash(hash),
        claim_pubkey: s(v, "claim_pubkey").parse().unwrap(),
        refund_pubkey: s(v, "refund_pubkey").parse().unwrap(),
        timeout: Height::from_consensus(v["timeout_block_height"].as_u64().unwrap() as u32)
            .unwrap(),
    };
    let script = p2wsh_script(&terms);
    assert_eq!(hex::encode(script.as_bytes()), s(v, "redeem_script"));
    assert_eq!(parse_p2wsh(&script).unwrap().timeout, terms.timeout);

    // The binary builds the same script, and accepts Boltz's as the lock of
    // this hash and these keys.
    let swap = lnkit_json(
        &["swap", "create", "--kind", "reverse"],
        &json!({"payment_hash": v["payment_hash"], "claim_pubkey": v["claim_pubkey"], "refund_pubkey": v["refund_pubkey"],
                "timeout_block_height": v["timeout_block_height"], "current_height": 515_800, "amount_sat": 50_000}),
    )
    .json();
    assert_eq!(swap["redeem_script"], v["redeem_script"]);
    let report = lnkit_json(
        &["swap", "verify", "--kind", "reverse"],
        &json!({"payment_hash": v["payment_hash"], "claim_pubkey": v["claim_pubkey"], "refund_pubkey": v["refund_pubkey"],
                "redeem_script": v["redeem_script"], "address": swap["address"],
                "timeout_block_height": v["timeout_block_height"], "current_height": 515_800}),
    )
    .json();
    assert_eq!(report["ok"], true);
}
