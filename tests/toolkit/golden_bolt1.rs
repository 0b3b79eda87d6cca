//! BOLT 1 Appendix A (BigSize), B (TLV streams) and D (signed integers):
//! every case. Failures are matched by class, not by the Go reference's text.

use crate::common;

use common::{s, testdata};
use lnkit::wire::bigsize::{decode_signed, encode_signed, BigSize, DecodeError};
use lnkit::wire::tlv::{FieldError, FieldValue, Namespace, Part, TlvError, N1, N2};
use serde_json::Value;

#[test]
fn appendix_a_bigsize_decoding_and_encoding() {
    let v = testdata("bolt01-bigsize.json");
    let mut n = 0;
    for c in v["decoding"].as_array().unwrap() {
        let bytes = hex::decode(s(c, "bytes")).unwrap();
        let got = BigSize::decode(&bytes);
        match c["exp_error"].as_str() {
            None => {
                let (value, used) = got.unwrap();
                assert_eq!(value.0, c["value"].as_u64().unwrap(), "{}", s(c, "name"));
                assert_eq!(used, bytes.len());
            }
            Some("decoded bigsize is not canonical") => {
                assert_eq!(got, Err(DecodeError::NotMinimal), "{}", s(c, "name"))
            }
            Some("unexpected EOF") => assert!(
                matches!(got, Err(DecodeError::Truncated { .. })),
                "{}",
                s(c, "name")
            ),
            Some("EOF") => assert_eq!(got, Err(DecodeError::Eof), "{}", s(c, "name")),
            Some(other) => panic!("unknown class {other}"),
        }
        n += 1;
    }
    for c in v["encoding"].as_array().unwrap() {
        let value = BigSize(c["value"].as_u64().unwrap());
        assert_eq!(
            hex::encode(value.encode()),
            s(c, "bytes"),
            "{}",
            s(c, "name")
        );
        assert_eq!(value.encoded_len(), s(c, "bytes").len() / 2);
        n += 1;
    }
    assert_eq!(n, 26);
}

#[test]
fn appendix_d_signed_integers() {
    let v = testdata("bolt01-signed-integers.json");
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 23);
    for c in cases {
        let value = c["value"].as_i64().unwrap();
        assert_eq!(hex::encode(encode_signed(value)), s(c, "bytes"));
        assert_eq!(
            decode_signed(&hex::decode(s(c, "bytes")).unwrap()),
            Some(value)
        );
    }
}

/// The failure class a case's `reason` names.
fn expected_class(reason: &str) -> &'static str {
    if reason.contains("truncated") || reason.contains("missing") {
        "truncated"
    } else if reason.contains("not minimally encoded") {
        "not_minimal_bigsize"
    } else if reason.contains("unknown even") {
        "unknown_even"
    } else if reason.contains("ordering") {
        "order"
    } else if reason.contains("duplicate") {
        "duplicate"
    } else if reason.contains("is not minimal") {
        "field_not_minimal"
    } else if reason.contains("less than encoding length") {
        "field_short"
    } else if reason.contains("greater than encoding length") {
        "field_long"
    } else if reason.contains("not a valid point") {
        "field_point"
    } else {
        panic!("unclassified reason {reason}")
    }
}

fn class(e: &TlvError) -> &'static str {
    match e {
        TlvError::Truncated { .. } => "truncated",
        TlvError::NotMinimal {
            part: Part::Type | Part::Length,
            ..
        } => "not_minimal_bigsize",
        TlvError::NotMinimal { .. } => "other",
        TlvError::UnknownEven(_) => "unknown_even",
        TlvError::OutOfOrder { .. } => "order",
        TlvError::Duplicate(_) => "duplicate",
        TlvError::Field {
            error: FieldError::NotMinimal(_),
            ..
        } => "field_not_minimal",
        TlvError::Field {
            error: FieldError::Short(_),
            ..
        } => "field_short",
        TlvError::Field {
            error: FieldError::Long(_),
            ..
        } => "field_long",
        TlvError::Field {
            error: FieldError::InvalidPoint(_),
            ..
        } => "field_point",
    }
}

fn namespace(name: &str) -> Namespace {
    match name {
        "n1" => N1,
        "n2" => N2,
        other => panic!("{other}"),
    }
}

fn field_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Uint(x) => Value::from(*x),
        FieldValue::ShortChannelId(x) => Value::from(lnkit::wire::tlv::scid_to_string(*x)),
        FieldValue::Point(p) => Value::from(p.to_string()),
        FieldValue::Bytes(b) => Value::from(hex::encode(b)),
    }
}

#[test]
fn appendix_b_every_tlv_stream() {
    let v = testdata("bolt01-tlv.json");
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 57);
    let (mut valid, mut invalid, mut compared) = (0, 0, 0);
    for c in cases {
        let bytes = hex::decode(s(c, "stream")).unwrap();
        for ns in c["namespaces"].as_array().unwrap() {
            let ns = namespace(ns.as_str().unwrap());
            let got = ns.decode(&bytes);
            if c["valid"] == true {
                let records = got.unwrap_or_else(|e| panic!("{}: {e}", s(c, "stream_as_written")));
                // decoded_records: {record name: {field: value}} for the records this namespace knows.
                let mut decoded = serde_json::Map::new();
                for r in records.iter().filter(|r| r.name.is_some()) {
                    let fields: serde_json::Map<String, Value> = r
                        .fields
                        .iter()
                        .map(|(k, v)| (k.to_string(), field_json(v)))
                        .collect();
                    decoded.insert(r.name.unwrap().to_string(), Value::Object(fields));
                }
                let want = c["decoded_records"]
                    .get(ns.name)
                    .cloned()
                    .unwrap_or_else(|| c["decoded_records"].clone());
                if want.as_object().is_some_and(|w| !w.is_empty()) {
                    assert_eq!(
                        Value::Object(decoded),
                        want,
                        "{}",
                        s(c, "stream_as_written")
                    );
                    compared += 1;
                }
                // Re-encoding the decoded records gives the same stream.
                let re: Vec<_> = records
                    .iter()
                    .map(|r| lnkit::wire::tlv::Record {
                        typ: r.typ,
                        value: r.value.clone(),
                    })
                    .collect();
                assert_eq!(lnkit::wire::tlv::encode_stream(&re), bytes);
            } else {
                let e = got.expect_err(s(c, "stream_as_written"));
                assert_eq!(
                    class(&e),
                    expected_class(s(c, "reason")),
                    "{} in {}: {e}",
                    s(c, "stream_as_written"),
                    ns.name
                );
            }
        }
        if c["valid"] == true {
            valid += 1
        } else {
            invalid += 1
        }
    }
    assert_eq!((valid, invalid), (19, 38));
    assert!(compared >= 12, "decoded records compared: {compared}");
}
