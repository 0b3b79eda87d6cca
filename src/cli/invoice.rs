//! `lnkit invoice decode | create`: BOLT 11 invoices.

use bitcoin::secp256k1::{rand, Secp256k1};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::input::{self, Input};
use super::{hex, CliError, Explain, StepResult};
use crate::invoice::{
    self, fallback_address, fallback_field, network, tag_char, Decoded, Field, Invoice, RouteHop,
};
use crate::payment::PaymentPreimage;
use crate::wire::{features, tlv};

/// `lnkit invoice ...`
#[derive(Subcommand, Debug)]
pub enum InvoiceCommand {
    /// A BOLT 11 string (field `invoice`) -> every field as JSON.
    Decode(InvoiceArgs),
    /// Fields and the signing `node_privkey` -> the invoice string.
    Create(InvoiceArgs),
}

/// Flags of `lnkit invoice`.
#[derive(Args, Debug)]
pub struct InvoiceArgs {
    /// The invoice string (field `invoice`), for decode.
    #[arg(long)]
    invoice: Option<String>,
    /// The current time, UNIX seconds, to say whether it has expired (field `now`).
    #[arg(long)]
    now: Option<u64>,
}

/// Run `lnkit invoice ...`.
pub fn run(cmd: InvoiceCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let (InvoiceCommand::Decode(a) | InvoiceCommand::Create(a)) = &cmd;
    super::flag(input, "invoice", a.invoice.clone());
    super::flag(input, "now", a.now);
    match cmd {
        InvoiceCommand::Decode(_) => decode(input, ex),
        InvoiceCommand::Create(_) => create(input, ex),
    }
}

/// The JSON of a decoded invoice.
pub fn decoded_json(d: &Decoded, now: Option<u64>) -> Value {
    let inv = &d.invoice;
    let mut out = Map::new();
    let net = network(&inv.currency);
    out.insert("network".into(), json!(inv.currency));
    out.insert("bitcoin_network".into(), json!(net.to_string()));
    out.insert("amount_msat".into(), json!(inv.amount_msat));
    out.insert("timestamp".into(), json!(inv.timestamp));
    let expiry = inv.expiry_secs();
    let cltv = inv.min_final_cltv_expiry_delta();
    let (mut fallbacks, mut hints, mut unknown) = (vec![], vec![], vec![]);
    for f in &inv.fields {
        match f {
            Field::PaymentHash(h) => {
                out.entry("payment_hash").or_insert(json!(hex(h)));
            }
            Field::PaymentSecret(s) => {
                out.entry("payment_secret").or_insert(json!(hex(s)));
            }
            Field::Description(s) => {
                out.insert("description".into(), json!(s));
            }
            Field::DescriptionHash(h) => {
                out.insert("description_hash".into(), json!(hex(h)));
            }
            Field::PayeePubkey(_) => {}
            Field::Expiry(_) | Field::MinFinalCltvExpiryDelta(_) => {}
            Field::Fallback { version, program } => fallbacks.push(json!({
                "version": version,
                "program": hex(program),
                "address": fallback_address(*version, program, net).map(|a| a.to_string()),
            })),
            Field::RouteHint(hops) => hints.push(json!(hops
                .iter()
                .map(|h| json!({
                    "pubkey": h.pubkey.to_string(),
                    "short_channel_id": tlv::scid_to_string(h.short_channel_id),
                    "fee_base_msat": h.fee_base_msat,
                    "fee_proportional_millionths": h.fee_proportional_millionths,
                    "cltv_expiry_delta": h.cltv_expiry_delta,
                }))
                .collect::<Vec<_>>())),
            Field::Features(bits) => {
                out.insert("features".into(), json!({ "bits": bits, "names": bits.iter().map(|b| features::bit_name(*b)).collect::<Vec<_>>() }));
            }
            Field::Metadata(m) => {
                out.insert("payment_metadata".into(), json!(hex(m)));
            }
            Field::Skipped { tag, words } => unknown.push(json!({ "tag": tag_char(*tag).to_string(), "data_length": words.len(), "words_hex": hex(words) })),
        }
    }
    out.insert("expiry".into(), json!(expiry));
    out.insert("expires_at".into(), json!(inv.expires_at()));
    if let Some(now) = now {
        out.insert("expired".into(), json!(now >= inv.expires_at()));
    }
    out.insert("min_final_cltv_expiry_delta".into(), json!(cltv));
    out.insert("payee_pubkey".into(), json!(d.payee.to_string()));
    out.insert(
        "payee_pubkey_source".into(),
        json!(if d.payee_from_n {
            "n field"
        } else {
            "recovered from the signature"
        }),
    );
    out.insert("fallback_addresses".into(), json!(fallbacks));
    out.insert("route_hints".into(), json!(hints));
    out.insert("ignored_fields".into(), json!(unknown));
    out.insert("signature".into(), json!(hex(d.signature)));
    out.insert("recovery_id".into(), json!(d.recovery_id));
    out.insert("signature_valid".into(), json!(true));
    Value::Object(out)
}

/// `lnkit invoice decode`.
pub fn decode(input: &Input, ex: &mut Explain) -> StepResult {
    let s = input.req("invoice", |v| {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| "expected a BOLT 11 string".into())
    })?;
    let d = invoice::decode(&Secp256k1::verification_only(), s.trim())
        .map_err(|e| input.error("invoice", e))?;
    ex.line(format!(
        "signed preimage (hrp || data as bytes): {}",
        hex(&d.signing_data)
    ));
    let mut out = decoded_json(&d, input.opt("now", input::uint)?);
    out["invoice"] = json!(s.trim().to_lowercase());
    Ok(out)
}

fn route_hints(input: &Input) -> Result<Vec<Field>, CliError> {
    let Some(Value::Array(hints)) = input.raw("route_hints") else {
        return Ok(vec![]);
    };
    let mut out = vec![];
    for (i, hint) in hints.iter().enumerate() {
        let wrapper = Input::from_value(json!({ "hops": hint }));
        let mut hops = vec![];
        for h in wrapper
            .objects("hops")
            .map_err(|_| input.error(&format!("route_hints[{i}]"), "expected an array of hops"))?
        {
            hops.push(RouteHop {
                pubkey: h.req("pubkey", input::pubkey)?,
                short_channel_id: h.req("short_channel_id", |v| {
                    v.as_str()
                        .and_then(tlv::scid_from_str)
                        .ok_or_else(|| "expected BLOCKxTXxOUTPUT".into())
                })?,
                fee_base_msat: h.req("fee_base_msat", input::uint32)?,
                fee_proportional_millionths: h.req("fee_proportional_millionths", input::uint32)?,
                cltv_expiry_delta: u16::try_from(h.req("cltv_expiry_delta", input::uint)?)
                    .map_err(|_| h.error("cltv_expiry_delta", "expected at most 65535"))?,
            });
        }
        out.push(Field::RouteHint(hops));
    }
    Ok(out)
}

/// `lnkit invoice create`.
pub fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let key = input.req("node_privkey", input::secret_key)?;
    let net = input.network()?;
    let currency = match net {
        bitcoin::Network::Bitcoin => "bc",
        bitcoin::Network::Signet => "tbs",
        bitcoin::Network::Regtest => "bcrt",
        _ => "tb",
    };
    let preimage = input
        .opt("payment_preimage", input::bytes32)?
        .map(PaymentPreimage);
    let hash = match (input.opt("payment_hash", input::bytes32)?, preimage) {
        (Some(h), Some(p)) if p.payment_hash().0 != h => {
            return Err(input.error("payment_preimage", "its SHA256 is not payment_hash"))
        }
        (Some(h), _) => h,
        (None, Some(p)) => p.payment_hash().0,
        (None, None) => [0u8; 32],
    };
    // No hash and no preimage: generate the preimage, and give it back.
    let generated = (input.raw("payment_hash").is_none() && preimage.is_none())
        .then(|| PaymentPreimage(rand::random()));
    let (hash, preimage) = match generated {
        Some(p) => (p.payment_hash().0, Some(p)),
        None => (hash, preimage),
    };
    let secret = input
        .opt("payment_secret", input::bytes32)?
        .unwrap_or_else(rand::random);
    let mut fields = vec![Field::PaymentHash(hash), Field::PaymentSecret(secret)];
    match (
        input.opt("description", |v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| "expected a string".into())
        })?,
        input.opt("description_hash", input::bytes32)?,
    ) {
        (Some(d), None) => fields.push(Field::Description(d)),
        (None, Some(h)) => fields.push(Field::DescriptionHash(h)),
        (None, None) => fields.push(Field::Description(String::new())),
        (Some(_), Some(_)) => {
            return Err(input.error(
                "description",
                "give description or description_hash, not both",
            ))
        }
    }
    if let Some(x) = input.opt("expiry", input::uint)? {
        fields.push(Field::Expiry(x));
    }
    if let Some(c) = input.opt("min_final_cltv_expiry_delta", input::uint)? {
        fields.push(Field::MinFinalCltvExpiryDelta(c));
    }
    if let Some(a) = input.opt("fallback_address", input::address(net))? {
        fields.push(fallback_field(&a).ok_or_else(|| {
            input.error("fallback_address", "not an address type BOLT 11 carries")
        })?);
    }
    fields.extend(route_hints(input)?);
    let feature_names: Vec<String> = match input.raw("features") {
        Some(Value::Array(v)) => v
            .iter()
            .map(|n| n.as_str().unwrap_or("").to_string())
            .collect(),
        _ => vec![
            "var_onion_optin_required".into(),
            "payment_secret_required".into(),
            "basic_mpp_optional".into(),
        ],
    };
    let bits = feature_names
        .iter()
        .enumerate()
        .map(|(i, n)| features::bit_of(n).map_err(|e| input.error(&format!("features[{i}]"), e)))
        .collect::<Result<Vec<_>, _>>()?;
    if !bits.is_empty() {
        fields.push(Field::Features(bits));
    }
    if let Some(m) = input.opt("payment_metadata", input::hex_bytes)? {
        fields.push(Field::Metadata(m));
    }
    let timestamp = match input.opt("timestamp", input::uint)? {
        Some(t) => t,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    let inv = Invoice {
        currency: currency.into(),
        amount_msat: input.opt("amount_msat", input::uint)?,
        timestamp,
        fields,
    };
    let s = inv
        .sign(&secp, &key)
        .map_err(|e| input.error("timestamp", e))?;
    let d = invoice::decode(&secp, &s)
        .map_err(|e| CliError::failure(format!("the invoice we made does not decode: {e}")))?;
    if ex.enabled() {
        let words = inv
            .data_words()
            .map_err(|e| CliError::failure(e.to_string()))?;
        ex.line(format!(
            "hrp {}; {} data words before the signature",
            inv.hrp(),
            words.len()
        ));
        for f in &inv.fields {
            ex.line(format!("  field {:?}", f));
        }
        ex.line(format!("signed preimage: {}", hex(&d.signing_data)));
        ex.line(format!(
            "signature r||s {} recovery id {}",
            hex(d.signature),
            d.recovery_id
        ));
    }
    Ok(json!({
        "invoice": s,
        "payment_preimage": preimage.map(|p| hex(p.0)),
        "decoded": decoded_json(&d, None),
    }))
}
