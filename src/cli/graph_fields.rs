//! Graph-related input fields the routing steps share (`route`, `amp-split`,
//! `rebalance plan`): nodes, channel directions, weights and liquidity hints.

use serde_json::{json, Value};

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

pub(crate) fn list<T>(
    input: &Input,
    field: &str,
    one: impl Fn(&Value) -> Parsed<T>,
) -> Result<Vec<T>, CliError> {
    match input.raw(field) {
        None => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| one(v).map_err(|m| input.error(&format!("{field}[{i}]"), m)))
            .collect(),
        Some(other) => Err(input.error(field, format!("expected an array, got {other}"))),
    }
}

pub(crate) fn weight(v: &Value) -> Parsed<f64> {
    v.as_f64()
        .filter(|w| w.is_finite() && *w >= 0.0)
        .ok_or_else(|| format!("expected a non-negative number, got {v}"))
}

/// Known liquidity bounds: `[{short_channel_id, direction, min_msat, max_msat}]`.
pub(crate) fn liquidity(
    g: &Graph,
    input: &Input,
) -> Result<std::collections::HashMap<u32, (u64, u64)>, CliError> {
    let mut out = std::collections::HashMap::new();
    if input.has("liquidity") {
        for (i, item) in input.objects("liquidity")?.iter().enumerate() {
            let dirs = item.req("short_channel_id", directions(g))?;
            let dirs = match item.opt("direction", input::uint)? {
                Some(d @ (0 | 1)) => vec![(dirs[0] & !1) + d as u32],
                Some(d) => return Err(item.error("direction", format!("expected 0 or 1, got {d}"))),
                None if dirs.len() == 1 => dirs,
                None => {
                    return Err(input.error(
                        &format!("liquidity[{i}].short_channel_id"),
                        "needs a direction: BLOCKxTXxOUTPUT/0 or /1, or a `direction` field",
                    ))
                }
            };
            let min = item.opt("min_msat", input::uint)?.unwrap_or(0);
            let max = item.opt("max_msat", input::uint)?.unwrap_or(u64::MAX);
            if min > max {
                return Err(item.error("min_msat", format!("{min} is above max_msat {max}")));
            }
            let cap = g.channels[(dirs[0] / 2) as usize]
                .capacity_sat
                .saturating_mul(1000);
            if cap > 0 && min > cap {
                return Err(item.error(
                    "min_msat",
                    format!("{min} is above the channel's capacity of {cap} msat"),
                ));
            }
            out.insert(dirs[0], (min, max));
        }
    }
    Ok(out)
}
