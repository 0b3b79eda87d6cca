//! `lnkit invoice decode | create`: BOLT 11 invoices.

use bitcoin::secp256k1::{rand, Secp256k1};
use clap::{Args, Subcommand};

use super::input::{self, Input};
use super::invoice_types::*;
use super::{hex, CliError, Explain, StepResult};
use crate::cli::respond;
use crate::invoice::{self, fallback_field, Field, Invoice, RouteHop};
use crate::payment::PaymentPreimage;
use crate::wire::features;

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

/// `lnkit invoice decode`.
pub fn decode(input: &Input, ex: &mut Explain) -> StepResult {
    let r: DecodeIn = input.typed()?;
    let s = r.invoice.0.trim();
    let d = invoice::decode(&Secp256k1::verification_only(), s)
        .map_err(|e| input.error("invoice", e))?;
    ex.line(format!(
        "signed preimage (hrp || data as bytes): {}",
        hex(&d.signing_data)
    ));
    respond(DecodeOut {
        decoded: InvoiceOut::of(&d, r.now.map(|n| n.0)),
        invoice: s.to_lowercase(),
    })
}

fn route_hints(input: &Input, hints: Vec<Vec<HopIn>>) -> Result<Vec<Field>, CliError> {
    let mut out = vec![];
    for (i, hint) in hints.into_iter().enumerate() {
        let mut hops = vec![];
        for (j, h) in hint.into_iter().enumerate() {
            hops.push(RouteHop {
                pubkey: h.pubkey.0,
                short_channel_id: h.short_channel_id.0,
                fee_base_msat: h.fee_base_msat.0,
                fee_proportional_millionths: h.fee_proportional_millionths.0,
                cltv_expiry_delta: u16::try_from(h.cltv_expiry_delta.0).map_err(|_| {
                    input.error(
                        &format!("route_hints[{i}][{j}].cltv_expiry_delta"),
                        "expected at most 65535",
                    )
                })?,
            });
        }
        out.push(Field::RouteHint(hops));
    }
    Ok(out)
}

/// `lnkit invoice create`.
pub fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let c: CreateIn = input.typed()?;
    let key = c.node_privkey.0;
    let net = c
        .network
        .as_ref()
        .map_or(bitcoin::Network::Bitcoin, |n| n.0);
    let currency = match net {
        bitcoin::Network::Bitcoin => "bc",
        bitcoin::Network::Signet => "tbs",
        bitcoin::Network::Regtest => "bcrt",
        _ => "tb",
    };
    let preimage = c.payment_preimage.map(|p| PaymentPreimage(p.0));
    let (hash, preimage) = match (c.payment_hash.map(|h| h.0), preimage) {
        (Some(h), Some(p)) if p.payment_hash().0 != h => {
            return Err(input.error("payment_preimage", "its SHA256 is not payment_hash"))
        }
        (Some(h), p) => (h, p),
        (None, Some(p)) => (p.payment_hash().0, Some(p)),
        // No hash and no preimage: generate the preimage, and give it back.
        (None, None) => {
            let p = PaymentPreimage(rand::random());
            (p.payment_hash().0, Some(p))
        }
    };
    let secret = c.payment_secret.map_or_else(rand::random, |s| s.0);
    let mut fields = vec![Field::PaymentHash(hash), Field::PaymentSecret(secret)];
    match (c.description, c.description_hash) {
        (Some(d), None) => fields.push(Field::Description(d)),
        (None, Some(h)) => fields.push(Field::DescriptionHash(h.0)),
        (None, None) => fields.push(Field::Description(String::new())),
        (Some(_), Some(_)) => {
            return Err(input.error(
                "description",
                "give description or description_hash, not both",
            ))
        }
    }
    if let Some(x) = c.expiry {
        fields.push(Field::Expiry(x.0));
    }
    if let Some(d) = c.min_final_cltv_expiry_delta {
        fields.push(Field::MinFinalCltvExpiryDelta(d.0));
    }
    if c.fallback_address.is_some() {
        let a = input.req("fallback_address", input::address(net))?;
        fields.push(fallback_field(&a).ok_or_else(|| {
            input.error("fallback_address", "not an address type BOLT 11 carries")
        })?);
    }
    fields.extend(route_hints(input, c.route_hints.unwrap_or_default())?);
    let feature_names = c.features.unwrap_or_else(|| {
        vec![
            "var_onion_optin_required".into(),
            "payment_secret_required".into(),
            "basic_mpp_optional".into(),
        ]
    });
    let bits = feature_names
        .iter()
        .enumerate()
        .map(|(i, n)| features::bit_of(n).map_err(|e| input.error(&format!("features[{i}]"), e)))
        .collect::<Result<Vec<_>, _>>()?;
    if !bits.is_empty() {
        fields.push(Field::Features(bits));
    }
    if let Some(m) = c.payment_metadata {
        fields.push(Field::Metadata(m.0));
    }
    let timestamp = match c.timestamp {
        Some(t) => t.0,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    let inv = Invoice {
        currency: currency.into(),
        amount_msat: c.amount_msat.map(|a| a.0),
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
    respond(CreateOut {
        invoice: s,
        payment_preimage: preimage.map(|p| hex(p.0)),
        decoded: InvoiceOut::of(&d, None),
    })
}
