//! The requests and responses of `lnkit invoice decode | create` (BOLT 11).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::field::{field_type, Hex32, HexBytes, Net, Privkey, Pubkey, Scid, Uint, Uint32};
pub use crate::invoice::json::InvoiceOut;

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
