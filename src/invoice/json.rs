//! A decoded invoice as the toolkit's JSON shows it: every field by name,
//! the payee and where its key came from, and the signature (BOLT 11).

use schemars::JsonSchema;
use serde::Serialize;

use super::{fallback_address, network, tag_char, Decoded, Field};
use crate::wire::{features, tlv};

/// The feature bits, with their names.
#[derive(Serialize, JsonSchema)]
pub struct FeaturesOut {
    bits: Vec<u16>,
    names: Vec<String>,
}

/// A fallback address (`f`).
#[derive(Serialize, JsonSchema)]
pub struct FallbackOut {
    version: u8,
    program: String,
    address: Option<String>,
}

/// A route hint's hop.
#[derive(Serialize, JsonSchema)]
pub struct HopOut {
    pubkey: String,
    short_channel_id: String,
    fee_base_msat: u32,
    fee_proportional_millionths: u32,
    cltv_expiry_delta: u16,
}

/// A field this decoder does not know, skipped as BOLT 11 says.
#[derive(Serialize, JsonSchema)]
pub struct IgnoredOut {
    tag: String,
    data_length: usize,
    words_hex: String,
}

/// Every field of an invoice.
#[derive(Serialize, JsonSchema)]
pub struct InvoiceOut {
    /// The currency prefix: bc, tb, tbs, bcrt.
    network: String,
    bitcoin_network: String,
    amount_msat: Option<u64>,
    timestamp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<FeaturesOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_metadata: Option<String>,
    /// Seconds.
    expiry: u64,
    expires_at: u64,
    /// With `now`.
    #[serde(skip_serializing_if = "Option::is_none")]
    expired: Option<bool>,
    min_final_cltv_expiry_delta: u64,
    payee_pubkey: String,
    /// `n field` or `recovered from the signature`.
    payee_pubkey_source: &'static str,
    fallback_addresses: Vec<FallbackOut>,
    route_hints: Vec<Vec<HopOut>>,
    ignored_fields: Vec<IgnoredOut>,
    signature: String,
    recovery_id: u8,
    /// Always true: a bad signature does not decode.
    signature_valid: bool,
}

impl InvoiceOut {
    /// A decoded invoice as the output shows it; `now` says whether it expired.
    pub fn of(d: &Decoded, now: Option<u64>) -> Self {
        let inv = &d.invoice;
        let net = network(&inv.currency);
        let mut out = InvoiceOut {
            network: inv.currency.clone(),
            bitcoin_network: net.to_string(),
            amount_msat: inv.amount_msat,
            timestamp: inv.timestamp,
            payment_hash: None,
            payment_secret: None,
            description: None,
            description_hash: None,
            features: None,
            payment_metadata: None,
            expiry: inv.expiry_secs(),
            expires_at: inv.expires_at(),
            expired: now.map(|now| now >= inv.expires_at()),
            min_final_cltv_expiry_delta: inv.min_final_cltv_expiry_delta(),
            payee_pubkey: d.payee.to_string(),
            payee_pubkey_source: if d.payee_from_n {
                "n field"
            } else {
                "recovered from the signature"
            },
            fallback_addresses: vec![],
            route_hints: vec![],
            ignored_fields: vec![],
            signature: hex::encode(d.signature),
            recovery_id: d.recovery_id,
            signature_valid: true,
        };
        for f in &inv.fields {
            match f {
                // BOLT 11: the first p and s count; later ones are skipped.
                Field::PaymentHash(h) => {
                    out.payment_hash.get_or_insert_with(|| hex::encode(h));
                }
                Field::PaymentSecret(s) => {
                    out.payment_secret.get_or_insert_with(|| hex::encode(s));
                }
                Field::Description(s) => out.description = Some(s.clone()),
                Field::DescriptionHash(h) => out.description_hash = Some(hex::encode(h)),
                Field::PayeePubkey(_) | Field::Expiry(_) | Field::MinFinalCltvExpiryDelta(_) => {}
                Field::Fallback { version, program } => out.fallback_addresses.push(FallbackOut {
                    version: *version,
                    program: hex::encode(program),
                    address: fallback_address(*version, program, net).map(|a| a.to_string()),
                }),
                Field::RouteHint(hops) => out.route_hints.push(
                    hops.iter()
                        .map(|h| HopOut {
                            pubkey: h.pubkey.to_string(),
                            short_channel_id: tlv::scid_to_string(h.short_channel_id),
                            fee_base_msat: h.fee_base_msat,
                            fee_proportional_millionths: h.fee_proportional_millionths,
                            cltv_expiry_delta: h.cltv_expiry_delta,
                        })
                        .collect(),
                ),
                Field::Features(bits) => {
                    out.features = Some(FeaturesOut {
                        bits: bits.clone(),
                        names: bits.iter().map(|b| features::bit_name(*b)).collect(),
                    })
                }
                Field::Metadata(m) => out.payment_metadata = Some(hex::encode(m)),
                Field::Skipped { tag, words } => out.ignored_fields.push(IgnoredOut {
                    tag: tag_char(*tag).to_string(),
                    data_length: words.len(),
                    words_hex: hex::encode(words),
                }),
            }
        }
        out
    }
}
