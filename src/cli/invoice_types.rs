//! The requests and responses of `lnkit invoice decode | create` (BOLT 11).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::field::{field_type, Hex32, HexBytes, Net, Privkey, Pubkey, Scid, Uint, Uint32};
use super::hex;
use crate::invoice::{fallback_address, network, tag_char, Decoded, Field};
use crate::wire::{features, tlv};

fn bolt11(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| "expected a BOLT 11 string".into())
}

field_type! {
    /// A BOLT 11 invoice string.
    Bolt11(String), bolt11, |s| Value::String(s.clone()),
    {"type": "string", "format": "bolt11"}
}

/// `invoice decode`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct DecodeIn {
    /// The invoice (--invoice).
    pub invoice: Bolt11,
    /// The current time, UNIX seconds, to say whether it has expired (--now).
    pub now: Option<Uint>,
}

/// One hop of a route hint (BOLT 11 `r`).
#[derive(Deserialize, JsonSchema)]
pub struct HopIn {
    pub pubkey: Pubkey,
    pub short_channel_id: Scid,
    pub fee_base_msat: Uint32,
    pub fee_proportional_millionths: Uint32,
    /// At most 65535.
    pub cltv_expiry_delta: Uint,
}

/// `invoice create`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct CreateIn {
    /// The payee's node key: it signs.
    pub node_privkey: Privkey,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    pub network: Option<Net>,
    /// Absent: any amount.
    pub amount_msat: Option<Uint>,
    /// The preimage (its hash becomes payment_hash); generated when neither is given.
    pub payment_preimage: Option<Hex32>,
    /// The payment hash, without the preimage.
    pub payment_hash: Option<Hex32>,
    /// Default: random.
    pub payment_secret: Option<Hex32>,
    /// `d` (default empty).
    pub description: Option<String>,
    /// `h`, instead of description.
    pub description_hash: Option<Hex32>,
    /// `x`, seconds (default 3600 when absent).
    pub expiry: Option<Uint>,
    /// `c` (default 18 when absent).
    pub min_final_cltv_expiry_delta: Option<Uint>,
    /// `f`: an on-chain address of the network.
    pub fallback_address: Option<String>,
    /// `r`: each hint a list of hops.
    pub route_hints: Option<Vec<Vec<HopIn>>>,
    /// Feature names (default var_onion_optin_required, payment_secret_required, basic_mpp_optional).
    pub features: Option<Vec<String>>,
    /// `m`.
    pub payment_metadata: Option<HexBytes>,
    /// UNIX seconds (default now).
    pub timestamp: Option<Uint>,
}

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
            signature: hex(d.signature),
            recovery_id: d.recovery_id,
            signature_valid: true,
        };
        for f in &inv.fields {
            match f {
                // BOLT 11: the first p and s count; later ones are skipped.
                Field::PaymentHash(h) => {
                    out.payment_hash.get_or_insert_with(|| hex(h));
                }
                Field::PaymentSecret(s) => {
                    out.payment_secret.get_or_insert_with(|| hex(s));
                }
                Field::Description(s) => out.description = Some(s.clone()),
                Field::DescriptionHash(h) => out.description_hash = Some(hex(h)),
                Field::PayeePubkey(_) | Field::Expiry(_) | Field::MinFinalCltvExpiryDelta(_) => {}
                Field::Fallback { version, program } => out.fallback_addresses.push(FallbackOut {
                    version: *version,
                    program: hex(program),
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
                Field::Metadata(m) => out.payment_metadata = Some(hex(m)),
                Field::Skipped { tag, words } => out.ignored_fields.push(IgnoredOut {
                    tag: tag_char(*tag).to_string(),
                    data_length: words.len(),
                    words_hex: hex(words),
                }),
            }
        }
        out
    }
}

/// `invoice decode`'s output: every field, and the invoice in lower case.
#[derive(Serialize, JsonSchema)]
pub struct DecodeOut {
    #[serde(flatten)]
    pub decoded: InvoiceOut,
    pub invoice: String,
}

/// `invoice create`'s output.
#[derive(Serialize, JsonSchema)]
pub struct CreateOut {
    pub invoice: String,
    /// The preimage, when it was given or generated.
    pub payment_preimage: Option<String>,
    pub decoded: InvoiceOut,
}
