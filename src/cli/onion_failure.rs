//! The failure message and attribution data of `lnkit onion-error`, as
//! requests read them and responses show them (BOLT 4 "Failure Messages",
//! "Attributable failures").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::field::{field_type, HexBytes, Uint};
use super::input::{self, Input};
use super::{hex, CliError};
use crate::onion::failure::{self, AttributionData, FailureCode, FailureMessage, FailureValue};
use crate::wire::tlv::Record;

fn failure_code(v: &Value) -> Result<u16, String> {
    let code = match v {
        Value::String(name) if name.parse::<u16>().is_err() => FailureCode::by_name(name)
            .ok_or_else(|| {
                let names: Vec<&str> = failure::FAILURE_CODES.iter().map(|c| c.name).collect();
                format!(
                    "unknown failure code name \"{name}\"; expected one of {}",
                    names.join(", ")
                )
            })?,
        _ => {
            let n = input::uint(v)?;
            let n = u16::try_from(n).map_err(|_| "expected a 16-bit failure code".to_string())?;
            FailureCode::by_code(n).ok_or_else(|| format!("{n:#06x} is not a failure code BOLT 4 defines (give failure_message_hex for others)"))?
        }
    };
    Ok(code.code)
}

field_type! {
    /// A BOLT 4 failure code: its name or its number.
    FailureCodeField(u16), failure_code, |c| Value::from(*c),
    {"type": ["string", "integer"], "format": "failure-code"}
}

/// The attribution data of BOLT 4's attributable failures.
#[derive(Deserialize, JsonSchema)]
pub struct AttributionIn {
    /// The attribution data, 920 bytes.
    attribution_data_hex: Option<HexBytes>,
}

pub(super) fn attribution(input: &Input) -> Result<Option<AttributionData>, CliError> {
    let a: AttributionIn = input.typed()?;
    a.attribution_data_hex
        .map(|b| {
            <[u8; failure::ATTRIBUTION_LEN]>::try_from(b.as_slice())
                .map(AttributionData)
                .map_err(|_| {
                    input.error(
                        "attribution_data_hex",
                        format!(
                            "expected {} bytes, got {}",
                            failure::ATTRIBUTION_LEN,
                            b.len()
                        ),
                    )
                })
        })
        .transpose()
}

/// The failure message: `failure_message_hex`, or `failure_code` and the
/// fields its code has (BOLT 4 "Failure Messages").
#[derive(Deserialize, JsonSchema)]
pub struct FailureIn {
    /// The failure message, whole (instead of failure_code and its fields).
    failure_message_hex: Option<HexBytes>,
    /// Its name (`fee_insufficient`) or number.
    failure_code: Option<FailureCodeField>,
    /// The `sha256_of_onion` of the BADONION failures.
    sha256_of_onion: Option<HexBytes>,
    /// The `htlc_msat` of amount_below_minimum, fee_insufficient, incorrect_or_unknown_payment_details.
    htlc_msat: Option<Uint>,
    /// The `channel_update` of the UPDATE failures.
    channel_update: Option<HexBytes>,
    /// The `cltv_expiry` of incorrect_cltv_expiry, final_incorrect_cltv_expiry.
    cltv_expiry: Option<Uint>,
    /// The `height` of incorrect_or_unknown_payment_details.
    height: Option<Uint>,
    /// The `disabled_flags` of channel_disabled.
    disabled_flags: Option<Uint>,
    /// The `incoming_htlc_amt` of final_incorrect_htlc_amount.
    incoming_htlc_amt: Option<Uint>,
    /// The `type` of invalid_onion_payload.
    #[serde(rename = "type")]
    typ: Option<Uint>,
    /// The `offset` of invalid_onion_payload.
    offset: Option<Uint>,
    /// Extra TLV records: type number (as the key) to value hex.
    tlvs: Option<Map<String, Value>>,
}

impl FailureIn {
    fn field(&self, name: &str) -> Option<FailureValue> {
        let bytes = |b: &Option<HexBytes>| b.as_ref().map(|b| FailureValue::Bytes(b.0.clone()));
        let uint = |n: &Option<Uint>| n.as_ref().map(|n| FailureValue::Uint(n.0));
        match name {
            "sha256_of_onion" => bytes(&self.sha256_of_onion),
            "channel_update" => bytes(&self.channel_update),
            "htlc_msat" => uint(&self.htlc_msat),
            "cltv_expiry" => uint(&self.cltv_expiry),
            "height" => uint(&self.height),
            "disabled_flags" => uint(&self.disabled_flags),
            "incoming_htlc_amt" => uint(&self.incoming_htlc_amt),
            "type" => uint(&self.typ),
            "offset" => uint(&self.offset),
            _ => None,
        }
    }
}

/// The failure message from `failure_message_hex`, or `failure_code` (name or number) and its fields.
pub(super) fn failure_message(input: &Input) -> Result<Vec<u8>, CliError> {
    let f: FailureIn = input.typed()?;
    if let Some(raw) = &f.failure_message_hex {
        return Ok(raw.0.clone());
    }
    let code = f.failure_code.as_ref().ok_or_else(|| {
        input.error(
            "failure_code",
            "missing required field (or give failure_message_hex)",
        )
    })?;
    let code = FailureCode::by_code(code.0).expect("a failure code read is one BOLT 4 defines");
    let mut fields = vec![];
    for (name, _) in code.fields {
        let v = f
            .field(name)
            .ok_or_else(|| input.error(name, "missing required field"))?;
        fields.push((*name, v));
    }
    let mut tlvs = vec![];
    for (k, v) in f.tlvs.iter().flatten() {
        let at = format!("tlvs.{k}");
        let typ = k
            .parse()
            .map_err(|_| input.error(&at, "expected a TLV type number as the key"))?;
        let value = input::hex_bytes(v).map_err(|e| input.error(&at, e))?;
        tlvs.push(Record { typ, value });
    }
    FailureMessage {
        code: code.code,
        fields,
        tlvs,
    }
    .encode()
    .map_err(|e| input.error("failure_code", e))
}

/// A failure message, decoded.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum FailureOut {
    Decoded {
        code: u16,
        /// Its BOLT 4 name, when it has one.
        name: Option<&'static str>,
        /// BADONION, PERM, NODE, UPDATE.
        flags: Vec<&'static str>,
        /// The code's fields, by name.
        fields: Map<String, Value>,
        /// Extra TLV records, type to value hex.
        tlvs: Map<String, Value>,
    },
    Undecodable {
        /// Why it does not decode.
        undecodable: String,
    },
}

pub(super) fn message_out(bytes: &[u8]) -> FailureOut {
    match FailureMessage::decode(bytes) {
        Ok(m) => FailureOut::Decoded {
            code: m.code,
            name: m.name(),
            flags: [
                (failure::BADONION, "BADONION"),
                (failure::PERM, "PERM"),
                (failure::NODE, "NODE"),
                (failure::UPDATE, "UPDATE"),
            ]
            .iter()
            .filter(|(f, _)| m.code & f != 0)
            .map(|(_, n)| *n)
            .collect(),
            fields: m
                .fields
                .iter()
                .map(|(k, v)| {
                    let j = match v {
                        FailureValue::Uint(x) => json!(x),
                        FailureValue::Bytes(b) => json!(hex(b)),
                    };
                    (k.to_string(), j)
                })
                .collect(),
            tlvs: m
                .tlvs
                .iter()
                .map(|r| (r.typ.to_string(), json!(hex(&r.value))))
                .collect(),
        },
        Err(e) => FailureOut::Undecodable {
            undecodable: e.to_string(),
        },
    }
}
