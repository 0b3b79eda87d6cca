//! The requests and responses of `lnkit factory create|allocate|update|close|exit`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::field::{Hex32, Net, Privkey, Pubkey, Sat, Script, Uint, Uint32, Whole};
use super::super::wallet_input::WalletInputIn;
use crate::factory::Factory;

/// One party of `factory create`.
#[derive(Deserialize, JsonSchema)]
pub struct PartyIn {
    /// Default `party N`.
    pub name: Option<String>,
    /// Its key in the MuSig2 N-of-N.
    pub pubkey: Pubkey,
    /// What it puts in.
    pub amount_sat: Sat,
    /// Where its share goes (or payout_script_pubkey).
    pub payout_address: Option<String>,
    pub payout_script_pubkey: Option<Script>,
    /// The coins it puts in.
    pub inputs: Option<Vec<WalletInputIn>>,
}

/// `factory create`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct CreateIn {
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    pub network: Option<Net>,
    /// The parties, in order.
    pub parties: Vec<PartyIn>,
    /// The invalidation layer's step, in blocks (default 144).
    pub step_blocks: Option<Uint32>,
    /// How many updates it allows (default 10).
    pub steps: Option<Uint32>,
    /// The hook's feerate (or feerate_per_kw).
    pub feerate_sat_per_vb: Option<Uint>,
    pub feerate_per_kw: Option<Uint>,
}

/// The factory object every later step reads.
#[derive(Deserialize, JsonSchema)]
pub struct FactoryIn {
    /// As the step before wrote it.
    pub factory: Whole<Factory>,
}

/// Every party's key: the factory is N-of-N.
#[derive(Deserialize, JsonSchema)]
pub struct SignersIn {
    /// Every party's secret key, in the parties' order.
    pub privkeys: Option<Vec<Privkey>>,
    /// Derive the MuSig2 nonces from this (reproducible demos); default: the OS.
    pub nonce_seed: Option<Hex32>,
}

/// The channels' payments since the last allocation.
#[derive(Deserialize, JsonSchema)]
pub struct BalancesIn {
    /// Per channel `[a, b]`, or null where unmoved.
    pub balances: Option<Vec<Option<[Uint; 2]>>>,
}

/// One channel of an allocation.
#[derive(Deserialize, JsonSchema)]
pub struct ChannelIn {
    /// Two party indexes.
    pub parties: Vec<Uint>,
    /// What each side holds.
    pub amounts_sat: Vec<Uint>,
    /// Default: the parties' factory keys.
    pub funding_pubkeys: Option<[Pubkey; 2]>,
}

/// `factory allocate` and `update`'s new allocation.
#[derive(Deserialize, JsonSchema)]
pub struct AllocationIn {
    /// The channels, each a 2-of-2 output.
    pub channels: Option<Vec<ChannelIn>>,
    /// What each party keeps outside channels (default: the rest).
    pub shares_sat: Option<Vec<Uint>>,
}

/// `factory exit`'s heights.
#[derive(Deserialize, JsonSchema)]
pub struct ExitIn {
    /// The height the hook confirmed at.
    pub hook_height: Uint32,
    /// The height the kickoff confirmed at, when it has.
    pub kickoff_height: Option<Uint32>,
}

/// A transaction.
#[derive(Serialize, JsonSchema)]
pub struct TxJson {
    pub txid: String,
    pub tx_hex: String,
    pub vsize: usize,
}

/// `factory create`'s output.
#[derive(Serialize, JsonSchema)]
pub struct CreateOut {
    /// For the next steps.
    pub factory: Whole<Factory>,
    pub hook_txid: String,
    pub hook_tx_hex: String,
    pub hook_fee_sat: u64,
    pub hook_vsize: usize,
    /// The MuSig2 aggregate of every party's key.
    pub internal_key: String,
    /// It, BIP 86-tweaked: the hook's output key.
    pub output_key: String,
    /// Per party.
    pub changes_sat: Vec<Option<u64>>,
    pub kickoff_fee_sat: u64,
    /// Which inputs were signed.
    pub signed: Vec<bool>,
    pub next: &'static str,
}

/// An allocation.
#[derive(Serialize, JsonSchema)]
pub struct AllocationOut {
    #[serde(flatten)]
    pub tx: TxJson,
    pub number: u16,
    /// Its nSequence: blocks after the kickoff.
    pub delay_blocks: u16,
    pub steps_left: u16,
    pub shares_sat: Vec<u64>,
    pub fee_sat: u64,
}

/// A channel of an allocation: its funding output.
#[derive(Serialize, JsonSchema)]
pub struct ChannelOut {
    pub channel: usize,
    pub parties: [usize; 2],
    pub funding_txid: String,
    pub funding_output_index: usize,
    pub funding_amount_sat: u64,
    pub funding_script: String,
    pub funding_pubkeys: Vec<String>,
}

/// `factory allocate` and `update`'s output.
#[derive(Serialize, JsonSchema)]
pub struct AllocateOut {
    pub factory: Whole<Factory>,
    /// Signed by every party.
    pub kickoff: TxJson,
    pub allocation: AllocationOut,
    pub channels: Vec<ChannelOut>,
}

/// `factory close`'s output.
#[derive(Serialize, JsonSchema)]
pub struct CloseOut {
    #[serde(flatten)]
    pub tx: TxJson,
    /// Per party.
    pub payouts_sat: Vec<u64>,
    pub fee_sat: u64,
    /// The hook's outpoint.
    pub spends: String,
}

/// One transaction of the unilateral exit.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ExitStep {
    Kickoff {
        #[serde(flatten)]
        tx: TxJson,
        name: &'static str,
        valid_from_height: u32,
    },
    Allocation {
        #[serde(flatten)]
        tx: TxJson,
        name: &'static str,
        number: u16,
        delay_blocks: u16,
        valid_from_height: u32,
        /// Where the allocation before becomes valid too.
        confirm_below_height: Option<u32>,
    },
}

/// `factory exit`'s output.
#[derive(Serialize, JsonSchema)]
pub struct ExitOut {
    pub steps: Vec<ExitStep>,
    pub then: &'static str,
}
