//! `lnkit onion-error create | wrap | decode`: the failure onion of BOLT 4
//! "Returning Errors", with attribution data.

use bitcoin::secp256k1::{PublicKey, Secp256k1};
use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::input::{self, Input};
use super::{hex, CliError, Explain, StepResult};
use crate::onion::failure::{
    self, AttributionData, FailureCode, FailureField, FailureMessage, FailureValue,
};
use crate::onion::keys::route_keys;
use crate::wire::tlv::Record;

/// `lnkit onion-error ...`
#[derive(Subcommand, Debug)]
pub enum OnionErrorCommand {
    /// At the failing hop: a failure message -> the error packet (and attribution data).
    Create,
    /// At each hop back: obfuscate with its shared secret (and add its attribution).
    Wrap,
    /// At the origin: which hop failed, and why.
    Decode,
}

/// Run `lnkit onion-error ...`.
pub fn run(cmd: OnionErrorCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    match cmd {
        OnionErrorCommand::Create => create(input, ex),
        OnionErrorCommand::Wrap => wrap(input, ex),
        OnionErrorCommand::Decode => decode(input, ex),
    }
}

fn attribution(input: &Input) -> Result<Option<AttributionData>, CliError> {
    input
        .opt("attribution_data_hex", input::hex_bytes)?
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

/// The failure message from `failure_message_hex`, or `failure_code` (name or number) and its fields.
fn failure_message(input: &Input) -> Result<Vec<u8>, CliError> {
    if let Some(raw) = input.opt("failure_message_hex", input::hex_bytes)? {
        return Ok(raw);
    }
    let code = match input.raw("failure_code") {
        Some(Value::String(name)) if name.parse::<u16>().is_err() => FailureCode::by_name(name)
            .ok_or_else(|| {
                let names: Vec<&str> = failure::FAILURE_CODES.iter().map(|c| c.name).collect();
                input.error(
                    "failure_code",
                    format!(
                        "unknown failure code name \"{name}\"; expected one of {}",
                        names.join(", ")
                    ),
                )
            })?,
        Some(_) => {
            let n = input.req("failure_code", input::uint)?;
            let n = u16::try_from(n)
                .map_err(|_| input.error("failure_code", "expected a 16-bit failure code"))?;
            FailureCode::by_code(n).ok_or_else(|| input.error("failure_code", format!("{n:#06x} is not a failure code BOLT 4 defines (give failure_message_hex for others)")))?
        }
        None => {
            return Err(input.error(
                "failure_code",
                "missing required field (or give failure_message_hex)",
            ))
        }
    };
    let mut fields = vec![];
    for (name, kind) in code.fields {
        let v = match kind {
            FailureField::Sha256 | FailureField::U16Bytes => {
                FailureValue::Bytes(input.req(name, input::hex_bytes)?)
            }
            _ => FailureValue::Uint(input.req(name, input::uint)?),
        };
        fields.push((*name, v));
    }
    let tlvs = match input.object("tlvs")? {
        Some(obj) => match obj.to_value() {
            Value::Object(map) => map
                .keys()
                .map(|k| {
                    let typ = k
                        .parse()
                        .map_err(|_| obj.error(k, "expected a TLV type number as the key"))?;
                    Ok(Record {
                        typ,
                        value: obj.req(k, input::hex_bytes)?,
                    })
                })
                .collect::<Result<Vec<_>, CliError>>()?,
            _ => vec![],
        },
        None => vec![],
    };
    FailureMessage {
        code: code.code,
        fields,
        tlvs,
    }
    .encode()
    .map_err(|e| input.error("failure_code", e))
}

/// `lnkit onion-error create`.
pub fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let ss = input.req("shared_secret", input::bytes32)?;
    let msg = failure_message(input)?;
    let pad_to = input
        .opt("pad_to", input::uint)?
        .unwrap_or(failure::MIN_FAILURE_AND_PAD as u64) as usize;
    if msg.len() > u16::MAX as usize - 4 || pad_to > u16::MAX as usize {
        return Err(input.error(
            "pad_to",
            "the failure message and padding must fit in 65535 bytes",
        ));
    }
    let raw = failure::raw_error_packet(&ss, &msg, pad_to);
    let attr = input
        .opt("hold_time", input::uint32)?
        .map(|h| failure::attribution_for_failure(&ss, &raw, h));
    let mut packet = raw.clone();
    failure::obfuscate(&ss, &mut packet);
    ex.line(format!(
        "failuremsg {} padded to {} bytes, HMAC with um, XOR with the ammag stream",
        hex(&msg),
        raw.len() - 32 - 4
    ));
    Ok(json!({
        "error_hex": hex(&packet),
        "raw_error_packet_hex": hex(&raw),
        "failure_message_hex": hex(&msg),
        "attribution_data_hex": attr.map(|a| hex(a.0)),
    }))
}

/// `lnkit onion-error wrap`.
pub fn wrap(input: &Input, ex: &mut Explain) -> StepResult {
    let ss = input.req("shared_secret", input::bytes32)?;
    let received = input.req("error_hex", input::hex_bytes)?;
    let downstream = attribution(input)?;
    let attr = input
        .opt("hold_time", input::uint32)?
        .map(|h| failure::attribution_forward(&ss, downstream.as_ref(), &received, h));
    let mut packet = received;
    failure::obfuscate(&ss, &mut packet);
    ex.line("XOR with this hop's ammag stream");
    Ok(json!({
        "error_hex": hex(&packet),
        "attribution_data_hex": attr.map(|a| hex(a.0)),
    }))
}

fn message_json(bytes: &[u8]) -> Value {
    match FailureMessage::decode(bytes) {
        Ok(m) => {
            let fields: Map<String, Value> = m
                .fields
                .iter()
                .map(|(k, v)| {
                    let j = match v {
                        FailureValue::Uint(x) => json!(x),
                        FailureValue::Bytes(b) => json!(hex(b)),
                    };
                    (k.to_string(), j)
                })
                .collect();
            let flags: Vec<&str> = [
                (failure::BADONION, "BADONION"),
                (failure::PERM, "PERM"),
                (failure::NODE, "NODE"),
                (failure::UPDATE, "UPDATE"),
            ]
            .iter()
            .filter(|(f, _)| m.code & f != 0)
            .map(|(_, n)| *n)
            .collect();
            let tlvs: Map<String, Value> = m
                .tlvs
                .iter()
                .map(|r| (r.typ.to_string(), json!(hex(&r.value))))
                .collect();
            json!({ "code": m.code, "name": m.name(), "flags": flags, "fields": fields, "tlvs": tlvs })
        }
        Err(e) => json!({ "undecodable": e.to_string() }),
    }
}

/// `lnkit onion-error decode`.
pub fn decode(input: &Input, ex: &mut Explain) -> StepResult {
    let packet = input.req("error_hex", input::hex_bytes)?;
    let secrets: Vec<[u8; 32]> = match input.raw("shared_secrets") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                input::bytes32(v).map_err(|e| input.error(&format!("shared_secrets[{i}]"), e))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            let session = input.req("session_key", input::secret_key)?;
            let pubkeys: Vec<PublicKey> = input
                .objects("hops")?
                .iter()
                .map(|h| h.req("pubkey", input::pubkey))
                .collect::<Result<_, _>>()?;
            route_keys(&Secp256k1::new(), &session, &pubkeys)
                .map_err(|e| CliError::failure(e.to_string()))?
                .iter()
                .map(|k| k.shared_secret)
                .collect()
        }
    };
    let attr = attribution(input)?;
    let d = failure::decode_failure(&secrets, &packet, attr.as_ref())
        .map_err(|e| input.error("error_hex", e))?;
    ex.line(format!(
        "peeled {} ammag layers; hop {}'s um HMAC matches",
        d.failing_hop + 1,
        d.failing_hop
    ));
    Ok(json!({
        "failing_hop_index": d.failing_hop,
        "failure_message_hex": hex(&d.failure_message),
        "failure": message_json(&d.failure_message),
        "hold_times": attr.as_ref().map(|_| d.hold_times.clone()),
        "attribution_failed_at_hop": d.attribution_failed_at,
    }))
}
