//! TLV records as JSON and back: a namespace's fields (BOLT 1, BOLT 4) as
//! JSON values, and the raw records of any stream.

use serde_json::{json, Map, Value};

use super::input::{self, Input};
use super::{hex, CliError};
use crate::wire::tlv::{self, FieldType, FieldValue, Namespace, Record};

/// A field value as JSON.
pub fn field_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Uint(x) => json!(x),
        FieldValue::ShortChannelId(x) => json!(tlv::scid_to_string(*x)),
        FieldValue::Point(p) => json!(p.to_string()),
        FieldValue::Bytes(b) => json!(hex(b)),
    }
}

/// Decode a stream as JSON records: `{type, name, length, value_hex, fields}`.
pub fn decode_json(ns: Option<&Namespace>, bytes: &[u8]) -> Result<Vec<Value>, tlv::TlvError> {
    let decoded = match ns {
        Some(ns) => ns.decode(bytes)?,
        None => tlv::decode_stream(bytes, |_| true)?
            .into_iter()
            .map(|r| tlv::DecodedRecord {
                typ: r.typ,
                name: None,
                fields: vec![],
                value: r.value,
            })
            .collect(),
    };
    Ok(decoded
        .iter()
        .map(|r| {
            let fields: Map<String, Value> = r
                .fields
                .iter()
                .map(|(k, v)| (k.to_string(), field_json(v)))
                .collect();
            json!({
                "type": r.typ,
                "name": r.name,
                "length": r.value.len(),
                "value_hex": hex(&r.value),
                "fields": if r.name.is_some() { Value::Object(fields) } else { Value::Null },
            })
        })
        .collect())
}

/// One field's JSON value in the type the schema wants.
fn field_value(obj: &Input, name: &str, ft: FieldType) -> Result<FieldValue, CliError> {
    Ok(match ft {
        FieldType::U8
        | FieldType::U16
        | FieldType::U32
        | FieldType::U64
        | FieldType::Tu16
        | FieldType::Tu32
        | FieldType::Tu64
        | FieldType::BigSize => {
            let max = match ft {
                FieldType::U8 => u64::from(u8::MAX),
                FieldType::U16 | FieldType::Tu16 => u64::from(u16::MAX),
                FieldType::U32 | FieldType::Tu32 => u64::from(u32::MAX),
                _ => u64::MAX,
            };
            let v = obj.req(name, input::uint)?;
            if v > max {
                return Err(obj.error(name, format!("expected at most {max}, got {v}")));
            }
            FieldValue::Uint(v)
        }
        FieldType::ShortChannelId => FieldValue::ShortChannelId(obj.req(name, |v| {
            v.as_str()
                .and_then(tlv::scid_from_str)
                .or_else(|| v.as_u64())
                .ok_or_else(|| "expected a short channel id as BLOCKxTXxOUTPUT".to_string())
        })?),
        FieldType::Point => FieldValue::Point(obj.req(name, input::pubkey)?),
        FieldType::Bytes(n) => {
            let b = obj.req(name, input::hex_bytes)?;
            if b.len() != n {
                return Err(obj.error(
                    name,
                    format!("expected {n} bytes of hex, got {} bytes", b.len()),
                ));
            }
            FieldValue::Bytes(b)
        }
        FieldType::Rest => FieldValue::Bytes(obj.req(name, input::hex_bytes)?),
    })
}

/// A record's value from its fields, named as the schema names them.
pub fn encode_fields(
    obj: &Input,
    fields: &[(&'static str, FieldType)],
) -> Result<Vec<u8>, CliError> {
    let mut values = vec![];
    for (name, ft) in fields {
        values.push((*ft, field_value(obj, name, *ft)?));
    }
    let refs: Vec<(FieldType, &FieldValue)> = values.iter().map(|(t, v)| (*t, v)).collect();
    Ok(tlv::encode_fields(&refs))
}

/// Records from an object of flat field names (`amt_to_forward_msat`, …): a
/// record is written when any of its fields is present. `custom_tlvs`
/// (`{"type": "value hex"}`) adds records the namespace does not know.
pub fn records_from_fields(obj: &Input, ns: &Namespace) -> Result<Vec<Record>, CliError> {
    let mut records = vec![];
    for schema in ns.records {
        if schema.fields.iter().any(|(n, _)| obj.has(n)) {
            records.push(Record {
                typ: schema.typ,
                value: encode_fields(obj, schema.fields)?,
            });
        }
    }
    if let Some(custom) = obj.object("custom_tlvs")? {
        if let Value::Object(map) = custom.to_value() {
            for (k, _) in map {
                let typ: u64 = k
                    .parse()
                    .map_err(|_| custom.error(&k, "expected a TLV type number as the key"))?;
                records.push(Record {
                    typ,
                    value: custom.req(&k, input::hex_bytes)?,
                });
            }
        }
    }
    records.sort_by_key(|r| r.typ);
    if let Some(w) = records.windows(2).find(|w| w[0].typ == w[1].typ) {
        return Err(obj.error("custom_tlvs", format!("type {} appears twice", w[0].typ)));
    }
    Ok(records)
}

/// A decoded payload as flat fields (the inverse of [`records_from_fields`]).
pub fn fields_json(ns: &Namespace, bytes: &[u8]) -> Result<Value, tlv::TlvError> {
    let mut out = Map::new();
    let mut custom = Map::new();
    for r in ns.decode(bytes)? {
        if r.name.is_some() {
            for (k, v) in &r.fields {
                out.insert(k.to_string(), field_json(v));
            }
        } else {
            custom.insert(r.typ.to_string(), json!(hex(&r.value)));
        }
    }
    if !custom.is_empty() {
        out.insert("custom_tlvs".into(), Value::Object(custom));
    }
    Ok(Value::Object(out))
}
