//! `lnkit graph stats --graph FILE`: load a channel graph and count it.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::input::Input;
use super::{CliError, Explain, StepResult};
use crate::graph::import::{self, ImportError};
use crate::graph::Graph;

/// `lnkit graph ...`
#[derive(Subcommand, Debug)]
pub enum GraphCommand {
    /// Node, channel and enabled-direction counts, capacity, components.
    Stats(GraphArgs),
}

/// Flags of `lnkit graph`.
#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The graph file (format detected from its content).
    #[arg(long)]
    pub(crate) graph: PathBuf,
    /// The node map of a GOSSMAP_COMPRESSv1 file (default: `<name>-node-map.xz` beside it).
    #[arg(long)]
    pub(crate) node_map: Option<PathBuf>,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|e| CliError::bad(format!("{what}: cannot read {}: {e}", path.display())))
}

/// Load `--graph` (and its node map) with clear errors naming the flag.
pub(crate) fn load(args: &GraphArgs, ex: &mut Explain) -> Result<Graph, CliError> {
    let start = std::time::Instant::now();
    let bytes = read(&args.graph, "--graph")?;
    let map_path = args.node_map.clone().or_else(|| {
        let name = args
            .graph
            .file_name()?
            .to_str()?
            .strip_suffix(".compressed")?
            .to_string();
        Some(args.graph.with_file_name(format!("{name}-node-map.xz")))
    });
    let map = match map_path.filter(|p| p.exists()) {
        Some(p) => Some(
            import::unxz(&read(&p, "--node-map")?)
                .map_err(|e| CliError::bad(format!("--node-map: {e}")))?,
        ),
        None => None,
    };
    let g = import::load(bytes, map.as_deref()).map_err(|e| match e {
        ImportError::NeedsNodeMap => CliError::bad(format!("--node-map: {e}")),
        other => CliError::bad(format!("--graph: {other}")),
    })?;
    ex.line(format!("loaded in {} ms", start.elapsed().as_millis()));
    Ok(g)
}

/// `graph stats` reads no input fields: only `--graph` (and `--node-map`).
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct StatsIn {}

/// Run `lnkit graph ...`.
pub fn run(cmd: GraphCommand, _input: &mut Input, ex: &mut Explain) -> StepResult {
    let GraphCommand::Stats(args) = cmd;
    let g = load(&args, ex)?;
    Ok(serde_json::to_value(g.stats()).expect("stats serialize"))
}
