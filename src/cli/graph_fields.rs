//! Graph-related input fields the routing steps share (`route`, `amp-split`,
//! `rebalance plan`): nodes, channel directions, weights and liquidity hints.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::field::{field_type, Hex32, HexBytes, Privkey, Uint, Uint32};
use super::input::{self, Input, Parsed};
use super::CliError;
use crate::graph::Graph;
use crate::wire::tlv::scid_from_str;

/// A node: its pubkey (hex) or, for files that number nodes, its index.
pub(crate) fn node(g: &Graph) -> impl Fn(&Value) -> Parsed<u32> + '_ {
    move |v| match v {
        Value::Number(n) => {
            let i = n
                .as_u64()
                .ok_or_else(|| format!("expected a node index or pubkey, got {n}"))?;
            if i < g.pubkeys.len() as u64 {
                Ok(i as u32)
            } else {
                Err(format!(
                    "unknown node: index {i}, the graph has {} nodes",
                    g.pubkeys.len()
                ))
            }
        }
        Value::String(s) => {
            if let Ok(i) = s.parse::<u64>() {
                return node(g)(&json!(i));
            }
            let pk = input::pubkey(v)?;
            g.node(&pk.serialize())
                .ok_or_else(|| format!("unknown node: {s} is not in the graph"))
        }
        other => Err(format!("expected a pubkey or node index, got {other}")),
    }
}

/// A channel direction: `BLOCKxTXxOUTPUT/DIR` (DIR 0 from node_1, the lesser
/// pubkey, 1 from node_2, as BOLT 7's `channel_flags`), or without `/DIR` both.
/// GOSSMAP snapshots carry no short_channel_ids, so a bare number is the
/// channel's index in the file (the `channel_index` the route prints).
pub(crate) fn directions(g: &Graph) -> impl Fn(&Value) -> Parsed<Vec<u32>> + '_ {
    move |v| {
        if let Some(c) = v.as_u64() {
            if c >= g.channels.len() as u64 {
                return Err(format!(
                    "unknown channel: index {c}, the graph has {} channels",
                    g.channels.len()
                ));
            }
            return Ok(vec![2 * c as u32, 2 * c as u32 + 1]);
        }
        let s = v.as_str().ok_or_else(|| {
            format!("expected a short_channel_id as BLOCKxTXxOUTPUT[/DIR], got {v}")
        })?;
        let (scid, dir) = match s.split_once('/') {
            Some((c, "0")) => (c, Some(0)),
            Some((c, "1")) => (c, Some(1)),
            Some(_) => return Err(format!("direction must be /0 or /1, got \"{s}\"")),
            None => (s, None),
        };
        let id = scid_from_str(scid)
            .ok_or_else(|| format!("expected BLOCKxTXxOUTPUT[/DIR], got \"{s}\""))?;
        let c = g
            .channels
            .iter()
            .position(|c| c.short_channel_id == Some(id))
            .ok_or_else(|| format!("unknown channel: {scid} is not in the graph"))?
            as u32;
        Ok(match dir {
            Some(d) => vec![2 * c + d],
            None => vec![2 * c, 2 * c + 1],
        })
    }
}

fn node_ref(v: &Value) -> Parsed<Value> {
    match v {
        Value::String(_) => Ok(v.clone()),
        Value::Number(n) if n.as_u64().is_some() => Ok(v.clone()),
        other => Err(format!("expected a pubkey or node index, got {other}")),
    }
}

field_type! {
    /// A node of the graph: its pubkey, or its index in the file.
    NodeRef(Value), node_ref, |v| v.clone(),
    {"type": ["string", "integer"], "format": "node"}
}

fn channel_ref(v: &Value) -> Parsed<Value> {
    match v {
        Value::String(_) => Ok(v.clone()),
        Value::Number(n) if n.as_u64().is_some() => Ok(v.clone()),
        other => Err(format!(
            "expected a short_channel_id as BLOCKxTXxOUTPUT[/DIR], got {other}"
        )),
    }
}

field_type! {
    /// A channel (or one direction of it): `BLOCKxTXxOUTPUT[/DIR]`, or its index in the file.
    ChannelRef(Value), channel_ref, |v| v.clone(),
    {"type": ["string", "integer"], "format": "channel"}
}

/// A non-negative number (a weight, in msat).
#[derive(Clone, Copy, Debug)]
pub struct Weight(pub f64);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        weight(&Value::deserialize(d)?)
            .map(Weight)
            .map_err(D::Error::custom)
    }
}

impl JsonSchema for Weight {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Weight".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "number", "minimum": 0})
    }
}

/// A node, resolved in the graph, or an error naming `field`.
pub(crate) fn resolve_node(
    g: &Graph,
    input: &Input,
    field: &str,
    r: &NodeRef,
) -> Result<u32, CliError> {
    node(g)(&r.0).map_err(|m| input.error(field, m))
}

/// Channel directions, resolved in the graph, or an error naming `field`.
pub(crate) fn resolve_directions(
    g: &Graph,
    input: &Input,
    field: &str,
    r: &ChannelRef,
) -> Result<Vec<u32>, CliError> {
    directions(g)(&r.0).map_err(|m| input.error(field, m))
}

fn weight(v: &Value) -> Parsed<f64> {
    v.as_f64()
        .filter(|w| w.is_finite() && *w >= 0.0)
        .ok_or_else(|| format!("expected a non-negative number, got {v}"))
}

/// A known liquidity bound of one channel direction.
#[derive(Deserialize, JsonSchema)]
pub struct LiquidityIn {
    /// `BLOCKxTXxOUTPUT/DIR`, or with `direction`.
    short_channel_id: ChannelRef,
    /// 0 or 1.
    direction: Option<Uint>,
    /// At least this much can pass (default 0).
    min_msat: Option<Uint>,
    /// At most this much (default: the capacity).
    max_msat: Option<Uint>,
}

/// Known liquidity bounds: the routing steps' `liquidity`.
#[derive(Deserialize, JsonSchema)]
pub struct LiquidityPart {
    /// Known bounds, each `{short_channel_id, direction, min_msat, max_msat}`.
    liquidity: Option<Vec<LiquidityIn>>,
}

/// Known liquidity bounds: `[{short_channel_id, direction, min_msat, max_msat}]`.
pub(crate) fn liquidity(
    g: &Graph,
    input: &Input,
) -> Result<std::collections::HashMap<u32, (u64, u64)>, CliError> {
    let mut out = std::collections::HashMap::new();
    for (i, item) in input
        .typed::<LiquidityPart>()?
        .liquidity
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let at = |f: &str| format!("liquidity[{i}].{f}");
        let dirs = resolve_directions(g, input, &at("short_channel_id"), &item.short_channel_id)?;
        let dirs = match item.direction.map(|d| d.0) {
            Some(d @ (0 | 1)) => vec![(dirs[0] & !1) + d as u32],
            Some(d) => {
                return Err(input.error(&at("direction"), format!("expected 0 or 1, got {d}")))
            }
            None if dirs.len() == 1 => dirs,
            None => {
                return Err(input.error(
                    &at("short_channel_id"),
                    "needs a direction: BLOCKxTXxOUTPUT/0 or /1, or a `direction` field",
                ))
            }
        };
        let min = item.min_msat.map_or(0, |m| m.0);
        let max = item.max_msat.map_or(u64::MAX, |m| m.0);
        if min > max {
            return Err(input.error(&at("min_msat"), format!("{min} is above max_msat {max}")));
        }
        let cap = g.channels[(dirs[0] / 2) as usize]
            .capacity_sat
            .saturating_mul(1000);
        if cap > 0 && min > cap {
            return Err(input.error(
                &at("min_msat"),
                format!("{min} is above the channel's capacity of {cap} msat"),
            ));
        }
        out.insert(dirs[0], (min, max));
    }
    Ok(out)
}

/// What the routing steps hand on to `onion-create` (BOLT 4's final-hop
/// payload and the onion's keys), and the height the CLTVs count from.
#[derive(Deserialize, JsonSchema, Default)]
pub struct OnionIn {
    /// The payment secret, for the final hop's payload.
    pub payment_secret: Option<Hex32>,
    /// The whole payment's amount, for the final hop (default: this route's).
    pub total_msat: Option<Uint>,
    /// Passed on to onion_create.
    pub payment_hash: Option<Hex32>,
    /// Passed on to onion_create.
    pub session_key: Option<Privkey>,
    /// Passed on to onion_create.
    pub associated_data: Option<HexBytes>,
    /// The chain's height: the CLTVs are absolute from it (default 0).
    pub current_block_height: Option<Uint32>,
}
