//! `lnkit route --graph FILE`: find a payment route (or K diverse ones), and
//! hand it on as the input `lnkit onion-create` takes.

use std::io::Write;

use clap::Args;
use serde_json::Value;

use super::graph::GraphArgs;
pub(crate) use super::graph_fields::{liquidity, resolve_directions, resolve_node, OnionIn};
use super::input::Input;
pub(crate) use super::route_types::{onion_extras, pubkey, route_out, scid, RouteIn};
use super::{CliError, Explain, StepResult};
use crate::cli::respond;
use crate::graph::Graph;
use crate::route::{self, Route, RouteError, RouteRequest};

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
    let r: RouteIn = input.typed()?;
    let source = resolve_node(g, input, "source", &r.source)?;
    let destination = resolve_node(g, input, "destination", &r.destination)?;
    let amount_msat = r.amount_msat.0;
    if amount_msat == 0 {
        return Err(input.error("amount_msat", "must be above zero"));
    }
    let mut req = RouteRequest::new(source, destination, amount_msat);
    if source == destination {
        return Err(input.error("destination", "is the same node as source"));
    }
    if let Some(v) = r.final_cltv_expiry_delta {
        req.final_cltv_expiry_delta = v.0;
    }
    // Silent in the issue: with no budget given, allow what a wallet would
    // (5 sat + 1%), rather than any fee at all.
    req.max_fee_msat = r.max_fee_msat.map_or(5_000 + amount_msat / 100, |m| m.0);
    if let Some(v) = r.max_total_cltv_expiry_delta {
        req.max_total_cltv_expiry_delta = v.0;
    }
    if let Some(v) = r.max_hops.map(|h| h.0) {
        if v == 0 || v > 27 {
            return Err(input.error(
                "max_hops",
                format!("expected 1 to 27 (what fits in a 1300-byte onion), got {v}"),
            ));
        }
        req.max_hops = v as usize;
    }
    if let Some(w) = r.probability_weight_msat {
        req.probability_weight = w.0;
    }
    if let Some(w) = r.cltv_risk {
        req.cltv_risk = w.0;
    }
    for (i, n) in r.avoid_nodes.iter().flatten().enumerate() {
        req.avoid_nodes
            .insert(resolve_node(g, input, &format!("avoid_nodes[{i}]"), n)?);
    }
    for (i, c) in r.avoid_channels.iter().flatten().enumerate() {
        let at = format!("avoid_channels[{i}]");
        req.avoid_directions
            .extend(resolve_directions(g, input, &at, c)?);
    }
    req.liquidity = liquidity(g, input)?;
    Ok(req)
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
                scid.as_deref().unwrap_or("?"),
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
    let extras = onion_extras(&input.typed::<OnionIn>()?);
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
    let mut out = route_out(&g, first, &extras);
    if args.alternatives > 1 {
        out.alternatives = Some(routes.iter().map(|r| route_out(&g, r, &extras)).collect());
    }
    respond(out)
}
