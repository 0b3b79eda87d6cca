//! Lightning messages as JSON and back: each field of a message's schema
//! (BOLT 1, 2, 7) as a JSON value, TLV streams included.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::field::{field_type, HexBytes, Uint};
use super::input::{self, Input};
use super::tlv::decode_json;
use super::{hex, CliError};
use crate::wire::features;
use crate::wire::message::{self, Kind, Message, MessageSchema, Value as V};
use crate::wire::tlv::{self, DecodedRecord};

fn value_json(v: &V) -> Value {
    match v {
        V::Uint(x) => json!(x),
        V::Bytes(b) => json!(hex(b)),
        V::Point(p) => json!(p.to_string()),
        V::Scid(s) => json!(tlv::scid_to_string(*s)),
        V::Features(f) => json!({ "hex": hex(f), "names": features::names(f) }),
        V::Signatures(sigs) => json!(sigs.iter().map(hex).collect::<Vec<_>>()),
        V::Scids {
            encoding,
            raw,
            scids,
        } => json!({
            "encoding": match encoding { 0 => "uncompressed", 1 => "zlib", _ => "unknown" },
            "short_channel_ids": scids.as_ref().map(|s| s.iter().map(|x| tlv::scid_to_string(*x)).collect::<Vec<_>>()),
            "raw_hex": hex(raw),
            "note": (*encoding == 1).then_some("zlib-encoded: decoded, but BOLT 7 now forbids sending zlib"),
        }),
    }
}

/// A message as JSON: `type`, `name`, each field by name, `tlvs`.
#[derive(Serialize, JsonSchema)]
pub struct MessageOut {
    /// The message type (BOLT 1).
    #[serde(rename = "type")]
    typ: u16,
    /// Its name, when this decoder knows it.
    name: Option<&'static str>,
    /// Each field of the message, by the BOLT's name.
    #[serde(flatten)]
    fields: Map<String, Value>,
    /// An unknown odd type's payload, kept raw.
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_hex: Option<String>,
    /// The message's TLV stream, records by name where known.
    tlvs: Vec<Value>,
}

/// A message as JSON: `type`, `name`, each field by name, `tlvs`.
pub fn message_json(m: &Message) -> Value {
    serde_json::to_value(message_out(m)).expect("a message serializes")
}

/// A message as its output struct.
pub fn message_out(m: &Message) -> MessageOut {
    let ns = MessageSchema::by_type(m.typ).map(|s| s.namespace());
    let records: Vec<u8> = tlv::encode_stream(
        &m.tlvs
            .iter()
            .map(|r| tlv::Record {
                typ: r.typ,
                value: r.value.clone(),
            })
            .collect::<Vec<_>>(),
    );
    MessageOut {
        typ: m.typ,
        name: m.name,
        fields: m
            .fields
            .iter()
            .map(|(name, v)| (name.to_string(), value_json(v)))
            .collect(),
        payload_hex: m.raw.as_ref().map(hex),
        tlvs: decode_json(ns.as_ref(), &records).unwrap_or_default(),
    }
}

fn message_name(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| "expected a message name".into())
}

field_type! {
    /// A message's name, as the BOLTs spell it (`open_channel`).
    MessageName(String), message_name, |s| Value::String(s.clone()),
    {"type": "string", "format": "message-name"}
}

/// An extra TLV record of a message.
#[derive(Deserialize, JsonSchema)]
pub struct RecordIn {
    /// Its type.
    #[serde(rename = "type")]
    typ: Uint,
    /// Its value.
    value_hex: HexBytes,
}

/// `wire encode`'s fields: the message's `name` or `type`, then each field
/// of its schema by name (as `wire decode` prints them), read in turn.
#[derive(Deserialize, JsonSchema)]
pub struct EncodeIn {
    /// The message's name (`init`, `open_channel`, ...), or `type`.
    name: Option<MessageName>,
    /// The message type (without name).
    #[serde(rename = "type")]
    typ: Option<Uint>,
    /// An unknown odd type's payload.
    payload_hex: Option<HexBytes>,
    /// Extra TLV records.
    tlvs: Option<Vec<RecordIn>>,
}

fn value_from_json(obj: &Input, field: &'static str, kind: Kind) -> Result<V, CliError> {
    Ok(match kind {
        Kind::U8 | Kind::U16 | Kind::U32 | Kind::U64 => V::Uint(obj.req(field, input::uint)?),
        Kind::Bytes(n) => {
            let b = obj.req(field, input::hex_bytes)?;
            if b.len() != n {
                return Err(obj.error(
                    field,
                    format!("expected {n} bytes of hex, got {} bytes", b.len()),
                ));
            }
            V::Bytes(b)
        }
        Kind::Var => V::Bytes(obj.req(field, input::hex_bytes)?),
        Kind::Point => V::Point(obj.req(field, input::pubkey)?),
        Kind::Scid => V::Scid(obj.req(field, |v| {
            v.as_str()
                .and_then(tlv::scid_from_str)
                .ok_or_else(|| "expected BLOCKxTXxOUTPUT".to_string())
        })?),
        Kind::Features => {
            let f = obj
                .object(field)?
                .ok_or_else(|| obj.error(field, "missing required field"))?;
            match f.raw("names") {
                Some(Value::Array(names)) => {
                    let bits = names
                        .iter()
                        .map(|n| {
                            features::bit_of(n.as_str().unwrap_or(""))
                                .map_err(|e| f.error("names", e))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    V::Features(features::from_bits(&bits))
                }
                _ => V::Features(f.req("hex", input::hex_bytes)?),
            }
        }
        Kind::Signatures => match obj.raw(field) {
            Some(Value::Array(items)) => V::Signatures(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        input::hex_bytes(s).map_err(|e| obj.error(&format!("{field}[{i}]"), e))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(obj.error(field, "expected an array of 64-byte signature hex")),
        },
        Kind::EncodedScids => {
            let e = obj
                .object(field)?
                .ok_or_else(|| obj.error(field, "missing required field"))?;
            match e.opt("raw_hex", input::hex_bytes)? {
                Some(raw) => {
                    let encoding = if e.opt("encoding", input::one_of(&["uncompressed", "zlib"]))?
                        == Some("zlib")
                    {
                        1
                    } else {
                        0
                    };
                    V::Scids {
                        encoding,
                        raw,
                        scids: None,
                    }
                }
                None => {
                    let ids = match e.raw("short_channel_ids") {
                        Some(Value::Array(ids)) => ids
                            .iter()
                            .map(|x| {
                                x.as_str().and_then(tlv::scid_from_str).ok_or_else(|| {
                                    e.error("short_channel_ids", "expected BLOCKxTXxOUTPUT strings")
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                        _ => {
                            return Err(e.error(
                                "short_channel_ids",
                                "missing required field (or give raw_hex)",
                            ))
                        }
                    };
                    message::encode_scids(&ids)
                }
            }
        }
    })
}

/// The inverse of [`message_json`].
pub fn message_from_json(input: &Input) -> Result<Message, CliError> {
    let e: EncodeIn = input.typed()?;
    let schema = match &e.name {
        Some(n) => Some(
            MessageSchema::by_name(&n.0)
                .ok_or_else(|| input.error("name", format!("unknown message name {:?}", n.0)))?,
        ),
        None => None,
    };
    let typ = match (schema, &e.typ) {
        (Some(s), _) => s.typ,
        (None, Some(t)) => {
            u16::try_from(t.0).map_err(|_| input.error("type", "expected a 16-bit message type"))?
        }
        (None, None) => return Err(input.error("name", "missing required field (or give type)")),
    };
    let Some(schema) = schema.or_else(|| MessageSchema::by_type(typ)) else {
        if typ % 2 == 0 {
            return Err(input.error("type", format!("unknown even message type {typ}")));
        }
        return Ok(Message {
            typ,
            name: None,
            fields: vec![],
            tlvs: vec![],
            raw: Some(e.payload_hex.map(|p| p.0).unwrap_or_default()),
        });
    };
    let fields = schema
        .fields
        .iter()
        .map(|(f, k)| Ok((*f, value_from_json(input, f, *k)?)))
        .collect::<Result<Vec<_>, CliError>>()?;
    let tlvs = e
        .tlvs
        .unwrap_or_default()
        .into_iter()
        .map(|r| DecodedRecord {
            typ: r.typ.0,
            name: None,
            fields: vec![],
            value: r.value_hex.0,
        })
        .collect();
    Ok(Message {
        typ,
        name: Some(schema.name),
        fields,
        tlvs,
        raw: None,
    })
}
