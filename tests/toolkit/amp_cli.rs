//! `lnkit amp-split` and `amp-combine` as a shell user runs them, on the
//! hand-made graph of docs/examples/route-graph.json, whose nodes hold the
//! BOLT 4 vector's keys — so every part's onion can be peeled to the payee.

use crate::common;

use common::{lnkit, lnkit_json, s};
use serde_json::{json, Value};

const GRAPH: &str = "docs/examples/route-graph.json";
const SENDER: &str = "02edabbd16b41c8371b92ef2f04c1185b4f03b6dcd52ba9b78d9d7c89c8f221145";
const DAVE: &str = "027f31ebc5462c1fdce1b737ecff52d37d75dea43ce11c74d25aa297165faa2007";

/// Node pubkey → private key (the BOLT 4 onion vector's).
fn privkey(pubkey: &str) -> &'static str {
    match pubkey {
        "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619" => "41",
        "0324653eac434488002cc06bbfb7f10fe18991e35f9fe4302dbea6d2353dc0ab1c" => "42",
        DAVE => "43",
        "032c0b7cf95324a07d05398b240174dc0c2be444d96b159aa6c7f7b1e668680991" => "44",
        other => panic!("no key for {other}"),
    }
}

fn split(args: &[&str], input: Value) -> common::Run {
    let mut all = vec!["amp-split", "--graph", GRAPH];
    all.extend_from_slice(args);
    lnkit_json(&all, &input)
}

fn ask(amount_msat: u64) -> Value {
    json!({"source": SENDER, "destination": DAVE, "amount_msat": amount_msat,
           "max_fee_msat": 20_000_000, "current_block_height": 800_000,
           "payment_secret": "23".repeat(32)})
}

/// Peel a part's onion hop by hop; returns the final payload.
fn peel_to_payee(part: &Value, payment_hash: &str) -> Value {
    let mut oc = part["onion_create"].clone();
    oc["session_key"] = json!("41".repeat(32));
    oc["payment_hash"] = json!(payment_hash);
    let mut packet = lnkit_json(&["onion-create"], &oc).json();
    for hop in part["hops"].as_array().unwrap() {
        let key = privkey(s(hop, "pubkey")).repeat(32);
        packet = lnkit(&["onion-peel", "--node-privkey", &key], &packet.to_string()).json();
    }
    assert_eq!(packet["is_final"], true);
    packet["payload"].clone()
}

#[test]
fn mpp_parts_carry_the_total_and_secret_and_peel_to_the_payee() {
    let out = split(&[], ask(1_500_000_000)).json();
    assert_eq!(out["mode"], "mpp");
    let parts = out["parts"].as_array().unwrap();
    assert!(parts.len() >= 2, "1.5M sat does not fit one 1M-sat channel");
    let sum: u64 = parts
        .iter()
        .map(|p| p["amount_msat"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 1_500_000_000);
    let fees: u64 = parts
        .iter()
        .map(|p| p["total_fee_msat"].as_u64().unwrap())
        .sum();
    assert_eq!(out["total_fee_msat"], fees);
    assert!(out["solver"]["augmentations"].as_u64().unwrap() >= 1);
    for p in parts {
        let payload = peel_to_payee(p, &"42".repeat(32));
        assert_eq!(payload["amt_to_forward_msat"], p["amount_msat"]);
        assert_eq!(payload["total_msat"], 1_500_000_000);
        assert_eq!(payload["payment_secret"], json!("23".repeat(32)));
    }
}

#[test]
fn amp_parts_combine_back_to_the_root() {
    let mut input = ask(1_500_000_000);
    input["mode"] = json!("amp");
    input["root_seed"] = json!("77".repeat(32));
    input["set_id"] = json!("99".repeat(32));
    let out = split(&[], input).json();
    let parts = out["parts"].as_array().unwrap();
    assert!(parts.len() >= 2);
    assert_eq!(out["root_seed"], json!("77".repeat(32)));
    // Each part's onion pays its own child hash, and carries the AMP record.
    for p in parts {
        let last = p["onion_create"]["hops"]
            .as_array()
            .unwrap()
            .last()
            .unwrap();
        let rec = last["custom_tlvs"]["14"].as_str().unwrap();
        assert!(rec.starts_with(s(p, "share")));
        assert_eq!(&rec[64..128], "99".repeat(32));
        let mut oc = p["onion_create"].clone();
        oc["session_key"] = json!("41".repeat(32));
        assert_eq!(oc["payment_hash"], p["child_hash"]);
        lnkit_json(&["onion-create"], &oc).json();
    }
    // The payee's side: the shares alone give the root and every child hash.
    let shares: Vec<Value> = parts
        .iter()
        .map(|p| json!({"share": p["share"], "child_index": p["child_index"], "child_hash": p["child_hash"]}))
        .collect();
    let combined = lnkit_json(&["amp-combine"], &json!({"parts": shares})).json();
    assert_eq!(combined["root_seed"], json!("77".repeat(32)));
    for (c, p) in combined["children"].as_array().unwrap().iter().zip(parts) {
        assert_eq!(c["hash_matches"], true);
        assert_eq!(c["child_preimage"], p["child_preimage"]);
    }
    // Without one share, the hashes do not match: exit 1.
    let run = lnkit_json(&["amp-combine"], &json!({"parts": shares[1..]}));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("child hash does not match"),
        "{}",
        run.stderr
    );
}

#[test]
fn simulate_reports_each_seed_and_never_overpays() {
    let out = split(&["--simulate", "1,2,3,4"], ask(300_000_000)).json();
    let runs = out["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for r in runs {
        assert!(r["delivered_msat"].as_u64().unwrap() <= 300_000_000, "{r}");
        assert!(r["fee_paid_msat"].as_u64().unwrap() <= 20_000_000, "{r}");
        assert!(r["rounds"].as_u64().unwrap() >= 1);
    }
    let ok = runs.iter().filter(|r| r["success"] == true).count();
    assert_eq!(out["success_rate"], json!(ok as f64 / 4.0));
}

#[test]
fn dot_draws_the_flow() {
    let run = split(&["--dot"], ask(1_500_000_000));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("digraph flow {"), "{}", run.stdout);
    assert!(run.stdout.contains("800002x1x0") || run.stdout.contains("800004x1x0"));
    assert!(run.stdout.contains("part(s)"));
}

#[test]
fn bad_input_and_no_split() {
    split(
        &[],
        json!({"source": SENDER, "destination": DAVE, "amount_msat": 0}),
    )
    .assert_bad_input("amount_msat", &["above zero"]);
    let mut input = ask(1);
    input["max_parts"] = json!(0);
    split(&[], input).assert_bad_input("max_parts", &["at least 1"]);
    let mut input = ask(1_000_000);
    input["liquidity"] =
        json!([{"short_channel_id": "800000x1x0/0", "min_msat": 2_000_000_000u64}]);
    split(&[], input).assert_bad_input("liquidity[0].min_msat", &["capacity"]);
    let mut input = ask(1);
    input["mode"] = json!("keysend");
    split(&[], input).assert_bad_input("mode", &["mpp"]);

    let run = split(&[], ask(5_000_000_000));
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("can carry at most"), "{}", run.stderr);
    let mut input = ask(1_500_000_000);
    input["max_fee_msat"] = json!(1000);
    let run = split(&[], input);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cheapest split found pays"),
        "{}",
        run.stderr
    );
}
