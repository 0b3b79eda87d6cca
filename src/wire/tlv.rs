//! BOLT 1 "Type-Length-Value Format": TLV streams, and typed records read
//! from them by a namespace's schema.
//!
//! Stream rules (BOLT 1 "Requirements", reader side): types and lengths are
//! minimal BigSizes; types strictly increase (so no duplicates); a value must
//! be all there; an unknown *even* type fails the stream, an unknown odd one
//! is ignored. Each known record's value must then decode exactly by its
//! fields: no byte short, no byte left over.

use bitcoin::secp256k1::PublicKey;

use super::bigsize::{self, BigSize, DecodeError};

/// One record of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its type.
    pub typ: u64,
    /// Its value bytes.
    pub value: Vec<u8>,
}

/// Which part of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The type BigSize.
    Type,
    /// The length BigSize.
    Length,
    /// The value.
    Value,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Type => "type",
            Part::Length => "length",
            Part::Value => "value",
        })
    }
}

/// A stream that breaks a BOLT 1 rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    /// The stream ends inside a record.
    #[error("{part} truncated at byte {offset}")]
    Truncated {
        /// Which part.
        part: Part,
        /// Where the record starts.
        offset: usize,
    },
    /// A type or length not in its shortest BigSize form.
    #[error("{part} not minimally encoded at byte {offset}")]
    NotMinimal {
        /// Which part.
        part: Part,
        /// Where.
        offset: usize,
    },
    /// Types must strictly increase.
    #[error("type {typ} after type {previous}: types must strictly increase")]
    OutOfOrder {
        /// The earlier type.
        previous: u64,
        /// The type that follows it.
        typ: u64,
    },
    /// The same type twice.
    #[error("duplicate type {0}")]
    Duplicate(u64),
    /// An unknown even type: "it's OK to be odd".
    #[error("unknown even type {0}")]
    UnknownEven(u64),
    /// A known record whose value does not decode by its fields.
    #[error("record {name} (type {typ}): {error}")]
    Field {
        /// The record's name.
        name: &'static str,
        /// Its type.
        typ: u64,
        /// What is wrong.
        error: FieldError,
    },
}

/// What is wrong with a known record's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The value ends before its fields do.
    #[error("less than encoding length: field {0} is cut short")]
    Short(&'static str),
    /// Bytes are left after the last field.
    #[error("greater than encoding length: {0} bytes left after the last field")]
    Long(usize),
    /// A truncated integer with a leading zero.
    #[error("field {0}: encoding is not minimal")]
    NotMinimal(&'static str),
    /// A point not on the curve.
    #[error("field {0}: not a valid point")]
    InvalidPoint(&'static str),
}

fn read_bigsize(
    bytes: &[u8],
    pos: usize,
    part: Part,
    record_start: usize,
) -> Result<(u64, usize), TlvError> {
    match BigSize::decode(&bytes[pos..]) {
        Ok((v, n)) => Ok((v.0, n)),
        Err(DecodeError::NotMinimal) => Err(TlvError::NotMinimal {
            part,
            offset: record_start,
        }),
        Err(_) => Err(TlvError::Truncated {
            part,
            offset: record_start,
        }),
    }
}

/// Decode a stream into its records, checking every stream rule. `known(t)`
/// says which types the reader understands (unknown even ones fail).
pub fn decode_stream(bytes: &[u8], known: impl Fn(u64) -> bool) -> Result<Vec<Record>, TlvError> {
    let mut records: Vec<Record> = vec![];
    let mut pos = 0;
    while pos < bytes.len() {
        let start = pos;
        let (typ, n) = read_bigsize(bytes, pos, Part::Type, start)?;
        pos += n;
        if pos >= bytes.len() {
            return Err(TlvError::Truncated {
                part: Part::Length,
                offset: start,
            });
        }
        let (len, n) = read_bigsize(bytes, pos, Part::Length, start)?;
        pos += n;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| pos.checked_add(l))
            .filter(|e| *e <= bytes.len())
            .ok_or(TlvError::Truncated {
                part: Part::Value,
                offset: start,
            })?;
        if let Some(prev) = records.last() {
            if typ == prev.typ {
                return Err(TlvError::Duplicate(typ));
            }
            if typ < prev.typ {
                return Err(TlvError::OutOfOrder {
                    previous: prev.typ,
                    typ,
                });
            }
        }
        if typ % 2 == 0 && !known(typ) {
            return Err(TlvError::UnknownEven(typ));
        }
        records.push(Record {
            typ,
            value: bytes[pos..end].to_vec(),
        });
        pos = end;
    }
    Ok(records)
}

/// Encode records (which must be in strictly increasing type order) as a stream.
pub fn encode_stream(records: &[Record]) -> Vec<u8> {
    let mut out = vec![];
    for r in records {
        out.extend(BigSize(r.typ).encode());
        out.extend(BigSize(r.value.len() as u64).encode());
        out.extend(&r.value);
    }
    out
}

/// The type of a field inside a record (BOLT 1 "Fundamental Types").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// `byte`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `tu16`, last field only.
    Tu16,
    /// `tu32`, last field only.
    Tu32,
    /// `tu64`, last field only.
    Tu64,
    /// `short_channel_id`: 8 bytes, block x tx x output.
    ShortChannelId,
    /// `point`: a 33-byte compressed public key.
    Point,
    /// `N*byte`.
    Bytes(usize),
    /// The rest of the value.
    Rest,
    /// `bigsize`.
    BigSize,
}

/// A decoded field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    /// Any integer type.
    Uint(u64),
    /// A short channel id, as its u64.
    ShortChannelId(u64),
    /// A point.
    Point(PublicKey),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// A record a namespace knows.
#[derive(Clone, Copy, Debug)]
pub struct RecordSchema {
    /// Its type.
    pub typ: u64,
    /// Its name.
    pub name: &'static str,
    /// Its fields, in order.
    pub fields: &'static [(&'static str, FieldType)],
}

/// A TLV namespace: the records one message or payload knows.
#[derive(Clone, Copy, Debug)]
pub struct Namespace {
    /// Its name.
    pub name: &'static str,
    /// Its records.
    pub records: &'static [RecordSchema],
}

/// A record decoded by its schema (or left raw when the namespace does not know it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedRecord {
    /// Its type.
    pub typ: u64,
    /// Its name, when known.
    pub name: Option<&'static str>,
    /// Its fields, when known.
    pub fields: Vec<(&'static str, FieldValue)>,
    /// The raw value.
    pub value: Vec<u8>,
}

impl Namespace {
    /// The schema of a type.
    pub fn record(&self, typ: u64) -> Option<&RecordSchema> {
        self.records.iter().find(|r| r.typ == typ)
    }

    /// Decode a stream: stream rules first, then every known record by its fields.
    pub fn decode(&self, bytes: &[u8]) -> Result<Vec<DecodedRecord>, TlvError> {
        decode_stream(bytes, |t| self.record(t).is_some())?
            .into_iter()
            .map(|r| match self.record(r.typ) {
                Some(schema) => {
                    let fields = decode_fields(schema.fields, &r.value).map_err(|error| {
                        TlvError::Field {
                            name: schema.name,
                            typ: r.typ,
                            error,
                        }
                    })?;
                    Ok(DecodedRecord {
                        typ: r.typ,
                        name: Some(schema.name),
                        fields,
                        value: r.value,
                    })
                }
                None => Ok(DecodedRecord {
                    typ: r.typ,
                    name: None,
                    fields: vec![],
                    value: r.value,
                }),
            })
            .collect()
    }
}

/// Decode a record's value by its fields.
pub fn decode_fields(
    fields: &[(&'static str, FieldType)],
    value: &[u8],
) -> Result<Vec<(&'static str, FieldValue)>, FieldError> {
    let mut pos = 0;
    let mut out = vec![];
    for (name, ft) in fields {
        let rest = &value[pos..];
        let take = |n: usize| rest.get(..n).ok_or(FieldError::Short(name));
        let fixed = |bytes: &[u8]| bytes.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        let (v, used) = match ft {
            FieldType::U8 => (FieldValue::Uint(fixed(take(1)?)), 1),
            FieldType::U16 => (FieldValue::Uint(fixed(take(2)?)), 2),
            FieldType::U32 => (FieldValue::Uint(fixed(take(4)?)), 4),
            FieldType::U64 => (FieldValue::Uint(fixed(take(8)?)), 8),
            FieldType::ShortChannelId => (FieldValue::ShortChannelId(fixed(take(8)?)), 8),
            FieldType::Point => {
                let b = take(33)?;
                let p = PublicKey::from_slice(b).map_err(|_| FieldError::InvalidPoint(name))?;
                (FieldValue::Point(p), 33)
            }
            FieldType::Bytes(n) => (FieldValue::Bytes(take(*n)?.to_vec()), *n),
            FieldType::Rest => (FieldValue::Bytes(rest.to_vec()), rest.len()),
            FieldType::BigSize => {
                let (v, n) = BigSize::decode(rest).map_err(|_| FieldError::Short(name))?;
                (FieldValue::Uint(v.0), n)
            }
            FieldType::Tu16 | FieldType::Tu32 | FieldType::Tu64 => {
                let max = match ft {
                    FieldType::Tu16 => 2,
                    FieldType::Tu32 => 4,
                    _ => 8,
                };
                let v = bigsize::decode_truncated(rest, max).map_err(|e| match e {
                    bigsize::TruncatedError::NotMinimal => FieldError::NotMinimal(name),
                    bigsize::TruncatedError::TooLong { len, max } => FieldError::Long(len - max),
                })?;
                (FieldValue::Uint(v), rest.len())
            }
        };
        out.push((*name, v));
        pos += used;
    }
    if pos < value.len() {
        return Err(FieldError::Long(value.len() - pos));
    }
    Ok(out)
}

/// Encode a record's fields (the inverse of [`decode_fields`]).
pub fn encode_fields(values: &[(FieldType, &FieldValue)]) -> Vec<u8> {
    let mut out = vec![];
    for (ft, v) in values {
        match (ft, v) {
            (FieldType::U8, FieldValue::Uint(x)) => out.push(*x as u8),
            (FieldType::U16, FieldValue::Uint(x)) => out.extend((*x as u16).to_be_bytes()),
            (FieldType::U32, FieldValue::Uint(x)) => out.extend((*x as u32).to_be_bytes()),
            (FieldType::U64, FieldValue::Uint(x))
            | (FieldType::ShortChannelId, FieldValue::ShortChannelId(x)) => {
                out.extend(x.to_be_bytes())
            }
            (FieldType::Tu16 | FieldType::Tu32 | FieldType::Tu64, FieldValue::Uint(x)) => {
                out.extend(bigsize::encode_truncated(*x))
            }
            (FieldType::Point, FieldValue::Point(p)) => out.extend(p.serialize()),
            (FieldType::BigSize, FieldValue::Uint(x)) => out.extend(BigSize(*x).encode()),
            (_, FieldValue::Bytes(b)) => out.extend(b),
            _ => {}
        }
    }
    out
}

/// A short channel id as `block x tx x output`.
pub fn scid_to_string(scid: u64) -> String {
    format!(
        "{}x{}x{}",
        scid >> 40,
        (scid >> 16) & 0xff_ffff,
        scid & 0xffff
    )
}

/// Parse `block x tx x output` (or a plain integer).
pub fn scid_from_str(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('x').collect();
    match parts.as_slice() {
        [b, t, o] => {
            let (b, t, o): (u64, u64, u64) = (b.parse().ok()?, t.parse().ok()?, o.parse().ok()?);
            (b < 1 << 24 && t < 1 << 24 && o < 1 << 16).then_some((b << 40) | (t << 16) | o)
        }
        [n] => n.parse().ok(),
        _ => None,
    }
}

/// BOLT 1 Appendix B's test namespace `n1`.
pub const N1: Namespace = Namespace {
    name: "n1",
    records: &[
        RecordSchema {
            typ: 1,
            name: "tlv1",
            fields: &[("amount_msat", FieldType::Tu64)],
        },
        RecordSchema {
            typ: 2,
            name: "tlv2",
            fields: &[("scid", FieldType::ShortChannelId)],
        },
        RecordSchema {
            typ: 3,
            name: "tlv3",
            fields: &[
                ("node_id", FieldType::Point),
                ("amount_msat_1", FieldType::U64),
                ("amount_msat_2", FieldType::U64),
            ],
        },
        RecordSchema {
            typ: 254,
            name: "tlv4",
            fields: &[("cltv_delta", FieldType::U16)],
        },
    ],
};

/// BOLT 1 Appendix B's test namespace `n2`.
pub const N2: Namespace = Namespace {
    name: "n2",
    records: &[
        RecordSchema {
            typ: 0,
            name: "tlv1",
            fields: &[("amount_msat", FieldType::Tu64)],
        },
        RecordSchema {
            typ: 11,
            name: "tlv2",
            fields: &[("cltv_expiry", FieldType::Tu32)],
        },
    ],
};
