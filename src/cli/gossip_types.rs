//! The requests and responses of `lnkit gossip sign | verify`.

use bitcoin::constants::ChainHash;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::field::{Flag, Hex32, HexBytes, Net, Privkey, Pubkey, Scid, Tx, Uint, Uint32};
use super::input::Input;
use super::CliError;
use crate::wire::features;

/// Which gossip message to sign.
#[derive(Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ChannelAnnouncement,
    NodeAnnouncement,
    ChannelUpdate,
}

/// `gossip sign`'s fields; which are required depends on `kind`.
#[derive(Deserialize, JsonSchema)]
pub struct SignIn {
    /// channel_announcement, node_announcement or channel_update (--kind).
    pub(super) kind: Kind,
    /// The chain (default: the genesis hash of `network`).
    pub(super) chain_hash: Option<Hex32>,
    /// bitcoin, testnet, signet or regtest (default bitcoin), for chain_hash.
    pub(super) network: Option<Net>,
    /// Feature names (`var_onion_optin`, ...).
    pub(super) features: Option<Vec<String>>,
    /// channel_announcement, channel_update: BLOCKxTXxOUTPUT.
    pub(super) short_channel_id: Option<Scid>,
    /// node_announcement, channel_update: UNIX seconds.
    pub(super) timestamp: Option<Uint32>,
    /// channel_announcement: one node's key (the lesser node id becomes node 1).
    pub(super) node_privkey_1: Option<Privkey>,
    /// channel_announcement: that node's funding key.
    pub(super) bitcoin_privkey_1: Option<Privkey>,
    /// channel_announcement: the other node's key.
    pub(super) node_privkey_2: Option<Privkey>,
    /// channel_announcement: its funding key.
    pub(super) bitcoin_privkey_2: Option<Privkey>,
    /// node_announcement, channel_update: the signing node's key.
    pub(super) node_privkey: Option<Privkey>,
    /// node_announcement: up to 32 bytes of UTF-8.
    pub(super) alias: Option<String>,
    /// node_announcement: 3 bytes (default 000000).
    pub(super) rgb_color: Option<HexBytes>,
    /// node_announcement: the addresses field, encoded.
    pub(super) addresses_hex: Option<HexBytes>,
    /// channel_update: 0 or 1, which end of the channel (default 0).
    pub(super) direction: Option<Uint>,
    /// channel_update: the channel is disabled (default false).
    pub(super) disabled: Option<Flag>,
    /// channel_update.
    pub(super) cltv_expiry_delta: Option<Uint>,
    /// channel_update.
    pub(super) htlc_minimum_msat: Option<Uint>,
    /// channel_update.
    pub(super) fee_base_msat: Option<Uint>,
    /// channel_update.
    pub(super) fee_proportional_millionths: Option<Uint>,
    /// channel_update.
    pub(super) htlc_maximum_msat: Option<Uint>,
}

/// A signed gossip message.
#[derive(Serialize, JsonSchema)]
pub struct SignOut {
    pub(super) message_hex: String,
    /// Decoded, as `wire decode` prints it.
    pub(super) message: Value,
}

/// `gossip verify`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct VerifyIn {
    /// A channel_announcement, node_announcement or channel_update.
    pub(super) message_hex: HexBytes,
    /// A channel_update's signer (it does not name its node).
    pub(super) node_id: Option<Pubkey>,
    /// A channel_announcement's funding transaction: its output is checked too.
    pub(super) funding_tx_hex: Option<Tx>,
}

/// One signature checked.
#[derive(Serialize, JsonSchema)]
pub struct Check {
    pub(super) field: &'static str,
    pub(super) key: String,
    pub(super) valid: bool,
}

/// What `gossip verify` found.
#[derive(Serialize, JsonSchema)]
pub struct VerifyOut {
    pub(super) name: Option<&'static str>,
    pub(super) signatures: Vec<Check>,
    /// With funding_tx_hex.
    pub(super) funding_output_matches: Option<bool>,
    /// Always true: a bad signature is a failure of the step.
    pub(super) valid: bool,
}

impl SignIn {
    pub(super) fn chain_hash(&self) -> Vec<u8> {
        match &self.chain_hash {
            Some(h) => h.0.to_vec(),
            None => {
                let network = self
                    .network
                    .as_ref()
                    .map_or(bitcoin::Network::Bitcoin, |n| n.0);
                ChainHash::using_genesis_block(network).to_bytes().to_vec()
            }
        }
    }

    pub(super) fn features(&self, input: &Input) -> Result<Vec<u8>, CliError> {
        let mut bits = vec![];
        for (i, n) in self.features.iter().flatten().enumerate() {
            bits.push(features::bit_of(n).map_err(|e| input.error(&format!("features[{i}]"), e))?);
        }
        Ok(features::from_bits(&bits))
    }
}
