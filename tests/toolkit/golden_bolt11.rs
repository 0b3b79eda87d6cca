//! BOLT 11 Examples: the 16 valid invoices decode to exactly the listed
//! fields and re-encode (same key, same timestamp, RFC 6979) to the identical
//! string where the example allows it; the 10 invalid ones are rejected, each
//! for its stated reason.

use crate::common;

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use common::{s, testdata};
use lnkit::invoice::{decode, fallback_address, network, tag_char, Field, InvoiceError};
use lnkit::wire::tlv::scid_to_string;
use serde_json::{json, Value};

#[test]
fn the_sixteen_valid_examples() {
    let v = testdata("bolt11-invoices.json");
    let secp = Secp256k1::new();
    let key: SecretKey = s(&v, "signing_privkey").parse().unwrap();
    let mut reencoded = 0;
    let valid: Vec<&Value> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["valid"] == true)
        .collect();
    assert_eq!(valid.len(), 16);
    for c in valid {
        let (name, e) = (s(c, "name"), &c["expected"]);
        let d = decode(&secp, s(c, "invoice")).unwrap_or_else(|err| panic!("{name}: {err}"));
        let inv = &d.invoice;
        assert_eq!(
            format!("ln{}", inv.currency),
            s(e, "network_prefix"),
            "{name}"
        );
        assert_eq!(
            inv.amount_msat.map(Value::from).unwrap_or(Value::Null),
            e["amount_msat"],
            "{name}"
        );
        assert_eq!(inv.timestamp, e["timestamp"].as_u64().unwrap());
        assert_eq!(d.payee.to_string(), s(e, "payee_pubkey"), "{name}");
        assert_eq!(hex::encode(d.signature), s(e, "signature"), "{name}");
        assert_eq!(u64::from(d.recovery_id), e["recovery_id"].as_u64().unwrap());
        assert_eq!(
            hex::encode(&d.signing_data),
            s(e, "signing_data_hex"),
            "{name}"
        );
        let order: Vec<String> = inv
            .fields
            .iter()
            .filter(|f| !matches!(f, Field::Skipped { .. }))
            .map(|f| {
                let tag = match f {
                    Field::PaymentHash(_) => 1,
                    Field::PaymentSecret(_) => 16,
                    Field::Description(_) => 13,
                    Field::DescriptionHash(_) => 23,
                    Field::PayeePubkey(_) => 19,
                    Field::Expiry(_) => 6,
                    Field::MinFinalCltvExpiryDelta(_) => 24,
                    Field::Fallback { .. } => 9,
                    Field::RouteHint(_) => 3,
                    Field::Features(_) => 5,
                    Field::Metadata(_) => 27,
                    Field::Skipped { tag, .. } => *tag,
                };
                tag_char(tag).to_string()
            })
            .collect();
        assert_eq!(json!(order), e["tagged_field_order"], "{name}");
        let mut fallbacks = vec![];
        let mut hints = vec![];
        for f in &inv.fields {
            match f {
                Field::PaymentHash(h) => assert_eq!(hex::encode(h), s(e, "payment_hash")),
                Field::PaymentSecret(x) => assert_eq!(hex::encode(x), s(e, "payment_secret")),
                Field::Description(x) => assert_eq!(x, s(e, "description")),
                Field::DescriptionHash(h) => assert_eq!(hex::encode(h), s(e, "description_hash")),
                Field::Expiry(x) => assert_eq!(*x, e["expiry"].as_u64().unwrap()),
                Field::MinFinalCltvExpiryDelta(x) => assert_eq!(*x, e["min_final_cltv_expiry_delta"].as_u64().unwrap()),
                Field::Features(bits) => assert_eq!(json!(bits), e["features_bits"], "{name}"),
                Field::Metadata(m) => assert_eq!(hex::encode(m), s(e, "metadata")),
                Field::Fallback { version, program } => fallbacks.push(json!({
                    "version": version, "program": hex::encode(program),
                    "address": fallback_address(*version, program, network(&inv.currency)).unwrap().to_string(),
                })),
                Field::RouteHint(hops) => hints.push(json!(hops.iter().map(|h| json!({
                    "pubkey": h.pubkey.to_string(), "short_channel_id": scid_to_string(h.short_channel_id),
                    "fee_base_msat": h.fee_base_msat, "fee_proportional_millionths": h.fee_proportional_millionths,
                    "cltv_expiry_delta": h.cltv_expiry_delta,
                })).collect::<Vec<_>>())),
                _ => {}
            }
        }
        if let Some(want) = e["fallback_addresses"].as_array() {
            let want: Vec<Value> = want.iter().map(|w| json!({"version": w["version"], "program": w["program"], "address": w["address"]})).collect();
            assert_eq!(json!(fallbacks), json!(want), "{name}");
        }
        if let Some(want) = e.get("route_hints") {
            assert_eq!(&json!(hints), want, "{name}");
        }
        if let Some(ignored) = e["ignored_fields"].as_array() {
            let skipped = inv
                .fields
                .iter()
                .filter(|f| matches!(f, Field::Skipped { .. }))
                .count();
            assert_eq!(
                skipped,
                ignored.len(),
                "{name}: every wrong-length or unknown field is skipped"
            );
        }
        // Re-encode from the decoded fields, same key and timestamp.
        let again = inv.sign(&secp, &key).unwrap();
        if e["signature_is_high_s"] == true {
            // Our signature is the low-S one; the example deliberately carries the high-S twin.
            assert_ne!(again, s(c, "invoice").to_lowercase());
            assert_eq!(decode(&secp, &again).unwrap().payee, d.payee);
        } else {
            assert_eq!(again, s(c, "invoice").to_lowercase(), "{name}");
            reencoded += 1;
        }
    }
    assert_eq!(reencoded, 15);
}

#[test]
fn the_ten_invalid_examples_each_for_its_reason() {
    let v = testdata("bolt11-invoices.json");
    let secp = Secp256k1::new();
    let invalid: Vec<&Value> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["valid"] == false)
        .collect();
    assert_eq!(invalid.len(), 10);
    for c in invalid {
        let name = s(c, "name");
        let err = decode(&secp, s(c, "invoice")).expect_err(name);
        let ok = match err {
            InvoiceError::UnknownFeature(100) => name.contains("unknown feature 100"),
            InvoiceError::Bech32(ref m) => {
                name.contains("checksum")
                    || name.contains("no 1")
                    || name.contains("mixed case")
                    || (name.contains("too short") && !m.is_empty())
            }
            InvoiceError::TooShort(_) => name.contains("too short"),
            InvoiceError::Signature(_) => {
                name.contains("not recoverable") || name.contains("high-S")
            }
            InvoiceError::Amount(_, why) => {
                (name.contains("multiplier") && why.contains("multiplier"))
                    || (name.contains("sub-millisatoshi") && why.contains("sub-millisatoshi"))
            }
            InvoiceError::Missing(f) => name.contains("`s`") && f.starts_with('s'),
            _ => false,
        };
        assert!(ok, "{name}: rejected, but for {err}");
    }
}
