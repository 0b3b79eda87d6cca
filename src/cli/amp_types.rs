//! The requests and responses of `lnkit amp-split` and `lnkit amp-combine`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field::{Hex32, Uint, Uint32};
use super::graph_fields::{NodeRef, Weight};
use super::route_types::RouteOut;
use crate::mpp::simulate::Outcome;
use crate::mpp::SolverStats;

/// Multi-part (one hash) or atomic multi-path (a hash per part).
#[derive(Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Mpp,
    Amp,
}

/// `amp-split`'s request.
#[derive(Deserialize, JsonSchema)]
pub struct SplitIn {
    /// The payer.
    pub source: NodeRef,
    /// The payee.
    pub destination: NodeRef,
    /// What the payee receives, in all.
    pub amount_msat: Uint,
    /// mpp or amp (default mpp).
    pub mode: Option<Mode>,
    /// The fee budget, all parts together.
    pub max_fee_msat: Option<Uint>,
    /// At most this many parts.
    pub max_parts: Option<Uint>,
    /// No part below this.
    pub min_part_msat: Option<Uint>,
    /// What one unit of -log(success probability) is worth, in msat.
    pub probability_weight_msat: Option<Weight>,
    /// Linear pieces per direction's cost, 1 to 64.
    pub pieces: Option<Uint>,
    /// The payee's CLTV delta.
    pub final_cltv_expiry_delta: Option<Uint32>,
    /// Each part's CLTV budget.
    pub max_total_cltv_expiry_delta: Option<Uint32>,
    /// 1 to 27.
    pub max_hops: Option<Uint>,
    /// amp: the root seed (default random).
    pub root_seed: Option<Hex32>,
    /// amp: the set id (default random).
    pub set_id: Option<Hex32>,
    /// amp: the random shares, one fewer than the parts (default random).
    pub shares: Option<Vec<Hex32>>,
}

/// One part of the payment: a route, and AMP's child.
#[derive(Serialize, JsonSchema)]
pub struct PartOut {
    #[serde(flatten)]
    pub route: RouteOut,
    /// What this part delivers.
    pub amount_msat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_preimage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_hash: Option<String>,
}

/// The payment, split.
#[derive(Serialize, JsonSchema)]
pub struct SplitOut {
    /// mpp or amp.
    pub mode: &'static str,
    pub payment_secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_seed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_id: Option<String>,
    pub parts: Vec<PartOut>,
    pub amount_msat: u64,
    pub total_fee_msat: u64,
    pub flow_fee_estimate_msat: u64,
    /// That every part arrives.
    pub success_probability: f64,
    pub solver: SolverStats,
}

/// One simulated payment (--simulate).
#[derive(Serialize, JsonSchema)]
pub struct RunOut {
    pub seed: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// `--simulate`'s output.
#[derive(Serialize, JsonSchema)]
pub struct SimulationOut {
    pub amount_msat: u64,
    pub success_rate: f64,
    pub runs: Vec<RunOut>,
}

/// `amp-split`'s output: the split, or with --simulate the simulated payments.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AmpSplitOut {
    Split(SplitOut),
    Simulation(SimulationOut),
}

/// One part `amp-combine` reads.
#[derive(Deserialize, JsonSchema)]
pub struct ShareIn {
    /// The part's share of the root seed.
    pub share: Hex32,
    /// Its child index (default its position).
    pub child_index: Option<Uint32>,
    /// Checked when given.
    pub child_hash: Option<Hex32>,
}

/// `amp-combine`'s request: the parts (as `amp-split` printed them) or shares.
#[derive(Deserialize, JsonSchema)]
pub struct CombineIn {
    /// The parts, each with its share.
    pub parts: Option<Vec<ShareIn>>,
    /// The same, by another name.
    pub shares: Option<Vec<ShareIn>>,
    /// Checked when given.
    pub root_seed: Option<Hex32>,
}

/// One child payment, rebuilt.
#[derive(Serialize, JsonSchema)]
pub struct ChildOut {
    pub child_index: u32,
    pub child_preimage: String,
    pub child_hash: String,
    /// With child_hash given.
    pub hash_matches: Option<bool>,
}

/// The root seed and every child.
#[derive(Serialize, JsonSchema)]
pub struct CombineOut {
    pub root_seed: String,
    pub children: Vec<ChildOut>,
}
