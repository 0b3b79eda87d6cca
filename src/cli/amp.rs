//! `lnkit amp-split`: split a payment into parts by min-cost flow, as basic
//! MPP (BOLT 4) or AMP (LND); `--simulate` runs the payment loop against
//! hidden balances. `lnkit amp-combine`: the payee's side of AMP.

use std::io::Write;

use clap::Args;
use serde_json::{json, Value};

use super::graph::GraphArgs;
use super::input::{self, Input};
use super::route::{label, liquidity, node, route_json, scid, weight};
use super::{CliError, Explain, StepResult};
use crate::graph::Graph;
use crate::mpp::{self, amp, simulate, Split, SplitError, SplitRequest};

/// Flags of `lnkit amp-split`.
#[derive(Args, Debug)]
pub struct AmpSplitArgs {
    #[command(flatten)]
    graph: GraphArgs,
    /// Run the payment loop against balances drawn with these seeds (comma-separated).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    simulate: Option<Vec<u64>>,
    /// Rounds the simulated payment may take.
    #[arg(long, default_value_t = 10)]
    max_rounds: usize,
    /// Write the flow as Graphviz DOT instead of JSON.
    #[arg(long)]
    dot: bool,
}

fn request(g: &Graph, input: &Input) -> Result<SplitRequest, CliError> {
    let source = input.req("source", node(g))?;
    let destination = input.req("destination", node(g))?;
    let amount = input.req("amount_msat", input::uint)?;
    if amount == 0 {
        return Err(input.error("amount_msat", "must be above zero"));
    }
    if source == destination {
        return Err(input.error("destination", "is the same node as source"));
    }
    let mut req = SplitRequest::new(source, destination, amount);
    if let Some(v) = input.opt("max_fee_msat", input::uint)? {
        req.max_fee_msat = v;
    }
    if let Some(v) = input.opt("max_parts", input::uint)? {
        if v == 0 {
            return Err(input.error("max_parts", "must be at least 1"));
        }
        req.max_parts = v as usize;
    }
    if let Some(v) = input.opt("min_part_msat", input::uint)? {
        req.min_part_msat = v;
    }
    if let Some(w) = input.opt("probability_weight_msat", weight)? {
        req.probability_weight = w;
    }
    if let Some(v) = input.opt("pieces", input::uint)? {
        if !(1..=64).contains(&v) {
            return Err(input.error("pieces", format!("expected 1 to 64, got {v}")));
        }
        req.pieces = v as usize;
    }
    if let Some(v) = input.opt("final_cltv_expiry_delta", input::uint32)? {
        req.final_cltv_expiry_delta = v;
    }
    if let Some(v) = input.opt("max_total_cltv_expiry_delta", input::uint32)? {
        req.max_total_cltv_expiry_delta = v;
    }
    if let Some(v) = input.opt("max_hops", input::uint)? {
        if v == 0 || v > 27 {
            return Err(input.error("max_hops", format!("expected 1 to 27, got {v}")));
        }
        req.max_hops = v as usize;
    }
    req.liquidity = liquidity(g, input)?;
    Ok(req)
}

fn failure(e: SplitError) -> CliError {
    match e {
        SplitError::ZeroAmount | SplitError::ZeroParts | SplitError::SameNode => {
            CliError::bad(format!("amp-split: {e}"))
        }
        other => CliError::failure(other.to_string()),
    }
}

fn random32() -> [u8; 32] {
    bitcoin::secp256k1::rand::random()
}

/// The parts as JSON, with the MPP or AMP fields in every final payload.
fn parts_json(g: &Graph, s: &Split, input: &Input, mode: &str) -> Result<Value, CliError> {
    let height = input
        .opt("current_block_height", input::uint32)?
        .unwrap_or(0);
    let total: u64 = s
        .parts
        .iter()
        .map(|r| r.hops.last().expect("a hop").amount_msat)
        .sum();
    let secret = match input.opt("payment_secret", input::bytes32)? {
        Some(b) => b,
        None => random32(),
    };
    let mut base = input.clone();
    base.set("payment_secret", json!(super::hex(secret)));
    base.set("total_msat", json!(total));
    let mut out = json!({"mode": mode, "payment_secret": super::hex(secret)});
    let mut children = vec![];
    if mode == "amp" {
        let root = input
            .opt("root_seed", input::bytes32)?
            .unwrap_or_else(random32);
        let set_id = input
            .opt("set_id", input::bytes32)?
            .unwrap_or_else(random32);
        let given: Vec<[u8; 32]> = match input.raw("shares") {
            None => (1..s.parts.len()).map(|_| random32()).collect(),
            Some(_) => super::route::list(input, "shares", input::bytes32)?,
        };
        if given.len() + 1 != s.parts.len() {
            return Err(input.error(
                "shares",
                format!(
                    "expected {} random shares for {} parts (the last is derived)",
                    s.parts.len() - 1,
                    s.parts.len()
                ),
            ));
        }
        let shares = amp::split_root(&root, &given);
        for (i, share) in shares.into_iter().enumerate() {
            children.push(amp::child(&root, share, i as u32));
        }
        out["root_seed"] = json!(super::hex(root));
        out["set_id"] = json!(super::hex(set_id));
        out["parts"] = Value::Array(
            s.parts
                .iter()
                .zip(&children)
                .map(|(r, c)| {
                    let mut part_in = base.clone();
                    part_in.set("payment_hash", json!(super::hex(c.hash)));
                    let mut v = route_json(g, r, height, &part_in);
                    let last = v["onion_create"]["hops"]
                        .as_array_mut()
                        .and_then(|h| h.last_mut())
                        .expect("a hop");
                    last["custom_tlvs"] = json!({
                        amp::AMP_RECORD_TYPE.to_string(): super::hex(amp::record(&c.share, &set_id, c.index))
                    });
                    v["amount_msat"] = json!(r.hops.last().expect("a hop").amount_msat);
                    v["share"] = json!(super::hex(c.share));
                    v["child_index"] = json!(c.index);
                    v["child_preimage"] = json!(super::hex(c.preimage));
                    v["child_hash"] = json!(super::hex(c.hash));
                    v
                })
                .collect(),
        );
    } else {
        out["parts"] = Value::Array(
            s.parts
                .iter()
                .map(|r| {
                    let mut v = route_json(g, r, height, &base);
                    v["amount_msat"] = json!(r.hops.last().expect("a hop").amount_msat);
                    v
                })
                .collect(),
        );
    }
    out["amount_msat"] = json!(total);
    out["total_fee_msat"] = json!(s.fee_msat);
    out["flow_fee_estimate_msat"] = json!(s.flow_fee_estimate_msat);
    out["success_probability"] = json!(s.probability);
    out["solver"] = json!({
        "time_us": s.solver.time_us,
        "nodes": s.solver.nodes,
        "arcs": s.solver.arcs,
        "pieces": s.solver.pieces,
        "unit_msat": s.solver.unit_msat,
        "augmentations": s.solver.augmentations,
        "probability_weight_msat": s.solver.probability_weight,
    });
    Ok(out)
}

/// DOT of the flow: each used channel direction with its total amount.
fn dot(g: &Graph, source: u32, s: &Split) -> String {
    let mut load: std::collections::BTreeMap<(u32, u32, u32), (u64, usize)> = Default::default();
    for r in &s.parts {
        let mut from = source;
        for h in &r.hops {
            let e = load.entry((from, h.node, h.direction)).or_insert((0, 0));
            e.0 += h.amount_msat;
            e.1 += 1;
            from = h.node;
        }
    }
    let mut nodes: Vec<u32> = load.keys().flat_map(|k| [k.0, k.1]).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let mut out = String::from("digraph flow {\n  rankdir=LR;\n  node [shape=box];\n");
    for n in nodes {
        out += &format!("  n{n} [label=\"{}\"];\n", label(g, n));
    }
    for ((a, b, d), (amt, parts)) in load {
        let sc = scid(g, d);
        out += &format!(
            "  n{a} -> n{b} [label=\"{}\\n{amt} msat\\n{parts} part(s)\", penwidth={:.1}];\n",
            sc.as_str().unwrap_or("?"),
            1.0 + 4.0 * amt as f64
                / s.parts.iter().map(|r| r.total_amount_msat).sum::<u64>() as f64
        );
    }
    out + "}\n"
}

/// Run `lnkit amp-split`.
pub fn run_split(args: AmpSplitArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    let g = super::graph::load(&args.graph, ex)?;
    let req = request(&g, input)?;
    let mode = input
        .opt("mode", input::one_of(&["mpp", "amp"]))?
        .unwrap_or("mpp");
    if let Some(seeds) = args.simulate {
        let seeds = if seeds.is_empty() { vec![1] } else { seeds };
        let runs: Vec<Value> = seeds
            .iter()
            .map(|&seed| {
                let mut hidden = simulate::draw_balances(&g, seed);
                let o = simulate::simulate(&g, &req, &mut hidden, args.max_rounds);
                json!({
                    "seed": seed,
                    "success": o.success,
                    "rounds": o.rounds,
                    "parts_tried": o.parts_tried,
                    "parts_failed": o.parts_failed,
                    "fee_paid_msat": o.fee_paid_msat,
                    "delivered_msat": o.delivered_msat,
                    "solve_us": o.solve_us,
                    "stopped": o.stopped,
                })
            })
            .collect();
        let ok = runs.iter().filter(|r| r["success"] == true).count();
        ex.line(format!("{ok} of {} simulated payments arrived", runs.len()));
        return Ok(json!({
            "amount_msat": req.amount_msat,
            "success_rate": ok as f64 / runs.len() as f64,
            "runs": runs,
        }));
    }
    let s = mpp::split(&g, &req).map_err(failure)?;
    ex.line(format!(
        "min-cost flow: unit {} msat, {} pieces per direction, {} directions kept on {} nodes, {} augmentations, {} µs",
        s.solver.unit_msat, s.solver.pieces, s.solver.arcs, s.solver.nodes, s.solver.augmentations, s.solver.time_us
    ));
    ex.line(format!(
        "{} parts; fees {} msat (flow estimate {} msat); joint success probability {:.4}",
        s.parts.len(),
        s.fee_msat,
        s.flow_fee_estimate_msat,
        s.probability
    ));
    if args.dot {
        let _ = std::io::stdout()
            .lock()
            .write_all(dot(&g, req.source, &s).as_bytes());
        return Ok(Value::Null);
    }
    parts_json(&g, &s, input, mode)
}
