//! The command line: the CLI contract of DESIGN.md, implemented once.
//!
//! - Input: one JSON object from `--input FILE` (`-` for stdin) or standard
//!   input when it is not a terminal; `--set field=value` and the named flags
//!   set or override single fields. Unknown fields are ignored, so the output
//!   of one step pipes into the next.
//! - Output: one JSON object on stdout, pretty or `--compact`, written only
//!   once the step has succeeded.
//! - `--explain` writes a human-readable trace of the derivation to stderr.
//! - Errors: `error: <field>: <what was expected>` on stderr; exit code 2 for
//!   bad input, 1 for a failure of the step itself.
//!
//! Each step reads its input as typed request parts, calls the library and
//! prints a response struct: glue. `registry.rs` lists every step's types.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

pub mod amp;
pub mod amp_combine;
pub mod amp_types;
pub mod blinded_path;
pub mod build_commitment;
pub mod build_funding;
pub mod bump;
mod carried;
pub mod chain;
mod chain_tx;
pub mod chain_types;
pub mod channel;
pub mod channel_fields;
pub mod close;
pub mod close_types;
pub mod commitment_types;
pub mod connect;
mod contract;
pub mod factory;
mod factory_walk;
pub mod factory_walkthrough;
pub use crate::fields as field;
pub mod gossip;
pub mod gossip_types;
pub mod graph;
pub mod graph_fields;
pub mod htlc_script;
pub mod input;
pub mod invoice;
pub mod invoice_types;
pub mod keys;
pub mod node;
pub mod node_demo;
mod node_demo_force;
mod node_demo_harness;
mod node_run;
pub mod onion;
pub mod onion_error;
pub mod onion_failure;
pub use crate::fields::parse;
pub mod penalty;
pub mod rebalance;
mod registry;
pub mod revoke;
pub mod route;
pub mod route_types;
pub mod shachain;
pub mod shell;
pub mod step;
pub mod swap;
mod swap_walk;
pub mod swap_walkthrough;
pub mod tlv;
mod tlv_fields;
pub mod tower;
mod tower_run;
pub mod tower_types;
mod tower_watch;
pub mod transport;
pub mod transport_types;
mod walk;
pub mod walkthrough;
mod walkthrough_commitments;
mod wallet_input;
pub mod wire;
mod wire_json;

pub(crate) use contract::{flag, hex, respond};
pub use contract::{CliError, Explain, StepResult};
pub use input::Input;

/// Flags every subcommand takes.
#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// Read the input JSON object from FILE ('-' for standard input). Repeat it
    /// to merge several objects, later fields overriding earlier ones. Without
    /// it, standard input is read when it is not a terminal.
    #[arg(long, short = 'i', value_name = "FILE", global = true)]
    pub input: Vec<PathBuf>,
    /// Set or override one input field; VALUE is parsed as JSON, or taken as a string.
    #[arg(long = "set", value_name = "FIELD=VALUE", global = true)]
    pub set: Vec<String>,
    /// Print the output JSON on one line.
    #[arg(long, global = true)]
    pub compact: bool,
    /// Write a human-readable trace of the derivation to stderr.
    #[arg(long, global = true)]
    pub explain: bool,
    /// Network for addresses shown and read: bitcoin, testnet, signet or regtest (sets field `network`).
    #[arg(long, value_name = "NETWORK", global = true)]
    pub network: Option<String>,
}

/// lnkit: every step of the Lightning Network protocol as a subcommand that
/// reads JSON and writes JSON, so steps can be run, inspected and piped.
#[derive(Parser, Debug)]
#[command(name = "lnkit", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// BOLT 3 key derivation for one commitment.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// BOLT 3 per-commitment secrets: generate from a seed, store compactly, look up.
    #[command(subcommand)]
    Shachain(shachain::ShachainCommand),
    /// Revoke a commitment: the secret and next point that revoke_and_ack carries.
    Revoke(revoke::RevokeArgs),
    /// BOLT 3 HTLC output scripts, and the swap hashlock/timelock contract.
    HtlcScript(htlc_script::HtlcScriptArgs),
    /// The 2-of-2 funding output and the funding transaction (BOLT 3 Appendix B).
    BuildFunding(build_funding::BuildFundingArgs),
    /// A commitment transaction and its HTLC transactions (BOLT 3).
    BuildCommitment(build_commitment::BuildCommitmentArgs),
    /// Pay what an anchors channel leaves unpaid: fee inputs for an HTLC transaction, a CPFP child through the anchor.
    Bump(bump::BumpArgs),
    /// The justice transaction sweeping a revoked commitment (BOLT 5).
    Penalty(penalty::PenaltyArgs),
    /// Close a channel: --mutual (closing_signed) or --sweep after a unilateral close.
    Close(close::CloseArgs),
    /// BOLT 1 TLV streams as JSON and back.
    #[command(subcommand)]
    Tlv(tlv::TlvCommand),
    /// Build a BOLT 4 onion for a route.
    OnionCreate(onion::OnionArgs),
    /// Peel one layer of an onion as the hop that holds node_privkey.
    OnionPeel(onion::OnionArgs),
    /// BOLT 4 failure onions: create at the failing hop, wrap at each hop back, decode at the origin.
    #[command(subcommand)]
    OnionError(onion_error::OnionErrorCommand),
    /// BOLT 4 route blinding: build a blinded path.
    #[command(subcommand)]
    BlindedPath(blinded_path::BlindedPathCommand),
    /// The channel graph: load a snapshot and count it.
    #[command(subcommand)]
    Graph(graph::GraphCommand),
    /// Find a payment route through a channel graph (and the onion-create input for it).
    Route(route::RouteArgs),
    /// Circular rebalancing: the cycle out on one channel and back on another, and its cost.
    #[command(subcommand)]
    Rebalance(rebalance::RebalanceCommand),
    /// Split a payment into parts by min-cost flow (MPP or AMP); --simulate the payment loop.
    AmpSplit(amp::AmpSplitArgs),
    /// The payee's side of AMP: XOR the shares to the root, check every child hash.
    AmpCombine,
    /// Submarine, reverse and cross-chain swaps: create, lockup, claim, refund, verify.
    #[command(subcommand)]
    Swap(swap::SwapCommand),
    /// BOLT 11 invoices: decode and create.
    #[command(subcommand)]
    Invoice(invoice::InvoiceCommand),
    /// BOLT 7 gossip: sign and verify announcements and updates.
    #[command(subcommand)]
    Gossip(gossip::GossipCommand),
    /// BOLT 8 Noise_XK, one act at a time, and message encryption.
    #[command(subcommand)]
    Transport(transport::TransportCommand),
    /// Lightning messages (BOLT 1, 2, 7) as JSON and back; connect to a node.
    #[command(subcommand)]
    Wire(wire::WireCommand),
    /// The watchtower (BOLT 13 draft, teos's format): appointment, decrypt, watch.
    #[command(subcommand)]
    Tower(tower::TowerCommand),
    /// Channel factories: create the hook, allocate channels off chain, update, close cooperatively, or exit alone.
    #[command(subcommand)]
    Factory(factory::FactoryCommand),
    /// Meet a chain: bitcoind over RPC (--bitcoind) or the embedded regtest chain (--chain-dir).
    Chain(chain::ChainArgs),
    /// The node: init, run, and its methods (getinfo, connect, fundchannel, pay, ...) over its control socket.
    Node(node::NodeArgs),
    /// Print shell completions for bash, zsh or fish (install: see the README).
    Completions(shell::CompletionsArgs),
    /// Write the man pages (lnkit.1 and one per subcommand) into DIR.
    Manpage(shell::ManpageArgs),
    /// Print a subcommand's input and output JSON Schemas: `lnkit schema swap create`, `lnkit schema node pay`.
    Schema(step::SchemaArgs),
    /// Walk through a channel's life (or, with --swap, a reverse and a submarine swap; with --factory, a channel factory on the embedded chain) with fixed demo keys, every step shown and checked.
    Walkthrough(walkthrough::WalkthroughArgs),
}

fn run(cli: Cli) -> Result<(Value, bool), CliError> {
    // `node run` and `tower run` are servers and `node init`/`schema` take flags only: they never wait on stdin.
    let wants_input = !matches!(
        cli.command,
        Command::Walkthrough(_)
            | Command::Graph(_)
            | Command::Completions(_)
            | Command::Manpage(_)
            | Command::Schema(_)
    ) && !matches!(&cli.command, Command::Node(n) if !n.is_method())
        && !matches!(&cli.command, Command::Tower(tower::TowerCommand::Run(_)));
    let mut input = contract::read_input(&cli.common, wants_input)?;
    let mut explain = Explain::new(cli.common.explain);
    let ex = &mut explain;
    let output = match cli.command {
        Command::Keys(cmd) => keys::run(cmd, &mut input, ex),
        Command::Shachain(cmd) => shachain::run(cmd, &mut input, ex),
        Command::Revoke(args) => revoke::run(args, &mut input, ex),
        Command::HtlcScript(args) => htlc_script::run(args, &mut input, ex),
        Command::BuildFunding(args) => build_funding::run(args, &mut input, ex),
        Command::BuildCommitment(args) => build_commitment::run(args, &mut input, ex),
        Command::Bump(args) => bump::run(args, &mut input, ex),
        Command::Penalty(args) => penalty::run(args, &mut input, ex),
        Command::Close(args) => close::run(args, &mut input, ex),
        Command::Tlv(cmd) => tlv::run(cmd, &mut input, ex),
        Command::OnionCreate(args) => onion::run_create(args, &mut input, ex),
        Command::OnionPeel(args) => onion::run_peel(args, &mut input, ex),
        Command::OnionError(cmd) => onion_error::run(cmd, &mut input, ex),
        Command::BlindedPath(cmd) => blinded_path::run(cmd, &mut input, ex),
        Command::Gossip(cmd) => gossip::run(cmd, &mut input, ex),
        Command::Graph(cmd) => graph::run(cmd, &mut input, ex),
        Command::Route(args) => route::run(args, &mut input, ex),
        Command::Rebalance(cmd) => rebalance::run(cmd, &mut input, ex),
        Command::AmpSplit(args) => amp::run_split(args, &mut input, ex),
        Command::AmpCombine => amp_combine::run_combine(&mut input, ex),
        Command::Invoice(cmd) => invoice::run(cmd, &mut input, ex),
        Command::Swap(cmd) => swap::run(cmd, &mut input, ex),
        Command::Transport(cmd) => transport::run(cmd, &mut input, ex),
        Command::Wire(cmd) => wire::run(cmd, &mut input, ex),
        Command::Tower(cmd) => tower::run(cmd, &mut input, ex),
        Command::Factory(cmd) => factory::run(cmd, &mut input, ex),
        Command::Chain(args) => chain::run(args, &mut input, ex),
        Command::Node(args) => node::run(args, &mut input, ex),
        Command::Completions(args) => shell::completions(&args),
        Command::Manpage(args) => shell::manpage(&args),
        Command::Schema(args) => step::run(&args),
        Command::Walkthrough(args) if args.swap => swap_walkthrough::run(&input, ex),
        Command::Walkthrough(args) if args.factory => factory_walkthrough::run(&input, ex),
        Command::Walkthrough(_) => walkthrough::run(&input, ex),
    }?;
    Ok((output, cli.common.compact))
}

/// Run the command line; returns the process exit code.
pub fn main() -> i32 {
    // The parser with each typed step's fields and example in its --help.
    let parsed = step::command()
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return e.exit_code();
        }
    };
    match run(cli) {
        // A streaming step (wire connect) has already written its JSON lines.
        Ok((Value::Null, _)) => 0,
        Ok((value, compact)) => {
            let text = if compact {
                serde_json::to_string(&value)
            } else {
                serde_json::to_string_pretty(&value)
            }
            .expect("a serde_json::Value always serializes");
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`lnkit ... | head`) is not an error worth a message.
            let _ = writeln!(stdout, "{text}");
            0
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", e.message());
            e.exit_code()
        }
    }
}
