//! `lnkit rebalance plan --graph FILE`: the node's cycle search as a pure
//! step on a graph snapshot — leave on `out`, come back on `in`, and what it
//! costs against what `in` earns back (the library's [`crate::rebalance`]).

use clap::{Args, Subcommand};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field::{Flag, Uint, Uint32};
use super::graph::GraphArgs;
use super::graph_fields::{ChannelRef, NodeRef};
use super::input::Input;
use super::route::{liquidity, onion_extras, resolve_directions, resolve_node, route_out, OnionIn};
use super::route_types::RouteOut;
use super::{CliError, Explain, StepResult};
use crate::cli::respond;
use crate::graph::Graph;
use crate::rebalance::{self, CycleError, CycleRequest};

/// `lnkit rebalance ...`
#[derive(Subcommand, Debug)]
pub enum RebalanceCommand {
    /// The cheapest cycle from our node out on one channel and back on another, over a graph snapshot, and its cost.
    Plan(PlanArgs),
}

/// Flags of `lnkit rebalance plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    graph: GraphArgs,
}

/// Run `lnkit rebalance ...`.
pub fn run(cmd: RebalanceCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    match cmd {
        RebalanceCommand::Plan(args) => {
            let g = super::graph::load(&args.graph, ex)?;
            plan(&g, input, ex)
        }
    }
}

/// One channel by its short channel id (or index): its index in the graph.
/// `rebalance plan`'s request.
#[derive(Deserialize, JsonSchema)]
pub struct PlanIn {
    /// Our node.
    node: NodeRef,
    /// The channel to move liquidity out of (no /DIR).
    out: ChannelRef,
    /// The channel it comes back in through.
    #[serde(rename = "in")]
    inn: ChannelRef,
    /// How much to move.
    amount_msat: Uint,
    /// Pay more than `in` earns back (default false).
    force: Option<Flag>,
    /// The fee limit in ppm of amount_msat.
    max_fee_ppm: Option<Uint>,
    /// Default 18.
    final_cltv_expiry_delta: Option<Uint32>,
}

/// The cycle, and whether it pays for itself.
#[derive(Serialize, JsonSchema)]
pub struct PlanOut {
    #[serde(flatten)]
    route: RouteOut,
    amount_msat: u64,
    fee_ppm: u64,
    /// What `in` earns back at our own fee.
    earn_back_msat: u64,
    /// Whether the fee is at most what `in` earns back.
    economic: bool,
}

fn channel(g: &Graph, input: &Input, field: &str, r: &ChannelRef) -> Result<usize, CliError> {
    if r.0.as_str().is_some_and(|s| s.contains('/')) {
        return Err(input.error(field, "expected a channel, without a /DIR"));
    }
    Ok((resolve_directions(g, input, field, r)?[0] / 2) as usize)
}

pub fn plan(g: &Graph, input: &Input, ex: &mut Explain) -> StepResult {
    let p: PlanIn = input.typed()?;
    let me = resolve_node(g, input, "node", &p.node)?;
    let out = channel(g, input, "out", &p.out)?;
    let inn = channel(g, input, "in", &p.inn)?;
    let amount = p.amount_msat.0;
    let force = p.force.is_some_and(|f| f.0);
    let ppm = p.max_fee_ppm.map(|p| p.0);
    let name = |r: &ChannelRef| r.0.as_str().map_or(r.0.to_string(), String::from);
    // What `in` earns back: our own policy on it, as the snapshot has it.
    let in_dir = rebalance::direction_from(g, inn, me);
    let earn_back = rebalance::earn_back_msat(&g.policies[in_dir as usize], amount);
    let (limit, why) = rebalance::fee_limit(amount, earn_back, ppm, force, None);
    let req = CycleRequest {
        me,
        out_channel: out,
        in_channel: inn,
        amount_msat: amount,
        max_fee_msat: limit,
        final_cltv_expiry_delta: p.final_cltv_expiry_delta.map_or(18, |d| d.0),
        liquidity: liquidity(g, input)?,
        avoid_directions: Default::default(),
        max_fee_why: why,
    };
    let route =
        rebalance::find_cycle(g, &req, [&name(&p.out), &name(&p.inn)]).map_err(|e| match e {
            CycleError::SameChannel => input.error(
                "in",
                "the same channel as out; a rebalance moves liquidity between two channels",
            ),
            CycleError::NotOurs { field, channel } => input.error(
                field,
                format!("channel {channel} is not one of node's channels"),
            ),
            CycleError::ZeroAmount => input.error("amount_msat", "must be above zero"),
            CycleError::TooDear { ref why, .. } if why.starts_with("max_fee_ppm") => {
                input.error("max_fee_ppm", e)
            }
            CycleError::TooDear { .. } => input.error("in", e),
            CycleError::NoCycle { .. } => CliError::failure(format!("rebalance plan: {e}")),
        })?;
    ex.line(format!(
        "cycle: {} hops, {} msat in fees ({} ppm); in earns back {earn_back} msat at its own fee",
        route.hops.len(),
        route.total_fee_msat,
        rebalance::fee_ppm(route.total_fee_msat, amount)
    ));
    let extras = onion_extras(&input.typed::<OnionIn>()?);
    let fee_ppm = rebalance::fee_ppm(route.total_fee_msat, amount);
    respond(PlanOut {
        route: route_out(g, &route, &extras),
        amount_msat: amount,
        fee_ppm,
        earn_back_msat: earn_back,
        economic: route.total_fee_msat <= earn_back,
    })
}
