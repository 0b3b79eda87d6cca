//! `lnkit swap` run the way a shell user runs it: create → lockup → claim or
//! refund, the MuSig2 cooperative path, cross-chain legs, `swap verify` —
//! every transaction the binary prints is checked again here by Bitcoin
//! Core's interpreter — and bad input, field by field.

use crate::common;

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::Network;
use bitcoin::Transaction;
use common::{lnkit_json, prevouts, s};
use lnkit::swap::chain::{Chain, ChainParams};
use lnkit::verify::verify_transaction;
use serde_json::{json, Value};

const K_CLAIM: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const K_REFUND: &str = "0000000000000000000000000000000000000000000000000000000000000002";
const CLAIM: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
const REFUND: &str = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";
const PREIMAGE: &str = "7777777777777777777777777777777777777777777777777777777777777777";
const HASH: &str = "e29442e61ad354e5cb0831e2e8359e8fb50cf024ad5a8f407c8f9de63bdf7371";
const DEST: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
const NOT_ON_CURVE: &str = "020000000000000000000000000000000000000000000000000000000000000007";

fn merge(a: &Value, b: &Value) -> Value {
    let mut out = a.clone();
    for (k, v) in b.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

fn reverse(output_type: &str) -> Value {
    json!({"kind": "reverse", "output_type": output_type, "network": "regtest", "preimage": PREIMAGE,
           "claim_pubkey": CLAIM, "refund_pubkey": REFUND, "current_height": 1000, "timeout_blocks": 144,
           "amount_sat": 100_000})
}

fn wallet() -> Value {
    json!({"inputs": [{"txid": "fd2105607605d2302994ffea703b09f66b6351816ee737a93e42a841ea20bbad", "vout": 0,
                       "amount_sat": 250_000, "privkey": "0303030303030303030303030303030303030303030303030303030303030303"}],
           "change_address": DEST, "feerate_sat_per_vb": 2})
}

fn create(input: &Value, args: &[&str]) -> Value {
    let mut a = vec!["swap", "create"];
    a.extend_from_slice(args);
    lnkit_json(&a, input).json()
}

fn locked(swap: &Value) -> Value {
    lnkit_json(&["swap", "lockup"], &merge(swap, &wallet())).json()
}

fn tx(v: &Value, field: &str) -> Transaction {
    deserialize_hex(s(v, field)).unwrap()
}

/// The printed spend passes the interpreter against the printed lockup.
fn check_spend(lockup: &Value, spend: &Value) -> Transaction {
    let lock_tx = tx(lockup, "lockup_tx_hex");
    let t = tx(spend, "tx_hex");
    verify_transaction(&t, &prevouts(&t, &[lock_tx])).unwrap();
    t
}

#[test]
fn reverse_swap_lockup_claim_and_refund_both_output_types() {
    for output_type in ["p2wsh", "p2tr"] {
        let swap = create(&reverse(output_type), &[]);
        assert!(s(&swap, "address").starts_with(if output_type == "p2wsh" {
            "bcrt1q"
        } else {
            "bcrt1p"
        }));
        assert_eq!(swap["timeout_block_height"], 1144);
        assert!(swap["checklist"].as_array().unwrap().len() >= 4);
        let l = locked(&swap);
        assert_eq!(l["lockup_verified"], true);
        // The lockup pays the swap's script_pubkey at output 0.
        assert_eq!(
            tx(&l, "lockup_tx_hex").output[0]
                .script_pubkey
                .to_hex_string(),
            s(&swap, "script_pubkey")
        );

        let claim = lnkit_json(
            &["swap", "claim"],
            &merge(
                &l,
                &json!({"preimage": PREIMAGE, "claim_privkey": K_CLAIM, "destination": DEST}),
            ),
        )
        .json();
        let t = check_spend(&l, &claim);
        assert_eq!(t.lock_time.to_consensus_u32(), 0);
        assert_eq!(claim["witness"][1], PREIMAGE);

        let refund_in = merge(
            &l,
            &json!({"refund_privkey": K_REFUND, "destination": DEST, "current_height": 1144}),
        );
        let refund = lnkit_json(&["swap", "refund"], &refund_in).json();
        let t = check_spend(&l, &refund);
        assert_eq!(t.lock_time.to_consensus_u32(), 1144);
    }
}

#[test]
fn a_refund_before_the_timeout_is_refused_unless_forced() {
    let l = locked(&create(&reverse("p2wsh"), &[]));
    let early = merge(
        &l,
        &json!({"refund_privkey": K_REFUND, "destination": DEST, "current_height": 1100}),
    );
    lnkit_json(&["swap", "refund"], &early).assert_bad_input(
        "current_height",
        &[
            "block 1144",
            "mined in block 1145",
            "44 blocks to go",
            "--force-unsafe",
        ],
    );
    // Forced: built with the swap's nLockTime, so no block before 1145 can hold it.
    let forced = lnkit_json(&["swap", "refund", "--force-unsafe"], &early).json();
    let t = check_spend(&l, &forced);
    let height = |h| bitcoin::absolute::Height::from_consensus(h).unwrap();
    let time = bitcoin::absolute::Time::MIN;
    // (rust-bitcoin reads the height as the chain tip: satisfied means it
    // can go into the next block.)
    assert!(!t.lock_time.is_satisfied_by(height(1101), time));
    assert!(!t.lock_time.is_satisfied_by(height(1143), time));
    assert!(t.lock_time.is_satisfied_by(height(1144), time));
}

/// MuSig2 by hand, one signer at a time, as two parties would run it.
#[test]
fn the_cooperative_key_path_through_nonce_and_sign_partial() {
    let l = locked(&create(&reverse("p2tr"), &[]));
    let spend = merge(&l, &json!({"destination": DEST}));
    let nonce = |k: &str, seed: &str| {
        lnkit_json(
            &["swap", "nonce"],
            &merge(&spend, &json!({"privkey": k, "nonce_seed": seed})),
        )
        .json()
    };
    let (cn, rn) = (nonce(K_CLAIM, PREIMAGE), nonce(K_REFUND, HASH));
    assert_eq!((s(&cn, "role"), s(&rn, "role")), ("claim", "refund"));
    assert_eq!(cn["sighash"], rn["sighash"]);
    let nonces = json!({"claim": cn["pub_nonce"], "refund": rn["pub_nonce"]});
    let sign = |k: &str, n: &Value| {
        lnkit_json(
            &["swap", "sign-partial"],
            &merge(
                &spend,
                &json!({"privkey": k, "sec_nonce": n["sec_nonce"], "pub_nonces": nonces}),
            ),
        )
    };
    let (cp, rp) = (sign(K_CLAIM, &cn).json(), sign(K_REFUND, &rn).json());
    let partials = json!({"claim": cp["partial_signature"], "refund": rp["partial_signature"]});
    let coop = merge(
        &spend,
        &json!({"pub_nonces": nonces, "partial_signatures": partials}),
    );
    for step in ["claim", "refund"] {
        let out = lnkit_json(&["swap", step, "--cooperative"], &coop).json();
        assert_eq!(out["path"], "key");
        let t = check_spend(&l, &out);
        assert_eq!(t.input[0].witness.len(), 1);
        assert_eq!(out["sighash"], cn["sighash"]);
    }
    // A signer using another's nonce, a forged partial, a stranger's key.
    sign(K_CLAIM, &rn).assert_bad_input("sec_nonce", &["pub_nonces.claim"]);
    let forged = merge(
        &coop,
        &json!({"partial_signatures": {"claim": cp["partial_signature"], "refund": cp["partial_signature"]}}),
    );
    lnkit_json(&["swap", "claim", "--cooperative"], &forged)
        .assert_bad_input("partial_signatures.refund", &["does not verify"]);
    lnkit_json(
        &["swap", "nonce"],
        &merge(&spend, &json!({"privkey": "03".repeat(32)})),
    )
    .assert_bad_input("privkey", &["neither"]);
    // P2WSH has no key path.
    let w = merge(
        &locked(&create(&reverse("p2wsh"), &[])),
        &json!({"destination": DEST, "privkey": K_CLAIM}),
    );
    lnkit_json(&["swap", "nonce"], &w).assert_bad_input("output_type", &["p2tr"]);
}

fn invoice(cltv: u64, expiry: u64) -> String {
    let inv = lnkit_json(
        &["invoice", "create", "--network", "regtest"],
        &json!({"node_privkey": "e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734",
                "payment_preimage": PREIMAGE, "payment_secret": "23".repeat(32), "amount_msat": 90_000_000,
                "description": "swap", "timestamp": 1_700_000_000, "expiry": expiry,
                "min_final_cltv_expiry_delta": cltv}),
    )
    .json();
    s(&inv, "invoice").to_string()
}

fn submarine(inv: &str, timeout_blocks: u32) -> Value {
    json!({"kind": "submarine", "network": "regtest", "invoice": inv, "claim_pubkey": CLAIM, "refund_pubkey": REFUND,
           "current_height": 1000, "timeout_blocks": timeout_blocks, "amount_sat": 100_000, "current_time": 1_700_000_100})
}

#[test]
fn a_submarine_swap_takes_its_hash_from_the_invoice_and_keeps_to_its_cltv() {
    let inv = invoice(40, 3600);
    let swap = create(&submarine(&inv, 144), &["--output-type", "p2tr"]);
    assert_eq!(swap["payment_hash"], HASH);
    assert_eq!(swap["lightning"]["min_final_cltv_expiry_delta"], 40);
    // The service claims with the preimage it learns by paying the invoice.
    let l = locked(&swap);
    let claim = lnkit_json(
        &["swap", "claim"],
        &merge(
            &l,
            &json!({"preimage": PREIMAGE, "claim_privkey": K_CLAIM, "destination": DEST}),
        ),
    )
    .json();
    check_spend(&l, &claim);
    // 45 blocks < 40 + 6.
    lnkit_json(&["swap", "create"], &submarine(&inv, 45)).assert_bad_input(
        "timeout_blocks",
        &["min_final_cltv_expiry_delta is 40", "at least 46 blocks"],
    );
    // A week-long invoice could still be paid after the refund opens (144 blocks, about a day).
    lnkit_json(
        &["swap", "create"],
        &submarine(&invoice(40, 86_400 * 7), 144),
    )
    .assert_bad_input(
        "timeout_blocks",
        &["the invoice expires at", "after the refund opens"],
    );
    // The lockup must cover what the invoice asks.
    lnkit_json(
        &["swap", "create"],
        &merge(&submarine(&inv, 144), &json!({"amount_sat": 80_000})),
    )
    .assert_bad_input("amount_sat", &["less than the invoice asks"]);
}

#[test]
fn a_cross_chain_swap_has_a_leg_on_each_chain() {
    let input = json!({"kind": "chain", "network": "regtest", "preimage": PREIMAGE, "legs": {
        "a": {"claim_pubkey": CLAIM, "refund_pubkey": REFUND, "current_height": 1000, "timeout_blocks": 288, "amount_sat": 100_000},
        "b": {"claim_pubkey": REFUND, "refund_pubkey": CLAIM, "current_height": 5000, "timeout_blocks": 576, "amount_sat": 5_000_000}}});
    let swap = create(&input, &["--chain-a", "bitcoin", "--chain-b", "litecoin"]);
    assert!(s(&swap["legs"]["a"], "address").starts_with("bcrt1q"));
    assert!(s(&swap["legs"]["b"], "address").starts_with("rltc1q"));
    assert_eq!(swap["margin_secs"], 86_400);
    // Mainnet HRPs: bc1 and ltc1.
    let main = create(
        &merge(&input, &json!({"network": "bitcoin"})),
        &["--chain-a", "bitcoin", "--chain-b", "litecoin"],
    );
    assert!(s(&main["legs"]["a"], "address").starts_with("bc1q"));
    assert!(s(&main["legs"]["b"], "address").starts_with("ltc1q"));
    // Leg b on litecoin: lock it, and the initiator claims it (revealing the preimage) to a litecoin address.
    let rltc = ChainParams::new(Chain::Litecoin, Network::Regtest)
        .unwrap()
        .address(
            &tx(&locked(&create(&reverse("p2wsh"), &[])), "lockup_tx_hex").output[1].script_pubkey,
        )
        .unwrap();
    assert!(rltc.starts_with("rltc1q"));
    let ltc_wallet = merge(
        &wallet(),
        &json!({"change_address": rltc, "inputs": [
        {"txid": "fd2105607605d2302994ffea703b09f66b6351816ee737a93e42a841ea20bbad", "vout": 1, "amount_sat": 6_000_000,
         "privkey": "0303030303030303030303030303030303030303030303030303030303030303"}]}),
    );
    let l = lnkit_json(
        &["swap", "lockup", "--leg", "b"],
        &merge(&swap, &ltc_wallet),
    )
    .json();
    let claim = lnkit_json(
        &["swap", "claim", "--leg", "b"],
        &merge(
            &l,
            &json!({"preimage": PREIMAGE, "claim_privkey": K_REFUND, "destination": rltc}),
        ),
    )
    .json();
    check_spend(&l, &claim);
    // A bitcoin address is refused for a litecoin leg.
    lnkit_json(
        &["swap", "claim", "--leg", "b"],
        &merge(
            &l,
            &json!({"preimage": PREIMAGE, "claim_privkey": K_REFUND, "destination": DEST}),
        ),
    )
    .assert_bad_input("destination", &["litecoin regtest"]);
    // The participant checks the litecoin leg it is offered, on litecoin.
    let leg_b = &swap["legs"]["b"];
    let check_b = json!({"kind": "chain", "chain": "litecoin", "network": "regtest", "preimage": PREIMAGE,
        "claim_pubkey": REFUND, "refund_pubkey": CLAIM, "redeem_script": leg_b["redeem_script"],
        "address": leg_b["address"], "timeout_block_height": leg_b["timeout_block_height"], "current_height": 5000});
    assert_eq!(lnkit_json(&["swap", "verify"], &check_b).json()["ok"], true);
    // Read as a bitcoin address, the same lock is not the address given.
    lnkit_json(
        &["swap", "verify"],
        &merge(&check_b, &json!({"chain": "bitcoin"})),
    )
    .assert_bad_input("address", &["bcrt1q"]);
    // Legs swapped round: the initiator's lock would expire first.
    let flipped = json!({"legs": {"a": input["legs"]["a"].clone(), "b": merge(&input["legs"]["b"], &json!({"timeout_blocks": 1440}))}});
    lnkit_json(
        &[
            "swap",
            "create",
            "--chain-a",
            "bitcoin",
            "--chain-b",
            "litecoin",
        ],
        &merge(&input, &flipped),
    )
    .assert_bad_input(
        "legs.a.timeout_block_height",
        &["must outlast", "the margin is -43200 s"],
    );
    lnkit_json(
        &[
            "swap",
            "create",
            "--chain-a",
            "bitcoin",
            "--chain-b",
            "litecoin",
        ],
        &merge(&input, &json!({"network": "signet"})),
    )
    .assert_bad_input("network", &["litecoin has no signet"]);
}

/// What a service would send for a reverse swap, from `swap create` output.
fn offer(swap: &Value, l: &Value) -> Value {
    let mut o = json!({"kind": "reverse", "network": "regtest", "address": swap["address"],
                       "timeout_block_height": swap["timeout_block_height"], "expected_amount_sat": 100_000,
                       "lockup_tx_hex": l["lockup_tx_hex"], "payment_hash": HASH, "claim_pubkey": CLAIM,
                       "refund_pubkey": REFUND, "current_height": 1010, "min_final_cltv_expiry_delta": 160});
    if swap["output_type"] == "p2wsh" {
        o["redeem_script"] = swap["redeem_script"].clone();
    } else {
        o["tree"] = swap["tree"].clone();
    }
    o
}

#[test]
fn swap_verify_passes_an_honest_offer_and_catches_each_mistake() {
    for output_type in ["p2wsh", "p2tr"] {
        let swap = create(&reverse(output_type), &[]);
        let l = locked(&swap);
        let good = offer(&swap, &l);
        let report = lnkit_json(&["swap", "verify"], &good).json();
        assert_eq!(report["ok"], true);
        let names: Vec<_> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| s(c, "name").to_string())
            .collect();
        assert!(
            names.contains(&"hashlock".to_string()) && names.contains(&"amount".to_string()),
            "{names:?}"
        );

        let bad = |change: Value| lnkit_json(&["swap", "verify"], &merge(&good, &change));
        // Another hash than ours (the service locked to something else).
        bad(json!({"payment_hash": "11".repeat(32)})).assert_bad_input("hashlock", &["expected"]);
        // A timeout other than the one scripted.
        bad(json!({"timeout_block_height": 1200}))
            .assert_bad_input("timeout", &["1144", "expected 1200"]);
        // Our claim key is not in the script.
        bad(json!({"claim_pubkey": "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"})).assert_bad_input("claim_key", &[]);
        // An address that is not the script's.
        bad(json!({"address": DEST})).assert_bad_input("address", &["expected"]);
        // The lock outlasts the HTLC we pay for it.
        bad(json!({"min_final_cltv_expiry_delta": 100}))
            .assert_bad_input("timeout_margin", &["within 94 blocks"]);
        // Already expired.
        bad(json!({"current_height": 1144}))
            .assert_bad_input("timeout_in_future", &["not in the future"]);
        // Locked less than promised.
        bad(json!({"expected_amount_sat": 100_001}))
            .assert_bad_input("amount", &["100000", "expected 100001"]);
        // A lockup paying something else.
        let other = locked(&create(
            &merge(
                &reverse(output_type),
                &json!({"amount_sat": 90_000, "timeout_blocks": 100}),
            ),
            &[],
        ));
        bad(json!({"lockup_tx_hex": other["lockup_tx_hex"]}))
            .assert_bad_input("lockup_output", &["pays"]);
        // Several mistakes: every one named, one per line.
        let r = bad(json!({"payment_hash": "11".repeat(32), "expected_amount_sat": 1}));
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.contains("error: hashlock:") && r.stderr.contains("error: address:"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn swap_verify_refuses_an_internal_key_that_is_not_the_musig2_aggregate() {
    let swap = create(&reverse("p2tr"), &[]);
    let l = locked(&swap);
    let mut o = offer(&swap, &l);
    // The service's refund key alone as the internal key: it could take the coins by itself.
    o["tree"]["internal_key"] = json!(&REFUND[2..]);
    lnkit_json(&["swap", "verify"], &o)
        .assert_bad_input("internal_key", &["not the MuSig2 aggregate"]);
    // Another key order is accepted and named.
    let refund_first = create(
        &merge(
            &reverse("p2tr"),
            &json!({"musig_key_order": "refund_first"}),
        ),
        &[],
    );
    let o = offer(&refund_first, &locked(&refund_first));
    let report = lnkit_json(&["swap", "verify"], &o).json();
    assert!(report["checks"].to_string().contains("refund_first order"));
}

#[test]
fn bad_input_is_named() {
    let base = reverse("p2wsh");
    let run = |change: Value| lnkit_json(&["swap", "create"], &merge(&base, &change));
    run(json!({"timeout_blocks": null, "timeout_block_height": 900}))
        .assert_bad_input("timeout_block_height", &["not in the future", "at 1000"]);
    run(json!({"preimage": "77".repeat(33)}))
        .assert_bad_input("preimage", &["32-byte", "33 bytes"]);
    run(json!({"payment_hash": "11".repeat(32)}))
        .assert_bad_input("preimage", &["not payment_hash"]);
    run(json!({"claim_pubkey": NOT_ON_CURVE})).assert_bad_input("claim_pubkey", &["not on"]);
    run(json!({"refund_pubkey": "02abcd"})).assert_bad_input("refund_pubkey", &["33-byte"]);
    run(json!({"refund_pubkey": CLAIM})).assert_bad_input("refund_pubkey", &["own keys"]);
    run(json!({"output_type": "p2sh"})).assert_bad_input("output_type", &["p2wsh", "p2tr"]);
    run(json!({"kind": "sideways"})).assert_bad_input("kind", &["submarine"]);
    run(json!({"amount_sat": 100})).assert_bad_input("amount_sat", &["dust"]);
    run(json!({"timeout_block_height": 1200})).assert_bad_input("timeout_blocks", &["disagrees"]);

    // Spends: a lockup that does not pay the swap; a different amount; a wrong preimage.
    let swap = create(&base, &[]);
    let l = locked(&swap);
    let claim = merge(
        &l,
        &json!({"preimage": PREIMAGE, "claim_privkey": K_CLAIM, "destination": DEST}),
    );
    let other = locked(&create(&merge(&base, &json!({"timeout_blocks": 100})), &[]));
    lnkit_json(
        &["swap", "claim"],
        &merge(&claim, &json!({"lockup_tx_hex": other["lockup_tx_hex"]})),
    )
    .assert_bad_input(
        "lockup_tx_hex",
        &["no output", "pays the swap's script_pubkey"],
    );
    lnkit_json(
        &["swap", "claim"],
        &merge(&claim, &json!({"amount_sat": 99_000})),
    )
    .assert_bad_input("lockup_tx_hex", &["100000 sat", "99000 sat"]);
    lnkit_json(
        &["swap", "claim"],
        &merge(&claim, &json!({"preimage": "78".repeat(32)})),
    )
    .assert_bad_input("preimage", &["not payment_hash"]);
    lnkit_json(
        &["swap", "claim"],
        &merge(&claim, &json!({"preimage": "77".repeat(33)})),
    )
    .assert_bad_input("preimage", &["32-byte"]);
    lnkit_json(
        &["swap", "claim"],
        &merge(&claim, &json!({"claim_privkey": K_REFUND})),
    )
    .assert_bad_input("claim_privkey", &["not the swap's claim key"]);
    lnkit_json(
        &["swap", "claim"],
        &merge(&claim, &json!({"claim_pubkey": REFUND})),
    )
    .assert_bad_input("script_pubkey", &["terms make"]);
    lnkit_json(
        &["swap", "claim"],
        &merge(&claim, &json!({"feerate_sat_per_vb": 2000})),
    )
    .assert_bad_input("feerate_sat_per_vb", &["fee at this feerate"]);
    lnkit_json(&["swap", "claim", "--leg", "c"], &claim).assert_bad_input("--leg", &["a or b"]);
    lnkit_json(&["swap", "claim", "--leg", "a"], &claim)
        .assert_bad_input("legs", &["--kind chain"]);
    lnkit_json(
        &["swap", "create"],
        &merge(&base, &json!({"kind": "chain"})),
    )
    .assert_bad_input("legs", &["leg"]);
    let offered = json!({"kind": "reverse", "network": "regtest", "preimage": PREIMAGE, "claim_pubkey": CLAIM,
        "refund_pubkey": REFUND, "address": DEST, "timeout_block_height": 1144, "current_height": 1000,
        "tree": {"claim_leaf": "00", "refund_leaf": "00", "internal_key": "abcd"}});
    lnkit_json(&["swap", "verify"], &offered)
        .assert_bad_input("tree.internal_key", &["32-byte x-only", "2 bytes"]);
    lnkit_json(
        &["swap", "verify"],
        // Typed input reads every field first, so the tree here is well formed.
        &merge(
            &offered,
            &json!({"redeem_script": "00", "tree": {"claim_leaf": "00", "refund_leaf": "00", "internal_key": &CLAIM[2..]}}),
        ),
    )
    .assert_bad_input("tree", &["not both"]);
}

#[test]
fn explain_goes_to_stderr_and_changes_nothing_on_stdout() {
    let input = reverse("p2tr");
    let plain = lnkit_json(&["swap", "create"], &input);
    let explained = lnkit_json(&["swap", "create", "--explain"], &input);
    assert_eq!(plain.stdout, explained.stdout);
    assert!(plain.stderr.is_empty());
    for needle in [
        "hashlock HASH160(preimage) = RIPEMD160",
        "claim leaf:",
        "MuSig2 KeyAgg(sorted order)",
        "TapTweak",
    ] {
        assert!(
            explained.stderr.contains(needle),
            "{needle}: {}",
            explained.stderr
        );
    }
}
