//! BOLT 1 Appendix C (message extension: the `init` cases) and BOLT 7's
//! extended-queries vectors (all 10 messages, zlib-encoded ones decoded),
//! plus a round trip of every message type lnkit knows with random fields.

use crate::common;

use common::{s, testdata};
use lnkit::wire::message::{decode, encode, Kind, MessageSchema, Value as V, MESSAGES};
use lnkit::wire::tlv::{scid_from_str, DecodedRecord, FieldValue};
use proptest::prelude::*;
use serde_json::Value;

#[test]
fn appendix_c_message_extension() {
    let v = testdata("bolt01-message-extension.json");
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for c in cases {
        let bytes = hex::decode(s(c, "message")).unwrap();
        let got = decode(&bytes);
        if c["valid"] == true {
            let m = got.unwrap_or_else(|e| panic!("{}: {e}", s(c, "comment")));
            assert_eq!(m.name, Some("init"));
            assert_eq!(encode(&m).unwrap(), bytes, "round trip");
        } else {
            assert!(got.is_err(), "{} should fail", s(c, "comment"));
        }
    }
}

fn field<'a>(m: &'a lnkit::wire::message::Message, name: &str) -> &'a V {
    &m.fields.iter().find(|(n, _)| *n == name).unwrap().1
}

fn tlv<'a>(m: &'a lnkit::wire::message::Message, name: &str) -> Option<&'a DecodedRecord> {
    m.tlvs.iter().find(|r| r.name == Some(name))
}

#[test]
fn bolt7_extended_queries_all_ten() {
    let v = testdata("bolt07-extended-queries.json");
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 10);
    let mut zlib = 0;
    for c in all {
        let bytes = hex::decode(s(c, "hex")).unwrap();
        let m = decode(&bytes).unwrap();
        let j = &c["msg"];
        let expected_name = match s(j, "type") {
            "QueryChannelRange" => "query_channel_range",
            "ReplyChannelRange" => "reply_channel_range",
            "QueryShortChannelIds" => "query_short_channel_ids",
            other => panic!("{other}"),
        };
        assert_eq!(m.name, Some(expected_name));
        assert_eq!(
            field(&m, "chain_hash"),
            &V::Bytes(hex::decode(s(j, "chainHash")).unwrap())
        );
        if let Some(first) = j["firstBlockNum"].as_u64() {
            assert_eq!(field(&m, "first_blocknum"), &V::Uint(first));
            assert_eq!(
                field(&m, "number_of_blocks"),
                &V::Uint(j["numberOfBlocks"].as_u64().unwrap())
            );
        }
        if let Some(ids) = j["shortChannelIds"].as_object() {
            let want: Vec<u64> = ids["array"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| scid_from_str(x.as_str().unwrap()).unwrap())
                .collect();
            match field(&m, "encoded_short_ids") {
                V::Scids {
                    encoding, scids, ..
                } => {
                    assert_eq!(scids.as_ref().unwrap(), &want);
                    assert_eq!(*encoding == 1, ids["encoding"] == "COMPRESSED_ZLIB");
                    zlib += (*encoding == 1) as usize;
                }
                other => panic!("{other:?}"),
            }
        }
        if j["tlvStream"]["records"].as_array().is_some_and(|r| {
            r.first()
                .is_some_and(|x| x == "WANT_TIMESTAMPS | WANT_CHECKSUMS")
        }) {
            assert_eq!(
                tlv(&m, "query_option").unwrap().fields[0].1,
                FieldValue::Uint(3)
            );
        }
        if let Some(cs) = j["checksums"]["checksums"].as_array() {
            let raw = &tlv(&m, "checksums_tlv").unwrap().value;
            let got: Vec<(u64, u64)> = raw
                .chunks(8)
                .map(|c| {
                    (
                        u32::from_be_bytes(c[..4].try_into().unwrap()) as u64,
                        u32::from_be_bytes(c[4..].try_into().unwrap()) as u64,
                    )
                })
                .collect();
            let want: Vec<(u64, u64)> = cs
                .iter()
                .map(|x| {
                    (
                        x["checksum1"].as_u64().unwrap(),
                        x["checksum2"].as_u64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(got, want);
        }
        // decode then encode gives back the very bytes, zlib included.
        assert_eq!(encode(&m).unwrap(), bytes, "{}", s(c, "hex"));
    }
    assert!(zlib >= 4, "the zlib-encoded id lists decode too");
}

fn value_for(kind: Kind, seed: &[u8]) -> V {
    let n = |len: usize| seed.iter().cycle().take(len).copied().collect::<Vec<u8>>();
    let point = || {
        let mut k = [1u8; 32];
        k[..seed.len().min(32)].copy_from_slice(&seed[..seed.len().min(32)]);
        let sk = bitcoin::secp256k1::SecretKey::from_slice(&k)
            .unwrap_or(bitcoin::secp256k1::SecretKey::from_slice(&[3; 32]).unwrap());
        bitcoin::secp256k1::PublicKey::from_secret_key(
            &bitcoin::secp256k1::Secp256k1::signing_only(),
            &sk,
        )
    };
    let x = seed
        .iter()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(*b as u64));
    match kind {
        Kind::U8 => V::Uint(x % 256),
        Kind::U16 => V::Uint(x % 65536),
        Kind::U32 => V::Uint(x % (1 << 32)),
        Kind::U64 => V::Uint(x),
        Kind::Scid => V::Scid(x),
        Kind::Bytes(len) => V::Bytes(n(len)),
        Kind::Point => V::Point(point()),
        Kind::Var => V::Bytes(n(seed.len())),
        Kind::Features => V::Features(n(seed.len() % 4)),
        Kind::Signatures => V::Signatures((0..seed.len() % 5).map(|_| n(64)).collect()),
        Kind::EncodedScids => lnkit::wire::message::encode_scids(&[x, x / 2]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn every_message_type_round_trips(seed in proptest::collection::vec(1u8..=255, 1..64)) {
        for schema in MESSAGES {
            let fields = schema.fields.iter().map(|(name, kind)| (*name, value_for(*kind, &seed))).collect();
            let mut m = lnkit::wire::message::Message { typ: schema.typ, name: Some(schema.name), fields, tlvs: vec![], raw: None };
            // Features with unknown even bits are fine at this layer (the codec keeps them); the point is the bytes.
            let bytes = encode(&m).map_err(|e| TestCaseError::fail(format!("{}: {e}", schema.name)))?;
            let back = decode(&bytes).map_err(|e| TestCaseError::fail(format!("{}: {e}", schema.name)))?;
            m.tlvs = back.tlvs.clone();
            prop_assert_eq!(&back, &m);
            prop_assert_eq!(encode(&back).unwrap(), bytes);
            prop_assert_eq!(MessageSchema::by_name(schema.name).unwrap().typ, schema.typ);
        }
    }
}

#[test]
fn unknown_odd_kept_unknown_even_refused() {
    let odd = hex::decode("8001cafe").unwrap(); // type 32769
    let m = decode(&odd).unwrap();
    assert_eq!(m.raw.as_deref(), Some(&[0xca, 0xfe][..]));
    assert_eq!(encode(&m).unwrap(), odd);
    assert!(matches!(
        decode(&hex::decode("8000cafe").unwrap()),
        Err(lnkit::wire::message::MessageError::UnknownEven(32768))
    ));
    let _ = Value::Null;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The fuzz targets' properties on stable: untrusted bytes never panic the
    /// message decoder or the responder, and what decodes re-encodes exactly.
    #[test]
    fn untrusted_messages_and_acts_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), typ in prop::sample::select(MESSAGES.iter().map(|m| m.typ).collect::<Vec<_>>())) {
        let mut framed = typ.to_be_bytes().to_vec();
        framed.extend(&bytes);
        for data in [&bytes, &framed] {
            if let Ok(m) = decode(data) {
                prop_assert_eq!(&encode(&m).unwrap(), data);
            }
        }
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let ls = bitcoin::secp256k1::SecretKey::from_slice(&[0x21; 32]).unwrap();
        let mut act1 = bytes.clone();
        act1.resize(50, 0);
        act1[0] = 0;
        let _ = lnkit::wire::noise::responder_act1(&secp, &ls, &act1);
    }
}
