//! `lnkit route --graph FILE`: find a payment route (or K diverse ones), and
//! hand it on as the input `lnkit onion-create` takes.

use std::collections::HashSet;
use std::io::Write;

use clap::Args;
use serde_json::{json, Value};

use super::graph::GraphArgs;
pub(crate) use super::graph_fields::{directions, liquidity, list, node, weight};
use super::input::{self, Input};
use super::{CliError, Explain, StepResult};
use crate::graph::Graph;
use crate::route::{self, Route, RouteError, RouteRequest};
use crate::wire::tlv::scid_to_string;

/// Flags of `lnkit route`.
#[derive(Args, Debug)]
pub struct RouteArgs {
    #[command(flatten)]
    graph: GraphArgs,
    /// Up to K diverse routes (the first is the best).
    #[arg(long, default_value_t = 1)]
    alternatives: usize,
    /// Write the route(s) as Graphviz DOT instead of JSON.
    #[arg(long)]
    dot: bool,
}

fn request(g: &Graph, input: &Input) -> Result<RouteRequest, CliError> {
    let source = input.req("source", node(g))?;
    let destination = input.req("destination", node(g))?;
    let amount_msat = input.req("amount_msat", input::uint)?;
    if amount_msat == 0 {
        return Err(input.error("amount_msat", "must be above zero"));
    }
    let mut req = RouteRequest::new(source, destination, amount_msat);
    if source == destination {
        return Err(input.error("destination", "is the same node as source"));
    }
    if let Some(v) = input.opt("final_cltv_expiry_delta", input::uint32)? {
        req.final_cltv_expiry_delta = v;
    }
    // Silent in the issue: with no budget given, allow what a wallet would
    // (5 sat + 1%), rather than any fee at all.
    req.max_fee_msat = input
        .opt("max_fee_msat", input::uint)?
        .unwrap_or(5_000 + amount_msat / 100);
    if let Some(v) = input.opt("max_total_cltv_expiry_delta", input::uint32)? {
        req.max_total_cltv_expiry_delta = v;
    }
    if let Some(v) = input.opt("max_hops", input::uint)? {
        if v == 0 || v > 27 {
            return Err(input.error(
                "max_hops",
                format!("expected 1 to 27 (what fits in a 1300-byte onion), got {v}"),
            ));
        }
        req.max_hops = v as usize;
    }
    if let Some(w) = input.opt("probability_weight_msat", weight)? {
        req.probability_weight = w;
    }
    if let Some(w) = input.opt("cltv_risk", weight)? {
        req.cltv_risk = w;
    }
    req.avoid_nodes = list(input, "avoid_nodes", node(g))?.into_iter().collect();
    req.avoid_directions = list(input, "avoid_channels", directions(g))?
        .into_iter()
        .flatten()
        .collect::<HashSet<_>>();
    req.liquidity = liquidity(g, input)?;
    Ok(req)
}

pub(crate) fn scid(g: &Graph, dir: u32) -> Value {
    match g.channels[(dir / 2) as usize].short_channel_id {
        Some(s) => json!(scid_to_string(s)),
        None => Value::Null,
    }
}

pub(crate) fn pubkey(g: &Graph, n: u32) -> String {
    super::hex(g.pubkeys[n as usize])
}

/// One route as the contract's JSON, with the `onion_create` input built from it.
pub(crate) fn route_json(g: &Graph, r: &Route, height: u32, input: &Input) -> Value {
    let hops: Vec<Value> = r
        .hops
        .iter()
        .map(|h| {
            json!({
                "short_channel_id": scid(g, h.direction),
                "channel_index": h.direction / 2,
                "direction": h.direction % 2,
                "pubkey": pubkey(g, h.node),
                "alias": g.aliases.get(h.node as usize).filter(|a| !a.is_empty()),
                "amount_msat": h.amount_msat,
                "cltv_expiry": height + h.cltv_delta,
                "fee_msat": h.fee_msat,
                "success_probability": h.probability,
            })
        })
        .collect();
    let onion_hops: Vec<Value> = r
        .payloads()
        .into_iter()
        .map(|p| {
            let mut hop = json!({
                "pubkey": pubkey(g, p.node),
                "amt_to_forward_msat": p.amt_to_forward_msat,
                "outgoing_cltv_value": height + p.outgoing_cltv_delta,
            });
            match p.next_direction {
                Some(d) => hop["short_channel_id"] = scid(g, d),
                None => {
                    if let Some(secret) = input.raw("payment_secret") {
                        hop["payment_secret"] = secret.clone();
                        hop["total_msat"] = input
                            .raw("total_msat")
                            .cloned()
                            .unwrap_or(json!(p.amt_to_forward_msat));
                    }
                }
            }
            hop
        })
        .collect();
    let mut onion = json!({ "hops": onion_hops });
    for f in ["payment_hash", "session_key", "associated_data"] {
        if let Some(v) = input.raw(f) {
            onion[f] = v.clone();
        }
    }
    json!({
        "hops": hops,
        "total_amount_msat": r.total_amount_msat,
        "total_fee_msat": r.total_fee_msat,
        "total_cltv_expiry": height + r.total_cltv_delta,
        "total_cltv_expiry_delta": r.total_cltv_delta,
        "success_probability": r.probability,
        "onion_create": onion,
    })
}

pub(crate) fn label(g: &Graph, n: u32) -> String {
    match g.aliases.get(n as usize).filter(|a| !a.is_empty()) {
        Some(a) => a.replace('"', "\\\""),
        None => {
            let pk = pubkey(g, n);
            format!("{}…", &pk[..16])
        }
    }
}

/// Graphviz DOT: one cluster of edges per route, nodes labelled by alias.
fn dot(g: &Graph, source: u32, routes: &[Route]) -> String {
    const COLORS: [&str; 6] = ["black", "blue", "darkgreen", "red", "purple", "orange"];
    let mut out = String::from("digraph route {\n  rankdir=LR;\n  node [shape=box];\n");
    let mut nodes = vec![source];
    nodes.extend(routes.iter().flat_map(|r| r.hops.iter().map(|h| h.node)));
    nodes.sort_unstable();
    nodes.dedup();
    for n in nodes {
        out += &format!("  n{n} [label=\"{}\"];\n", label(g, n));
    }
    for (i, r) in routes.iter().enumerate() {
        let mut from = source;
        for h in &r.hops {
            let scid = scid(g, h.direction);
            out += &format!(
                "  n{from} -> n{} [color={}, label=\"{}\\n{} msat\\nfee {} msat\"];\n",
                h.node,
                COLORS[i % COLORS.len()],
                scid.as_str().unwrap_or("?"),
                h.amount_msat,
                h.fee_msat
            );
            from = h.node;
        }
    }
    out + "}\n"
}

/// Run `lnkit route`.
pub fn run(args: RouteArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    let g = super::graph::load(&args.graph, ex)?;
    let req = request(&g, input)?;
    let height = input
        .opt("current_block_height", input::uint32)?
        .unwrap_or(0);
    if args.alternatives == 0 {
        return Err(CliError::bad("--alternatives: expected at least 1"));
    }
    let routes = match route::find_routes(&g, &req, args.alternatives) {
        Ok(r) => r,
        Err(RouteError::Unreachable { amount_msat }) => {
            // Say why: the fee budget (with the cheapest fee found), or capacity.
            let mut free = req.clone();
            free.max_fee_msat = u64::MAX;
            if let Ok(r) = route::find_route(&g, &free) {
                return Err(CliError::failure(format!(
                    "no route within max_fee_msat {}: the cheapest route found costs {} msat in fees",
                    req.max_fee_msat, r.total_fee_msat
                )));
            }
            let width = route::bottleneck_msat(&g, &req);
            return Err(CliError::failure(if width == 0 {
                "no route: the destination is unreachable from the source over enabled channels"
                    .to_string()
            } else if width < amount_msat {
                format!("no route: the best bottleneck found is {width} msat, below the {amount_msat} msat asked")
            } else {
                format!("no route for {amount_msat} msat within the hop, CLTV and htlc limits (a path with bottleneck {width} msat exists)")
            }));
        }
        Err(e) => return Err(CliError::bad(format!("route: {e}"))),
    };
    let first = &routes[0];
    ex.line(format!(
        "searched back from the destination: {} hops, {} msat in fees, success probability {:.4}",
        first.hops.len(),
        first.total_fee_msat,
        first.probability
    ));
    if args.dot {
        let _ = std::io::stdout()
            .lock()
            .write_all(dot(&g, req.source, &routes).as_bytes());
        return Ok(Value::Null);
    }
    let mut out = route_json(&g, first, height, input);
    if args.alternatives > 1 {
        out["alternatives"] = Value::Array(
            routes
                .iter()
                .map(|r| route_json(&g, r, height, input))
                .collect(),
        );
    }
    Ok(out)
}
