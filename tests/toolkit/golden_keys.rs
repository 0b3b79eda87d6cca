//! BOLT 3 Appendix E: Key Derivation Test Vectors — all four, through the
//! library and through `lnkit keys derive`.

use crate::common;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use common::{lnkit_json, s, testdata};
use lnkit::keys::{
    derive_privkey, derive_pubkey, derive_revocation_privkey, derive_revocation_pubkey, Basepoint,
    PerCommitmentPoint, PerCommitmentSecret, RevocationBasepoint,
};
use serde_json::{json, Value};

fn case(name_part: &str) -> Value {
    let v = testdata("bolt03-key-derivation.json");
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| s(c, "name").contains(name_part))
        .unwrap_or_else(|| panic!("no case {name_part}"))
        .clone()
}

fn pk(v: &Value, f: &str) -> PublicKey {
    s(v, f).parse().unwrap()
}

fn sk(v: &Value, f: &str) -> SecretKey {
    s(v, f).parse().unwrap()
}

#[test]
fn appendix_e_localpubkey() {
    let c = case("derivation of pubkey from basepoint");
    let secp = Secp256k1::new();
    let d = derive_pubkey(
        &secp,
        &Basepoint(pk(&c["inputs"], "basepoint")),
        &PerCommitmentPoint(pk(&c["inputs"], "per_commitment_point")),
    )
    .unwrap();
    assert_eq!(d.key.to_string(), s(&c["expected"], "localpubkey"));
    assert_eq!(
        hex::encode(d.tweak),
        s(&c["intermediate"], "sha256_per_commitment_point_basepoint")
    );

    let out = lnkit_json(&["keys", "derive"], &c["inputs"]).json();
    assert_eq!(s(&out, "pubkey"), s(&c["expected"], "localpubkey"));
    assert_eq!(
        s(&out, "tweak"),
        s(&c["intermediate"], "sha256_per_commitment_point_basepoint")
    );
}

#[test]
fn appendix_e_localprivkey() {
    let c = case("derivation of private key");
    let secp = Secp256k1::new();
    let privkey = derive_privkey(
        &secp,
        &sk(&c["inputs"], "basepoint_secret"),
        &PerCommitmentPoint(pk(&c["inputs"], "per_commitment_point")),
    )
    .unwrap();
    assert_eq!(
        hex::encode(privkey.secret_bytes()),
        s(&c["expected"], "localprivkey")
    );

    let out = lnkit_json(&["keys", "derive"], &c["inputs"]).json();
    assert_eq!(s(&out, "privkey"), s(&c["expected"], "localprivkey"));
    // The privkey output is the secret of the pubkey output.
    let derived_pub = PublicKey::from_secret_key(&secp, &s(&out, "privkey").parse().unwrap());
    assert_eq!(derived_pub.to_string(), s(&out, "pubkey"));
}

#[test]
fn appendix_e_revocationpubkey() {
    let c = case("derivation of revocation pubkey");
    let secp = Secp256k1::new();
    let d = derive_revocation_pubkey(
        &secp,
        &RevocationBasepoint(pk(&c["inputs"], "revocation_basepoint")),
        &PerCommitmentPoint(pk(&c["inputs"], "per_commitment_point")),
    )
    .unwrap();
    let i = &c["intermediate"];
    assert_eq!(d.key.to_string(), s(&c["expected"], "revocationpubkey"));
    assert_eq!(
        hex::encode(d.basepoint_tweak),
        s(i, "sha256_revocation_basepoint_per_commitment_point")
    );
    assert_eq!(
        d.basepoint_term.to_string(),
        s(i, "revocation_basepoint_times_that")
    );
    assert_eq!(
        hex::encode(d.point_tweak),
        s(i, "sha256_per_commitment_point_revocation_basepoint")
    );
    assert_eq!(
        d.point_term.to_string(),
        s(i, "per_commitment_point_times_that")
    );

    let out = lnkit_json(&["keys", "derive"], &c["inputs"]).json();
    assert_eq!(
        s(&out, "revocationpubkey"),
        s(&c["expected"], "revocationpubkey")
    );
}

#[test]
fn appendix_e_revocationprivkey() {
    let c = case("derivation of revocation secret");
    let secp = Secp256k1::new();
    let privkey = derive_revocation_privkey(
        &secp,
        &sk(&c["inputs"], "revocation_basepoint_secret"),
        &PerCommitmentSecret(sk(&c["inputs"], "per_commitment_secret")),
    )
    .unwrap();
    assert_eq!(
        hex::encode(privkey.secret_bytes()),
        s(&c["expected"], "revocationprivkey")
    );

    let out = lnkit_json(&["keys", "derive"], &c["inputs"]).json();
    assert_eq!(
        s(&out, "revocation_privkey"),
        s(&c["expected"], "revocationprivkey")
    );
    // And the pubkey of that privkey is the revocationpubkey of Appendix E's third case.
    let third = case("derivation of revocation pubkey");
    assert_eq!(
        s(&out, "revocationpubkey"),
        s(&third["expected"], "revocationpubkey")
    );
}

#[test]
fn keys_derive_accepts_secrets_in_place_of_points() {
    // Everything from secrets alone: the tool computes each point itself.
    let common = &testdata("bolt03-key-derivation.json")["common"];
    let out = lnkit_json(
        &["keys", "derive"],
        &json!({
            "basepoint_secret": common["base_secret"],
            "per_commitment_secret": common["per_commitment_secret"],
            "revocation_basepoint_secret": common["base_secret"],
        }),
    )
    .json();
    assert_eq!(
        s(&out, "per_commitment_point"),
        s(common, "per_commitment_point")
    );
    assert_eq!(
        s(&out, "pubkey"),
        s(&case("pubkey from basepoint")["expected"], "localpubkey")
    );
    assert_eq!(
        s(&out, "privkey"),
        s(&case("private key")["expected"], "localprivkey")
    );
    assert_eq!(
        s(&out, "revocation_privkey"),
        s(&case("revocation secret")["expected"], "revocationprivkey")
    );
}
