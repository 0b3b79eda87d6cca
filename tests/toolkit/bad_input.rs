//! Bad input, the CLI contract: a message on stderr naming the field and what
//! was expected, exit code 2, nothing on stdout, never a panic — for every
//! subcommand of the foundation and every kind of bad input it can meet.

use crate::common;

use common::{lnkit, lnkit_json};
use serde_json::{json, Value};

const POINT: &str = "036d6caac248af96f6afa7f904f550253a0f3ef3f5aa2fe6838a95b216691468e2";
const POINT2: &str = "025f7117a78150fe2ef97db7cfc83bd57b2e2c0d0dd25eaf467a4a1c2a45ce1486";
const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// 33 bytes with a valid prefix whose x coordinate (x = 5) has no point on secp256k1.
const NOT_ON_CURVE: &str = "020000000000000000000000000000000000000000000000000000000000000005";
const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The secp256k1 group order n itself.
const ORDER: &str = "fffffffffffffffffffffffffffffffebaae dce6af48a03bbfd25e8cd0364141";

fn order() -> String {
    ORDER.replace(' ', "")
}

fn with(base: &Value, field: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[field] = value;
    v
}

fn without(base: &Value, field: &str) -> Value {
    let mut v = base.clone();
    v.as_object_mut().unwrap().remove(field);
    v
}

/// The valid input of each subcommand, to break one field at a time.
fn keys_input() -> Value {
    json!({"basepoint": POINT, "per_commitment_point": POINT2, "revocation_basepoint": POINT})
}

#[test]
fn input_that_is_not_json_or_not_an_object() {
    for args in [
        &["keys", "derive"][..],
        &["shachain", "derive"],
        &["shachain", "insert"],
        &["shachain", "lookup"],
        &["revoke"],
        &["htlc-script"],
        &["build-funding"],
        &["build-commitment"],
        &["penalty"],
        &["close", "--mutual"],
        &["close", "--sweep"],
    ] {
        lnkit(args, "{not json").assert_bad_input("input", &["not JSON"]);
        lnkit(args, "[1, 2]").assert_bad_input("input", &["expected a JSON object", "array"]);
    }
}

#[test]
fn keys_derive_bad_points_and_secrets() {
    let base = keys_input();
    let run = |v: Value| lnkit_json(&["keys", "derive"], &v);
    run(with(&base, "basepoint", json!("zz"))).assert_bad_input("basepoint", &["invalid hex"]);
    run(with(&base, "basepoint", json!(&POINT[..62])))
        .assert_bad_input("basepoint", &["33-byte", "31 bytes"]);
    run(with(&base, "per_commitment_point", json!(NOT_ON_CURVE)))
        .assert_bad_input("per_commitment_point", &["not on the secp256k1 curve"]);
    run(with(
        &base,
        "revocation_basepoint",
        json!(format!("04{}", &POINT[2..])),
    ))
    .assert_bad_input("revocation_basepoint", &["first byte 02 or 03"]);
    run(with(&base, "basepoint", json!(42))).assert_bad_input("basepoint", &["got the number 42"]);
    run(with(&base, "basepoint_secret", json!(ZERO)))
        .assert_bad_input("basepoint_secret", &["zero"]);
    run(with(&base, "basepoint_secret", json!(order())))
        .assert_bad_input("basepoint_secret", &["not below the secp256k1 curve order"]);
    // SECRET is the secret of POINT (Appendix E), not of POINT2.
    run(with(
        &with(&base, "basepoint", json!(POINT2)),
        "basepoint_secret",
        json!(SECRET),
    ))
    .assert_bad_input("basepoint_secret", &["does not match basepoint"]);
    run(with(&base, "per_commitment_secret", json!(&SECRET[..60])))
        .assert_bad_input("per_commitment_secret", &["32-byte", "30 bytes"]);
    run(without(&base, "per_commitment_point"))
        .assert_bad_input("per_commitment_point", &["missing required field"]);
    run(json!({"per_commitment_point": POINT2})).assert_bad_input("basepoint", &["missing"]);
}

#[test]
fn shachain_bad_seed_index_and_store() {
    let derive = |v: Value| lnkit_json(&["shachain", "derive"], &v);
    derive(json!({"seed": "abc", "index": 1})).assert_bad_input("seed", &["odd number of digits"]);
    derive(json!({"seed": SECRET, "index": 281474976710656u64}))
        .assert_bad_input("index", &["below 2^48"]);
    derive(json!({"seed": SECRET, "commitment_number": 281474976710656u64}))
        .assert_bad_input("commitment_number", &["below 2^48"]);
    derive(json!({"seed": SECRET, "index": -1}))
        .assert_bad_input("index", &["non-negative integer"]);
    derive(json!({"seed": SECRET, "index": 1e30})).assert_bad_input("index", &["below 2^64"]);
    derive(json!({"seed": SECRET})).assert_bad_input("index", &["missing required field"]);
    derive(json!({"seed": SECRET, "index": 5, "commitment_number": 5}))
        .assert_bad_input("index", &["commitment number"]);
    derive(json!({"index": 5})).assert_bad_input("seed", &["missing required field"]);

    let insert = |v: Value| lnkit_json(&["shachain", "insert"], &v);
    insert(json!({"index": 281474976710655u64}))
        .assert_bad_input("secret", &["missing required field"]);
    insert(json!({"store": {"entries": "x"}, "index": 1, "secret": SECRET}))
        .assert_bad_input("store", &["shachain store"]);
    insert(json!({"store": {"entries": [{"slot": 3, "index": 281474976710655u64, "secret": SECRET}]}, "index": 1, "secret": SECRET}))
        .assert_bad_input("store", &["slot 3 should be 0"]);
    // Out of order: the store holds index 2^48-1, the next must be 2^48-2.
    let store = json!({"entries": [{"slot": 0, "index": 281474976710655u64, "secret": SECRET}]});
    insert(json!({"store": store, "index": 281474976710652u64, "secret": SECRET}))
        .assert_bad_input("secret", &["expected the secret for index 281474976710654"]);

    let lookup = |v: Value| lnkit_json(&["shachain", "lookup"], &v);
    lookup(json!({"index": 5})).assert_bad_input("index", &["store is empty"]);
    lookup(json!({"store": store, "index": 281474976710654u64}))
        .assert_bad_input("index", &["has not been received"]);
}

#[test]
fn revoke_bad_input() {
    let base =
        json!({"shachain_seed": SECRET, "commitment_number": 3, "revocation_basepoint": POINT2});
    let run = |v: Value| lnkit_json(&["revoke"], &v);
    run(without(&base, "commitment_number"))
        .assert_bad_input("commitment_number", &["missing required field"]);
    run(with(&base, "commitment_number", json!(281474976710655u64)))
        .assert_bad_input("commitment_number", &["past the last one"]);
    run(with(&base, "shachain_seed", json!("00")))
        .assert_bad_input("shachain_seed", &["32-byte", "1 bytes"]);
    run(with(&base, "revocation_basepoint", json!(NOT_ON_CURVE)))
        .assert_bad_input("revocation_basepoint", &["not on"]);
    run(with(&base, "revocation_basepoint_secret", json!(SECRET)))
        .assert_bad_input("revocation_basepoint_secret", &["does not match"]);
}

#[test]
fn htlc_script_bad_input() {
    let base = json!({
        "kind": "received", "revocationpubkey": POINT, "local_htlcpubkey": POINT2,
        "remote_htlcpubkey": POINT, "payment_hash": SECRET, "cltv_expiry": 500,
    });
    let run = |v: Value| lnkit_json(&["htlc-script"], &v);
    run(base.clone()).json();
    run(with(&base, "kind", json!("sideways")))
        .assert_bad_input("kind", &["`offered`, `received`, `swap`", "sideways"]);
    run(without(&base, "kind")).assert_bad_input("kind", &["missing required field"]);
    run(without(&base, "cltv_expiry")).assert_bad_input("cltv_expiry", &["missing required field"]);
    run(with(&base, "cltv_expiry", json!(4294967296u64)))
        .assert_bad_input("cltv_expiry", &["below 2^32"]);
    run(with(&base, "payment_hash", json!(&SECRET[..10])))
        .assert_bad_input("payment_hash", &["32-byte", "5 bytes"]);
    run(with(&base, "payment_preimage", json!(SECRET)))
        .assert_bad_input("payment_preimage", &["not payment_hash"]);
    run(with(&base, "local_htlcpubkey", json!(NOT_ON_CURVE)))
        .assert_bad_input("local_htlcpubkey", &["not on"]);
    run(with(&base, "network", json!("moon"))).assert_bad_input("network", &["regtest", "moon"]);
    run(json!({"kind": "swap", "payment_hash": SECRET, "claim_pubkey": POINT, "timeout_block_height": 10}))
        .assert_bad_input("refund_pubkey", &["missing required field"]);
}

fn funding_input() -> Value {
    json!({
        "inputs": [{"txid": "fd2105607605d2302994ffea703b09f66b6351816ee737a93e42a841ea20bbad", "vout": 0,
                    "amount_sat": 5000000000u64, "type": "p2pkh",
                    "privkey": "6bd078650fcee8444e4e09825227b801a1ca928debb750eb36e6d56124bb20e8"}],
        "local_funding_pubkey": POINT, "remote_funding_pubkey": POINT2,
        "funding_amount_sat": 10000000, "change_script_pubkey": "00143ca33c2e4446f4a305f23c80df8ad1afdcf652f9",
        "feerate_per_kw": 15000,
    })
}

#[test]
fn build_funding_bad_input() {
    let base = funding_input();
    let run = |v: Value| lnkit_json(&["build-funding"], &v);
    run(base.clone()).json();
    run(with(&base, "funding_amount_sat", json!(6_000_000_000u64)))
        .assert_bad_input("funding_amount_sat", &["inputs hold 5000000000 sat"]);
    run(with(
        &base,
        "funding_amount_sat",
        json!(2_100_000_000_000_001u64),
    ))
    .assert_bad_input("funding_amount_sat", &["at most 2100000000000000 sat"]);
    run(with(&base, "funding_amount_sat", json!(100)))
        .assert_bad_input("funding_amount_sat", &["dust"]);
    let two_huge = json!([
        {"txid": "fd2105607605d2302994ffea703b09f66b6351816ee737a93e42a841ea20bbad", "vout": 0, "amount_sat": 2_000_000_000_000_000u64},
        {"txid": "fd2105607605d2302994ffea703b09f66b6351816ee737a93e42a841ea20bbad", "vout": 1, "amount_sat": 2_000_000_000_000_000u64},
    ]);
    run(with(&base, "inputs", two_huge)).assert_bad_input("inputs", &["21 million"]);
    run(with(&base, "inputs", json!([]))).assert_bad_input("inputs", &["no inputs"]);
    run(without(&base, "inputs")).assert_bad_input("inputs", &["missing required field"]);
    let mut bad_txid = base.clone();
    bad_txid["inputs"][0]["txid"] = json!("xyz");
    run(bad_txid).assert_bad_input("inputs[0].txid", &["txid"]);
    let mut bad_key = base.clone();
    bad_key["inputs"][0]["privkey"] = json!(ZERO);
    run(bad_key).assert_bad_input("inputs[0].privkey", &["zero"]);
    let mut wrong_script = base.clone();
    wrong_script["inputs"][0]["script_pubkey"] =
        json!("0014000000000000000000000000000000000000000");
    run(wrong_script.clone()).assert_bad_input("inputs[0].script_pubkey", &["odd number"]);
    wrong_script["inputs"][0]["script_pubkey"] =
        json!("00140000000000000000000000000000000000000000");
    run(wrong_script).assert_bad_input("inputs[0].privkey", &["does not match"]);
    run(with(&base, "remote_funding_pubkey", json!(NOT_ON_CURVE)))
        .assert_bad_input("remote_funding_pubkey", &["not on"]);
    run(without(&base, "feerate_per_kw"))
        .assert_bad_input("feerate_sat_per_vb", &["missing required field"]);
    run(with(&base, "feerate_sat_per_vb", json!(5)))
        .assert_bad_input("feerate_sat_per_vb", &["not both"]);
    run(with(
        &without(&base, "change_script_pubkey"),
        "change_address",
        json!("tb1qxyz"),
    ))
    .assert_bad_input("change_address", &["expected a bitcoin address"]);
    // A regtest address on mainnet (the default network) is refused.
    run(with(
        &without(&base, "change_script_pubkey"),
        "change_address",
        json!("bcrt1q8j3nctjygm62xp0j8jqdlzk34lw0v5hejct6md"),
    ))
    .assert_bad_input("change_address", &["network bitcoin"]);
    // --verify needs every input signed.
    let mut unsigned = base.clone();
    unsigned["inputs"][0]
        .as_object_mut()
        .unwrap()
        .remove("privkey");
    lnkit_json(&["build-funding", "--verify"], &unsigned).assert_bad_input("verify", &["privkey"]);
}

#[test]
fn flags_are_validated_like_fields() {
    lnkit(
        &[
            "shachain",
            "derive",
            "--seed",
            SECRET,
            "--set",
            "index=281474976710656",
        ],
        "",
    )
    .assert_bad_input("index", &["below 2^48"]);
    lnkit(&["shachain", "derive", "--set", "nonsense"], "")
        .assert_bad_input("--set", &["FIELD=VALUE"]);
    let run = lnkit(&["keys", "derive", "--input", "/nonexistent/file.json"], "");
    run.assert_bad_input("--input", &["cannot read"]);
    // An unknown subcommand or flag is a usage error from clap: exit 2, nothing on stdout.
    let run = lnkit(&["shachain", "derive", "--no-such-flag"], "");
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
}

fn commitment_input() -> Value {
    let all = common::vectors::appendices();
    let a = &all[0];
    let case = a
        .cases
        .iter()
        .find(|c| c["name"] == "commitment tx with seven outputs untrimmed (maximum feerate)")
        .unwrap();
    common::vectors::cli_input(a, case)
}

#[test]
fn build_commitment_bad_input() {
    let base = commitment_input();
    let run = |v: Value| lnkit_json(&["build-commitment"], &v);
    run(base.clone()).json();
    run(with(&base, "to_local_msat", json!(1))).assert_bad_input(
        "to_local_msat",
        &["add up to", "funding amount is 10000000000 msat"],
    );
    run(with(&base, "to_local_msat", json!(u64::MAX)))
        .assert_bad_input("to_local_msat", &["overflow"]);
    run(with(&base, "channel_type", json!("option_turbo")))
        .assert_bad_input("channel_type", &["static_remotekey", "option_turbo"]);
    run(without(&base, "channel_type"))
        .assert_bad_input("channel_type", &["missing required field"]);
    run(without(&base, "remote_revocation_basepoint"))
        .assert_bad_input("remote_revocation_basepoint", &["missing required field"]);
    run(with(&base, "holder", json!("both"))).assert_bad_input("holder", &["`local` or `remote`"]);
    let mut zero = base.clone();
    zero["htlcs"][0]["amount_msat"] = json!(0);
    run(zero).assert_bad_input("htlcs[0]", &["above zero"]);
    let mut huge = base.clone();
    huge["htlcs"][0]["amount_msat"] = json!(20_000_000_000u64);
    run(huge).assert_bad_input("htlcs[0]", &["more than the channel"]);
    let mut bad_dir = base.clone();
    bad_dir["htlcs"][1]["direction"] = json!("sideways");
    run(bad_dir).assert_bad_input("htlcs[1].direction", &["`offered` or `received`"]);
    run(with(&base, "per_commitment_point", json!(POINT))).assert_bad_input(
        "per_commitment_point",
        &["does not match per_commitment_secret"],
    );
    run(with(&base, "to_self_delay", json!(70000))).assert_bad_input("to_self_delay", &["65535"]);
    // BOLT 2's floor: below it, outputs can be below Core's dust threshold.
    run(with(&base, "dust_limit_satoshis", json!(250)))
        .assert_bad_input("dust_limit_satoshis", &["at least 354 sat", "got 250"]);
    // A feerate the opener cannot afford: say what it can.
    run(with(&base, "feerate_per_kw", json!(50_000_000))).assert_bad_input(
        "feerate_per_kw",
        &["short of the base fee", "can afford at most feerate_per_kw"],
    );
    let mut anchors = with(&base, "channel_type", json!("anchors_zero_fee_htlc_tx"));
    anchors["feerate_per_kw"] = json!(50_000_000);
    run(anchors).assert_bad_input("feerate_per_kw", &["can afford at most feerate_per_kw"]);
}

#[test]
fn close_and_penalty_bad_input() {
    let base = commitment_input();
    lnkit_json(&["close"], &base).assert_bad_input("close", &["--mutual or --sweep"]);
    let mut m = base.clone();
    m["local_scriptpubkey"] = json!("0014");
    lnkit_json(&["close", "--mutual"], &m)
        .assert_bad_input("remote_scriptpubkey", &["missing required field"]);
    lnkit_json(&["penalty"], &base).assert_bad_input("revoked_tx_hex", &["missing required field"]);
    let mut p = base.clone();
    p["revoked_tx_hex"] = json!("00");
    lnkit_json(&["penalty"], &p).assert_bad_input("revoked_tx_hex", &["do not decode"]);
    let mut s = base.clone();
    s["commitment_tx_hex"] = json!("zz");
    lnkit_json(&["close", "--sweep"], &s).assert_bad_input("commitment_tx_hex", &["invalid hex"]);
}

#[test]
fn onion_bad_input() {
    let v = common::testdata("bolt04-onion-test.json");
    let onion = v["onion"].as_str().unwrap().to_string();
    let key = "4141414141414141414141414141414141414141414141414141414141414141";
    let ad = "4242424242424242424242424242424242424242424242424242424242424242";
    let peel = |onion_hex: &str| {
        lnkit_json(
            &["onion-peel"],
            &json!({"onion_hex": onion_hex, "node_privkey": key, "associated_data": ad}),
        )
    };
    peel(&onion).json();
    peel(&onion[..200]).assert_bad_input("onion_hex", &["expected a 1366-byte onion", "100 bytes"]);
    peel(&format!("01{}", &onion[2..])).assert_bad_input("onion_hex", &["unknown onion version 1"]);
    let off_curve = format!(
        "00{}{}",
        "020000000000000000000000000000000000000000000000000000000000000005",
        &onion[68..]
    );
    peel(&off_curve).assert_bad_input("onion_hex", &["not a valid point on the curve"]);
    // Tampered, or for another node: the exact words, and nothing decrypted.
    let mut flipped = hex::decode(&onion).unwrap();
    flipped[500] ^= 1;
    let run = peel(&hex::encode(&flipped));
    run.assert_bad_input(
        "onion_hex",
        &["HMAC mismatch: not for this node, or tampered"],
    );
    lnkit_json(&["onion-peel"], &json!({"onion_hex": onion, "node_privkey": "4343434343434343434343434343434343434343434343434343434343434343", "associated_data": ad}))
        .assert_bad_input("onion_hex", &["HMAC mismatch: not for this node, or tampered"]);

    // A payload whose TLV stream breaks a rule: say which.
    let hop = |payload: &str| json!({"pubkey": "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619", "payload_hex": payload});
    let bad_payload = lnkit_json(
        &["onion-create"],
        &json!({"session_key": key, "associated_data": ad, "hops": [hop("0402000104020001")]}),
    )
    .json();
    lnkit_json(
        &["onion-peel"],
        &json!({"onion_hex": bad_payload["onion_hex"], "node_privkey": key, "associated_data": ad}),
    )
    .assert_bad_input("onion_hex", &["not a valid TLV stream", "duplicate type 4"]);
    // Payloads that do not fit: by how many bytes.
    let big = "fd0401".to_string() + &"00".repeat(1000);
    lnkit_json(
        &["onion-create"],
        &json!({"session_key": key, "hops": [hop(&("0103".to_string() + &big[..])), hop(&big)]}),
    )
    .assert_bad_input("hops", &["bytes too many"]);
    lnkit_json(&["onion-create"], &json!({"session_key": key, "hops": []}))
        .assert_bad_input("hops", &["at least one hop"]);
    lnkit_json(
        &["onion-create"],
        &json!({"session_key": key, "hops": [{"pubkey": NOT_ON_CURVE, "payload_hex": "0000"}]}),
    )
    .assert_bad_input("hops[0].pubkey", &["not on the secp256k1 curve"]);
    // Failure codes.
    let ss = "b5756b9b542727dbafc6765a49488b023a725d631af688fc031217e90770c328";
    lnkit_json(
        &["onion-error", "create"],
        &json!({"shared_secret": ss, "failure_code": "payment_too_cool"}),
    )
    .assert_bad_input(
        "failure_code",
        &[
            "unknown failure code name \"payment_too_cool\"",
            "temporary_node_failure",
        ],
    );
    lnkit_json(
        &["onion-error", "create"],
        &json!({"shared_secret": ss, "failure_code": "fee_insufficient", "htlc_msat": 1}),
    )
    .assert_bad_input("channel_update", &["missing required field"]);
    lnkit_json(
        &["onion-error", "wrap"],
        &json!({"shared_secret": ss, "error_hex": "00", "attribution_data_hex": "00"}),
    )
    .assert_bad_input("attribution_data_hex", &["expected 920 bytes"]);
}

/// `bump`'s input: build-commitment's output for an anchors channel (or
/// `channel_type`'s), with a wallet coin.
fn bump_input(channel_type: &str) -> Value {
    let example = format!(
        "{}/docs/examples/appendix-c-seven-outputs.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let ct = format!("channel_type={channel_type}");
    let mut built = lnkit(&["build-commitment", "-i", &example, "--set", &ct], "").json();
    let wallet: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/docs/examples/fee-wallet.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    for (k, v) in wallet.as_object().unwrap() {
        built[k] = v.clone();
    }
    built
}

#[test]
fn bump_bad_input() {
    let good = bump_input("anchors_zero_fee_htlc_tx");
    lnkit_json(&["bump", "--htlc", "0"], &good).json();
    lnkit_json(&["bump"], &good).assert_error(2, "error: bump:", &["--htlc N or --anchor"]);
    lnkit_json(&["bump", "--htlc", "9"], &good)
        .assert_bad_input("htlc_txs", &["5 HTLC transactions", "--htlc 9"]);
    // A static_remotekey HTLC transaction pays its own fee: SIGHASH_ALL.
    lnkit_json(&["bump", "--htlc", "0"], &bump_input("static_remotekey")).assert_bad_input(
        "htlc_txs[0].signed_tx_hex",
        &["SIGHASH_SINGLE|ANYONECANPAY", "without anchors"],
    );
    lnkit_json(&["bump", "--anchor"], &bump_input("static_remotekey"))
        .assert_bad_input("local_funding_privkey", &["no anchor"]);
    // A coin without its key, a coin of another kind, no coins, too little.
    let mut keyless = good.clone();
    keyless["inputs"][0]
        .as_object_mut()
        .unwrap()
        .remove("privkey");
    lnkit_json(&["bump", "--anchor"], &keyless).assert_bad_input("inputs[0].privkey", &["missing"]);
    let mut legacy = good.clone();
    legacy["inputs"][0]["type"] = json!("p2pkh");
    lnkit_json(&["bump", "--anchor"], &legacy).assert_bad_input("inputs[0].type", &["P2WPKH"]);
    lnkit_json(&["bump", "--anchor"], &with(&good, "inputs", json!([])))
        .assert_bad_input("inputs", &["at least one"]);
    let mut poor = good.clone();
    poor["inputs"][0]["amount_sat"] = json!(1000);
    lnkit_json(&["bump", "--htlc", "0"], &poor).assert_bad_input("inputs", &["fee", "add coins"]);
    lnkit_json(&["bump", "--anchor"], &without(&good, "funding_amount_sat"))
        .assert_bad_input("funding_amount_sat", &["missing"]);
    lnkit_json(&["bump", "--anchor"], &without(&good, "change_address"))
        .assert_bad_input("change_address", &["missing"]);
    lnkit_json(
        &["bump", "--anchor"],
        &with(&good, "feerate_per_kw", json!("fast")),
    )
    .assert_bad_input("feerate_per_kw", &[]);
}
