//! `lnkit rebalance plan --graph FILE`: the node's cycle search as a pure
//! step on a graph snapshot — leave on `out`, come back on `in`, and what it
//! costs against what `in` earns back (the library's [`crate::rebalance`]).

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::graph::GraphArgs;
use super::input::{self, Input, Parsed};
use super::route::{directions, liquidity, node, route_json};
use super::{CliError, Explain, StepResult};
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
fn channel(g: &Graph) -> impl Fn(&Value) -> Parsed<usize> + '_ {
    move |v| {
        if v.as_str().is_some_and(|s| s.contains('/')) {
            return Err("expected a channel, without a /DIR".into());
        }
        Ok((directions(g)(v)?[0] / 2) as usize)
    }
}

/// `lnkit rebalance plan` on a loaded graph.
pub fn plan(g: &Graph, input: &Input, ex: &mut Explain) -> StepResult {
    let me = input.req("node", node(g))?;
    let out = input.req("out", channel(g))?;
    let inn = input.req("in", channel(g))?;
    let amount = input.req("amount_msat", input::uint)?;
    let force = input.opt("force", input::boolean)?.unwrap_or(false);
    let ppm = input.opt("max_fee_ppm", input::uint)?;
    let name = |f: &str| {
        input
            .raw(f)
            .map(|v| v.as_str().map_or(v.to_string(), String::from))
            .unwrap_or_default()
    };
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
        final_cltv_expiry_delta: input
            .opt("final_cltv_expiry_delta", input::uint32)?
            .unwrap_or(18),
        liquidity: liquidity(g, input)?,
        avoid_directions: Default::default(),
        max_fee_why: why,
    };
    let route =
        rebalance::find_cycle(g, &req, [&name("out"), &name("in")]).map_err(|e| match e {
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
    let height = input
        .opt("current_block_height", input::uint32)?
        .unwrap_or(0);
    let mut out_json = route_json(g, &route, height, input);
    if let Value::Object(o) = &mut out_json {
        o.insert("amount_msat".into(), json!(amount));
        o.insert(
            "fee_ppm".into(),
            json!(rebalance::fee_ppm(route.total_fee_msat, amount)),
        );
        o.insert("earn_back_msat".into(), json!(earn_back));
        o.insert("economic".into(), json!(route.total_fee_msat <= earn_back));
    }
    Ok(out_json)
}
