//! A route as the toolkit's JSON shows it (`lnkit route`, `amp-split`'s
//! parts, `rebalance plan`): each hop, the totals, and the `onion_create`
//! input built from it (BOLT 4's per-hop payloads).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::Route;
use crate::graph::Graph;
use crate::wire::tlv::scid_to_string;

/// One hop of a route.
#[derive(Serialize, JsonSchema)]
pub struct HopOut {
    /// The channel into the hop (null in files without ids).
    short_channel_id: Option<String>,
    channel_index: u32,
    /// 0 from node_1 (the lesser pubkey), 1 from node_2.
    direction: u32,
    pubkey: String,
    alias: Option<String>,
    /// What the hop receives.
    amount_msat: u64,
    cltv_expiry: u32,
    /// What it charges.
    fee_msat: u64,
    success_probability: f64,
}

/// One hop of the onion: `onion-create`'s input.
#[derive(Serialize, JsonSchema)]
pub struct OnionHopOut {
    pubkey: String,
    amt_to_forward_msat: u64,
    outgoing_cltv_value: u32,
    /// Where to forward (not on the final hop; null in files without ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    short_channel_id: Option<Value>,
    /// The final hop's, with payment_secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_msat: Option<u64>,
    /// The final hop's custom records (AMP's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_tlvs: Option<Map<String, Value>>,
}

/// `onion-create`'s input, built from the route.
#[derive(Serialize, JsonSchema)]
pub struct OnionCreateOut {
    pub hops: Vec<OnionHopOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    associated_data: Option<String>,
}

/// A route.
#[derive(Serialize, JsonSchema)]
pub struct RouteOut {
    hops: Vec<HopOut>,
    /// What the payer sends.
    total_amount_msat: u64,
    total_fee_msat: u64,
    total_cltv_expiry: u32,
    total_cltv_expiry_delta: u32,
    success_probability: f64,
    /// Pipe to `onion-create` (with `jq .onion_create`).
    pub onion_create: OnionCreateOut,
    /// With --alternatives K: the K routes, the best first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<RouteOut>>,
}

/// What the onion takes besides the route (from the request), and the
/// height its CLTVs count from.
#[derive(Clone, Default)]
pub struct OnionExtras {
    pub payment_secret: Option<String>,
    pub total_msat: Option<u64>,
    pub payment_hash: Option<String>,
    pub session_key: Option<String>,
    pub associated_data: Option<String>,
    pub height: u32,
}

pub fn scid(g: &Graph, dir: u32) -> Option<String> {
    g.channels[(dir / 2) as usize]
        .short_channel_id
        .map(scid_to_string)
}

pub fn pubkey(g: &Graph, n: u32) -> String {
    hex::encode(g.pubkeys[n as usize])
}

/// One route as the contract's JSON, with the `onion_create` input built from it.
pub fn route_out(g: &Graph, r: &Route, x: &OnionExtras) -> RouteOut {
    let height = x.height;
    let hops = r
        .hops
        .iter()
        .map(|h| HopOut {
            short_channel_id: scid(g, h.direction),
            channel_index: h.direction / 2,
            direction: h.direction % 2,
            pubkey: pubkey(g, h.node),
            alias: g
                .aliases
                .get(h.node as usize)
                .filter(|a| !a.is_empty())
                .cloned(),
            amount_msat: h.amount_msat,
            cltv_expiry: height + h.cltv_delta,
            fee_msat: h.fee_msat,
            success_probability: h.probability,
        })
        .collect();
    let onion_hops = r
        .payloads()
        .into_iter()
        .map(|p| {
            let mut hop = OnionHopOut {
                pubkey: pubkey(g, p.node),
                amt_to_forward_msat: p.amt_to_forward_msat,
                outgoing_cltv_value: height + p.outgoing_cltv_delta,
                short_channel_id: None,
                payment_secret: None,
                total_msat: None,
                custom_tlvs: None,
            };
            match p.next_direction {
                Some(d) => hop.short_channel_id = Some(json!(scid(g, d))),
                None => {
                    if let Some(secret) = &x.payment_secret {
                        hop.payment_secret = Some(secret.clone());
                        hop.total_msat = Some(x.total_msat.unwrap_or(p.amt_to_forward_msat));
                    }
                }
            }
            hop
        })
        .collect();
    RouteOut {
        hops,
        total_amount_msat: r.total_amount_msat,
        total_fee_msat: r.total_fee_msat,
        total_cltv_expiry: height + r.total_cltv_delta,
        total_cltv_expiry_delta: r.total_cltv_delta,
        success_probability: r.probability,
        onion_create: OnionCreateOut {
            hops: onion_hops,
            payment_hash: x.payment_hash.clone(),
            session_key: x.session_key.clone(),
            associated_data: x.associated_data.clone(),
        },
        alternatives: None,
    }
}
