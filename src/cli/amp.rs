//! `lnkit amp-split`: split a payment into parts by min-cost flow, as basic
//! MPP (BOLT 4) or AMP (LND); `--simulate` runs the payment loop against
//! hidden balances. `lnkit amp-combine`: the payee's side of AMP.

use std::io::Write;

use clap::Args;
use serde_json::{json, Value};

use super::amp_types::*;
use super::graph::GraphArgs;
use super::input::Input;
use super::route::{label, liquidity, onion_extras, resolve_node, route_out, scid, OnionIn};
use super::{CliError, Explain, StepResult};
use crate::cli::respond;
use crate::graph::Graph;
use crate::mpp::{self, amp, simulate, Split, SplitError, SplitRequest};
use crate::route::Route;

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

fn request(g: &Graph, input: &Input, r: &SplitIn) -> Result<SplitRequest, CliError> {
    let source = resolve_node(g, input, "source", &r.source)?;
    let destination = resolve_node(g, input, "destination", &r.destination)?;
    let amount = r.amount_msat.0;
    if amount == 0 {
        return Err(input.error("amount_msat", "must be above zero"));
    }
    if source == destination {
        return Err(input.error("destination", "is the same node as source"));
    }
    let mut req = SplitRequest::new(source, destination, amount);
    if let Some(v) = &r.max_fee_msat {
        req.max_fee_msat = v.0;
    }
    if let Some(v) = r.max_parts.as_ref().map(|v| v.0) {
        if v == 0 {
            return Err(input.error("max_parts", "must be at least 1"));
        }
        req.max_parts = v as usize;
    }
    if let Some(v) = &r.min_part_msat {
        req.min_part_msat = v.0;
    }
    if let Some(w) = r.probability_weight_msat {
        req.probability_weight = w.0;
    }
    if let Some(v) = r.pieces.as_ref().map(|v| v.0) {
        if !(1..=64).contains(&v) {
            return Err(input.error("pieces", format!("expected 1 to 64, got {v}")));
        }
        req.pieces = v as usize;
    }
    if let Some(v) = &r.final_cltv_expiry_delta {
        req.final_cltv_expiry_delta = v.0;
    }
    if let Some(v) = &r.max_total_cltv_expiry_delta {
        req.max_total_cltv_expiry_delta = v.0;
    }
    if let Some(v) = r.max_hops.as_ref().map(|v| v.0) {
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
fn parts_out(g: &Graph, s: &Split, input: &Input, r: &SplitIn) -> Result<SplitOut, CliError> {
    let onion: OnionIn = input.typed()?;
    let total: u64 = s
        .parts
        .iter()
        .map(|r| r.hops.last().expect("a hop").amount_msat)
        .sum();
    let secret = onion.payment_secret.as_ref().map_or_else(random32, |s| s.0);
    let mut base = onion_extras(&onion);
    base.payment_secret = Some(super::hex(secret));
    base.total_msat = Some(total);
    let delivered = |r: &Route| r.hops.last().expect("a hop").amount_msat;
    let amp_mode = r.mode == Some(Mode::Amp);
    let (mut root_seed, mut set_id_out) = (None, None);
    let parts = if amp_mode {
        let root = r.root_seed.as_ref().map_or_else(random32, |h| h.0);
        let set_id = r.set_id.as_ref().map_or_else(random32, |h| h.0);
        let given: Vec<[u8; 32]> = match &r.shares {
            None => (1..s.parts.len()).map(|_| random32()).collect(),
            Some(shares) => shares.iter().map(|h| h.0).collect(),
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
        root_seed = Some(super::hex(root));
        set_id_out = Some(super::hex(set_id));
        let shares = amp::split_root(&root, &given);
        s.parts
            .iter()
            .zip(shares)
            .enumerate()
            .map(|(i, (route, share))| {
                let c = amp::child(&root, share, i as u32);
                let mut extras = base.clone();
                extras.payment_hash = Some(super::hex(c.hash));
                let mut out = route_out(g, route, &extras);
                let last = out.onion_create.hops.last_mut().expect("a hop");
                let mut tlvs = serde_json::Map::new();
                tlvs.insert(
                    amp::AMP_RECORD_TYPE.to_string(),
                    json!(super::hex(amp::record(&c.share, &set_id, c.index))),
                );
                last.custom_tlvs = Some(tlvs);
                PartOut {
                    route: out,
                    amount_msat: delivered(route),
                    share: Some(super::hex(c.share)),
                    child_index: Some(c.index),
                    child_preimage: Some(super::hex(c.preimage)),
                    child_hash: Some(super::hex(c.hash)),
                }
            })
            .collect()
    } else {
        s.parts
            .iter()
            .map(|route| PartOut {
                route: route_out(g, route, &base),
                amount_msat: delivered(route),
                share: None,
                child_index: None,
                child_preimage: None,
                child_hash: None,
            })
            .collect()
    };
    Ok(SplitOut {
        mode: if amp_mode { "amp" } else { "mpp" },
        payment_secret: super::hex(secret),
        root_seed,
        set_id: set_id_out,
        parts,
        amount_msat: total,
        total_fee_msat: s.fee_msat,
        flow_fee_estimate_msat: s.flow_fee_estimate_msat,
        success_probability: s.probability,
        solver: s.solver.clone(),
    })
}

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
            sc.as_deref().unwrap_or("?"),
            1.0 + 4.0 * amt as f64
                / s.parts.iter().map(|r| r.total_amount_msat).sum::<u64>() as f64
        );
    }
    out + "}\n"
}

/// Run `lnkit amp-split`.
pub fn run_split(args: AmpSplitArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    let g = super::graph::load(&args.graph, ex)?;
    let r: SplitIn = input.typed()?;
    let req = request(&g, input, &r)?;
    if let Some(seeds) = args.simulate {
        let seeds = if seeds.is_empty() { vec![1] } else { seeds };
        let runs: Vec<RunOut> = seeds
            .iter()
            .map(|&seed| {
                let mut hidden = simulate::draw_balances(&g, seed);
                let o = simulate::simulate(&g, &req, &mut hidden, args.max_rounds);
                RunOut { seed, outcome: o }
            })
            .collect();
        let ok = runs.iter().filter(|r| r.outcome.success).count();
        ex.line(format!("{ok} of {} simulated payments arrived", runs.len()));
        return respond(AmpSplitOut::Simulation(SimulationOut {
            amount_msat: req.amount_msat,
            success_rate: ok as f64 / runs.len() as f64,
            runs,
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
    respond(AmpSplitOut::Split(parts_out(&g, &s, input, &r)?))
}
