//! `route`'s request; a route as the routing steps print it is the
//! library's [`crate::route::json`].

use schemars::JsonSchema;
use serde::Deserialize;

use super::field::{Uint, Uint32};
use super::graph_fields::{ChannelRef, NodeRef, OnionIn, Weight};
pub use crate::route::json::{pubkey, route_out, scid, OnionExtras, RouteOut};

/// `route`'s request.
#[derive(Deserialize, JsonSchema)]
pub struct RouteIn {
    /// The payer: a pubkey, or a node index.
    pub source: NodeRef,
    /// The payee.
    pub destination: NodeRef,
    /// What the payee receives.
    pub amount_msat: Uint,
    /// The payee's CLTV delta (default 18).
    pub final_cltv_expiry_delta: Option<Uint32>,
    /// The fee budget (default 5 sat + 1%).
    pub max_fee_msat: Option<Uint>,
    /// The whole route's CLTV budget (default 2016).
    pub max_total_cltv_expiry_delta: Option<Uint32>,
    /// 1 to 27 (default 20).
    pub max_hops: Option<Uint>,
    /// What one unit of -log(success probability) is worth, in msat.
    pub probability_weight_msat: Option<Weight>,
    /// The cost of locking funds, per msat and block.
    pub cltv_risk: Option<Weight>,
    /// Nodes not to route through.
    pub avoid_nodes: Option<Vec<NodeRef>>,
    /// Channels (or directions) not to use.
    pub avoid_channels: Option<Vec<ChannelRef>>,
}

/// What the onion takes besides the route, as a request gave it.
pub fn onion_extras(o: &OnionIn) -> OnionExtras {
    OnionExtras {
        payment_secret: o.payment_secret.as_ref().map(|s| hex::encode(s.0)),
        total_msat: o.total_msat.as_ref().map(|t| t.0),
        payment_hash: o.payment_hash.as_ref().map(|h| hex::encode(h.0)),
        session_key: o
            .session_key
            .as_ref()
            .map(|k| hex::encode(k.0.secret_bytes())),
        associated_data: o.associated_data.as_ref().map(|a| hex::encode(&a.0)),
        height: o.current_block_height.as_ref().map_or(0, |h| h.0),
    }
}
