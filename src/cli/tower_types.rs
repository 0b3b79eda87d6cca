//! The requests and responses of `lnkit tower appointment|decrypt|watch`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chain_types::NestedTx;
use super::field::{field_type, HexBytes, Net, Privkey, Tx, TxidHex, Uint32};
use crate::tower::appointment::{Appointment, Locator};

fn locator(v: &Value) -> Result<Locator, String> {
    v.as_str()
        .ok_or_else(|| "expected 16-byte hex".to_string())?
        .parse::<Locator>()
        .map_err(|e| format!("expected 16-byte hex, got {e}"))
}

field_type! {
    /// A locator: the first 16 bytes of the breach's txid, as hex.
    LocatorField(Locator), locator, |l| Value::String(l.to_string()),
    {"type": "string", "format": "locator", "pattern": "^[0-9a-f]{32}$"}
}

fn block_hash(v: &Value) -> Result<bitcoin::BlockHash, String> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "expected a block hash (64 hex digits)".to_string())
}

field_type! {
    /// A block hash, as hex in display order.
    BlockHashField(bitcoin::BlockHash), block_hash, |h| Value::String(h.to_string()),
    {"type": "string", "format": "block-hash", "pattern": "^[0-9a-f]{64}$"}
}

/// `tower appointment`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct AppointmentIn {
    /// The penalty transaction.
    pub penalty_tx_hex: Option<Tx>,
    /// Or `lnkit penalty`'s output: one transaction (run it without --split).
    pub penalty_txs: Option<Vec<NestedTx>>,
    /// The breach's txid (or breach_txid, dispute_txid, revoked_tx_hex).
    pub revoked_txid: Option<TxidHex>,
    /// As teos names it.
    pub breach_txid: Option<TxidHex>,
    /// As BOLT 13's draft names it.
    pub dispute_txid: Option<TxidHex>,
    /// The breach itself: its txid.
    pub revoked_tx_hex: Option<Tx>,
    /// The breach's to_self_delay.
    pub to_self_delay: Uint32,
    /// Sign as the tower's user with this key (--user-secret).
    pub user_secret: Option<Privkey>,
}

/// An appointment, as `tower appointment` writes it and teos's API takes it.
#[derive(Deserialize, JsonSchema)]
pub struct AppointmentObj {
    pub locator: LocatorField,
    /// The penalty, encrypted under the breach's txid.
    pub encrypted_blob: HexBytes,
    /// Default 0.
    pub to_self_delay: Option<Uint32>,
}

impl AppointmentObj {
    /// The library's appointment.
    pub fn appointment(&self) -> Appointment {
        Appointment {
            locator: self.locator.0,
            encrypted_blob: self.encrypted_blob.0.clone(),
            to_self_delay: self.to_self_delay.as_ref().map_or(0, |d| d.0),
        }
    }
}

/// `tower appointment`'s output.
#[derive(Serialize, JsonSchema)]
pub struct AppointmentOut {
    /// teos's JSON.
    pub appointment: Appointment,
    /// With user_secret: zbase32, as teos's add_appointment wants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// With user_secret: its public key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// `tower decrypt`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct DecryptIn {
    /// The appointment.
    pub appointment: Option<AppointmentObj>,
    /// The breach (or revoked_tx_hex, tx_hex).
    pub breach_tx_hex: Option<Tx>,
    pub revoked_tx_hex: Option<Tx>,
    pub tx_hex: Option<Tx>,
}

/// An appointment opened by its breach: the penalty, or why not.
#[derive(Serialize, JsonSchema)]
pub struct OpenedOut {
    pub locator: String,
    pub breach_txid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty_txid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty_tx_hex: Option<String>,
    /// Whether Bitcoin Core's interpreter accepts the penalty against the breach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Why it does not open (refused ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `tower watch`'s fields (with --bitcoind or --chain-dir when no block_hex).
#[derive(Deserialize, JsonSchema)]
pub struct WatchIn {
    /// The appointments.
    pub appointments: Option<Vec<AppointmentObj>>,
    /// One appointment (without appointments).
    pub appointment: Option<AppointmentObj>,
    /// The block, serialized (else from the chain).
    pub block_hex: Option<HexBytes>,
    /// bitcoin, testnet, signet or regtest (--network; default regtest).
    pub network: Option<Net>,
    /// The chain's block with this hash (--block-hash).
    pub block_hash: Option<BlockHashField>,
    /// The chain's block at this height (--height; default the tip).
    pub height: Option<Uint32>,
}

/// `tower watch`'s output.
#[derive(Serialize, JsonSchema)]
pub struct WatchOut {
    pub block_hash: String,
    /// How many the block holds.
    pub transactions: usize,
    /// How many were watched.
    pub appointments: usize,
    /// The breaches found, their penalties opened.
    pub penalties: Vec<OpenedOut>,
    /// Matches whose blob did not open to a penalty of the breach.
    pub refused: Vec<OpenedOut>,
    /// The block's height, when it came from a chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}
