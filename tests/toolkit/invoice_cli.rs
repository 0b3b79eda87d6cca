//! `lnkit invoice decode | create` as a shell user runs them, create -> decode
//! as a property over random fields, and bad input.

use crate::common;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use common::{lnkit, lnkit_json, s, testdata};
use lnkit::invoice::{decode, Field, Invoice, RouteHop};
use proptest::prelude::*;
use serde_json::json;

const KEY: &str = "e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734";

#[test]
fn decode_the_examples_through_the_cli() {
    let v = testdata("bolt11-invoices.json");
    for c in v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["valid"] == true)
    {
        let out = lnkit(&["invoice", "decode", "--invoice", s(c, "invoice")], "").json();
        assert_eq!(
            out["payee_pubkey"],
            c["expected"]["payee_pubkey"],
            "{}",
            s(c, "name")
        );
        assert_eq!(out["amount_msat"], c["expected"]["amount_msat"]);
    }
    // The P2TR fallback shows as its address; the pico-BTC amount in msat.
    let p2tr = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| s(c, "name").contains("P2TR"))
        .unwrap();
    let out = lnkit(&["invoice", "decode", "--invoice", s(p2tr, "invoice")], "").json();
    assert!(s(&out["fallback_addresses"][0], "address").starts_with("bc1p"));
    // Expired or not, given --now.
    let first = &v["cases"][0];
    let t = first["expected"]["timestamp"].as_u64().unwrap();
    let out = lnkit(
        &[
            "invoice",
            "decode",
            "--invoice",
            s(first, "invoice"),
            "--now",
            &(t + 3601).to_string(),
        ],
        "",
    )
    .json();
    assert_eq!(out["expired"], true);
}

#[test]
fn create_then_decode_and_into_a_swap_script() {
    let created = lnkit_json(
        &["invoice", "create", "--network", "regtest"],
        &json!({"node_privkey": KEY, "amount_msat": 2_500_000, "description": "a swap", "expiry": 600,
                "min_final_cltv_expiry_delta": 80, "fallback_address": "bcrt1q8j3nctjygm62xp0j8jqdlzk34lw0v5hejct6md",
                "payment_metadata": "01fafaf0", "timestamp": 1_700_000_000,
                "route_hints": [[{"pubkey": "029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255", "short_channel_id": "700000x12x1", "fee_base_msat": 1000, "fee_proportional_millionths": 100, "cltv_expiry_delta": 40}]]}),
    )
    .json();
    let preimage = s(&created, "payment_preimage").to_string();
    let inv = s(&created, "invoice").to_string();
    assert!(inv.starts_with("lnbcrt25u1"));
    let d = lnkit(&["invoice", "decode", "--invoice", &inv], "").json();
    assert_eq!(d["amount_msat"], 2_500_000);
    assert_eq!(d["expiry"], 600);
    assert_eq!(d["min_final_cltv_expiry_delta"], 80);
    assert_eq!(
        d["fallback_addresses"][0]["address"],
        "bcrt1q8j3nctjygm62xp0j8jqdlzk34lw0v5hejct6md"
    );
    assert_eq!(d["route_hints"][0][0]["short_channel_id"], "700000x12x1");
    assert_eq!(d["payment_metadata"], "01fafaf0");
    assert_eq!(
        d,
        created["decoded"]
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("invoice".into(), json!(inv));
                json!(o)
            })
            .unwrap()
    );
    // The generated preimage hashes to the invoice's payment hash...
    let hash = lnkit::payment::PaymentPreimage(hex::decode(&preimage).unwrap().try_into().unwrap())
        .payment_hash();
    assert_eq!(d["payment_hash"], hash.to_string());
    // ...and the invoice's payment hash locks a swap contract.
    let swap = lnkit_json(
        &["htlc-script", "--kind", "swap", "--network", "regtest"],
        &json!({"payment_hash": d["payment_hash"], "claim_pubkey": "036d6caac248af96f6afa7f904f550253a0f3ef3f5aa2fe6838a95b216691468e2",
                "refund_pubkey": "025f7117a78150fe2ef97db7cfc83bd57b2e2c0d0dd25eaf467a4a1c2a45ce1486", "timeout_block_height": 800000}),
    )
    .json();
    // The script locks to HASH160(preimage) = RIPEMD160(payment_hash).
    let h160 = lnkit::swap::contract::hash160_of(&hash);
    assert!(s(&swap, "script_hex").contains(&hex::encode(h160)));
}

#[test]
fn invoice_bad_input() {
    let v = testdata("bolt11-invoices.json");
    let good = s(&v["cases"][0], "invoice").to_string();
    let run = |inv: &str| lnkit(&["invoice", "decode", "--invoice", inv], "");
    let mut bad = good.clone();
    bad.pop();
    bad.push('q');
    run(&bad).assert_bad_input("invoice", &["bech32"]);
    let mixed = format!("{}{}", good[..10].to_uppercase(), &good[10..]);
    run(&mixed).assert_bad_input("invoice", &["bech32"]);
    for c in v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["valid"] == false)
    {
        let r = run(s(c, "invoice"));
        assert_eq!(r.code, 2, "{}", s(c, "name"));
        assert!(
            r.stdout.is_empty() && r.stderr.starts_with("error: invoice:"),
            "{}",
            r.stderr
        );
    }
    lnkit_json(
        &["invoice", "create"],
        &json!({"node_privkey": KEY, "network": "moon"}),
    )
    .assert_bad_input("network", &["moon"]);
    lnkit_json(
        &["invoice", "create"],
        &json!({"node_privkey": KEY, "features": ["option_turbo_required"]}),
    )
    .assert_bad_input("features[0]", &["unknown feature"]);
    lnkit_json(
        &["invoice", "create"],
        &json!({"node_privkey": KEY, "payment_hash": "00", "description": "x"}),
    )
    .assert_bad_input("payment_hash", &["32-byte"]);
    lnkit_json(&["invoice", "create"], &json!({}))
        .assert_bad_input("node_privkey", &["missing required field"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// create -> decode is the identity for random fields.
    #[test]
    fn create_then_decode_is_the_identity(
        amount in proptest::option::of(1u64..2_100_000_000_000_000_000),
        timestamp in 0u64..(1 << 35),
        hash in any::<[u8; 32]>(),
        secret in any::<[u8; 32]>(),
        description in "\\PC{0,100}",
        expiry in proptest::option::of(0u64..1_000_000_000),
        cltv in proptest::option::of(0u64..1_000_000),
        metadata in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        hops in proptest::collection::vec((any::<u64>(), any::<u32>(), any::<u32>(), any::<u16>()), 0..3),
        currency in prop::sample::select(vec!["bc", "tb", "tbs", "bcrt"]),
    ) {
        let secp = Secp256k1::new();
        let key = SecretKey::from_slice(&hex::decode(KEY).unwrap()).unwrap();
        let node = PublicKey::from_secret_key(&secp, &key);
        let mut fields = vec![Field::PaymentHash(hash), Field::PaymentSecret(secret), Field::Description(description)];
        if let Some(x) = expiry { fields.push(Field::Expiry(x)); }
        if let Some(c) = cltv { fields.push(Field::MinFinalCltvExpiryDelta(c)); }
        if !hops.is_empty() {
            fields.push(Field::RouteHint(hops.iter().map(|(scid, base, prop, delta)| RouteHop {
                pubkey: node, short_channel_id: *scid, fee_base_msat: *base, fee_proportional_millionths: *prop, cltv_expiry_delta: *delta,
            }).collect()));
        }
        fields.push(Field::Features(vec![8, 14, 17]));
        if let Some(m) = metadata { fields.push(Field::Metadata(m)); }
        let inv = Invoice { currency: currency.into(), amount_msat: amount, timestamp, fields };
        let s = inv.sign(&secp, &key).unwrap();
        let d = decode(&secp, &s).unwrap();
        prop_assert_eq!(d.invoice, inv);
        prop_assert_eq!(d.payee, node);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The decode fuzz target's property on stable: any data with a valid
    /// checksum (so the parser past bech32 is reached) never panics.
    #[test]
    fn any_checksummed_data_never_panics(
        words in proptest::collection::vec(0u8..32, 0..400),
        hrp in prop::sample::select(vec!["lnbc", "lntb1p", "lnbcrt25u", "lnbc99999999999999999999999p", "lnbc0", "lnxx", "ln", "bc"]),
    ) {
        use bitcoin::bech32::primitives::iter::Fe32IterExt;
        let hrp = bitcoin::bech32::Hrp::parse(hrp).unwrap();
        let s: String = words
            .iter()
            .map(|w| bitcoin::bech32::Fe32::try_from(*w).unwrap())
            .with_checksum::<lnkit::invoice::Bolt11Bech32>(&hrp)
            .chars()
            .collect();
        let _ = decode(&Secp256k1::new(), &s);
    }
}
