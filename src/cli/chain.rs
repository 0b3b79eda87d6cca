//! `lnkit chain status|mine|broadcast|tx|utxo|fee`: the toolkit's transactions
//! meet a real chain — Bitcoin Core over RPC (`--bitcoind URL`) or the
//! embedded regtest chain on libbitcoinkernel (`--chain-dir DIR`).

use std::path::PathBuf;

use bitcoin::{Address, Network};
use clap::{Args, Subcommand};

use super::chain_tx::{broadcast, fee, tx, utxo};
use super::chain_types::*;
use super::input::{self, Input};
use super::{flag, CliError, Explain, StepResult};
use crate::chain::bitcoind::{BitcoindConfig, RpcAuth};
use crate::chain::embedded::EmbeddedChain;
use crate::chain::{self, AnyChain, Backend, ChainError, DEFAULT_FALLBACK_FEERATE};
use crate::cli::respond;
use crate::tx::commitment::FeeratePerKw;

/// `lnkit chain ...`
#[derive(Args, Debug)]
pub struct ChainArgs {
    #[command(flatten)]
    backend: BackendArgs,
    #[command(subcommand)]
    command: ChainCommand,
}

/// Which chain: `--bitcoind URL` (with its auth) or `--chain-dir DIR`.
#[derive(Args, Debug, Clone, Default)]
pub struct BackendArgs {
    /// Bitcoin Core's RPC, e.g. http://127.0.0.1:18443.
    #[arg(long, value_name = "URL", global = true, conflicts_with = "chain_dir")]
    pub bitcoind: Option<String>,
    /// bitcoind's cookie file (default: ~/.bitcoin/[<network>/].cookie when no user is given).
    #[arg(long, value_name = "FILE", global = true)]
    pub rpc_cookie: Option<PathBuf>,
    /// rpcuser (with --rpc-password).
    #[arg(long, value_name = "USER", global = true, requires = "rpc_password")]
    pub rpc_user: Option<String>,
    /// rpcpassword (with --rpc-user).
    #[arg(long, value_name = "PASSWORD", global = true, requires = "rpc_user")]
    pub rpc_password: Option<String>,
    /// The fee rate to report when bitcoind has no estimate (default 2500).
    #[arg(long, value_name = "SAT_PER_KW", global = true)]
    pub fallback_feerate_per_kw: Option<u32>,
    /// The embedded regtest chain's directory (created on first use).
    #[arg(long, value_name = "DIR", global = true)]
    pub chain_dir: Option<PathBuf>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum ChainCommand {
    /// The best block, the network and the fee estimate.
    Status,
    /// Mine N blocks (default 1) paying their coinbase to --to (regtest).
    Mine(MineArgs),
    /// Broadcast the input's signed_tx_hex or tx_hex (one step's output piped in).
    Broadcast,
    /// A transaction by txid: mempool, confirmed (with confirmations) or unknown.
    Tx(TxArgs),
    /// Whether an output TXID:VOUT is unspent in the best chain, and what it holds.
    Utxo(UtxoArgs),
    /// The fee estimate for --target blocks; on the embedded chain --feerate-per-kw sets it.
    Fee(FeeArgs),
}

/// Flags of `lnkit chain mine`.
#[derive(Args, Debug)]
pub struct MineArgs {
    /// How many blocks (field `blocks`, default 1).
    count: Option<u32>,
    /// The coinbase's address, or a scriptPubKey hex (field `address`).
    #[arg(long)]
    to: Option<String>,
}

/// Flags of `lnkit chain tx`.
#[derive(Args, Debug)]
pub struct TxArgs {
    /// The txid (field `txid`).
    txid: Option<String>,
}

/// Flags of `lnkit chain utxo`.
#[derive(Args, Debug)]
pub struct UtxoArgs {
    /// The output as TXID:VOUT (field `outpoint`, or `txid` and `vout`).
    outpoint: Option<String>,
}

/// Flags of `lnkit chain fee`.
#[derive(Args, Debug)]
pub struct FeeArgs {
    /// Confirmation target in blocks (field `target_blocks`, 1 to 1008, default 6).
    #[arg(long)]
    target: Option<u32>,
    /// Set the embedded chain's fixed rate (field `feerate_per_kw`).
    #[arg(long)]
    feerate_per_kw: Option<u32>,
}

/// The chain's network: field `network` (`--network`), default regtest.
pub(super) fn network(input: &Input) -> Result<Network, CliError> {
    let n: NetworkIn = input.typed()?;
    Ok(n.network.map_or(Network::Regtest, |n| n.0))
}

/// Turn the backend flags into a [`Backend`].
pub fn backend(args: &BackendArgs, network: Network) -> Result<Backend, CliError> {
    match (&args.bitcoind, &args.chain_dir) {
        (Some(url), _) => {
            let auth = match (&args.rpc_user, &args.rpc_password) {
                (Some(user), Some(password)) => RpcAuth::UserPass {
                    user: user.clone(),
                    password: password.clone(),
                },
                _ => match &args.rpc_cookie {
                    Some(path) => RpcAuth::Cookie(path.clone()),
                    None => RpcAuth::default_cookie(network),
                },
            };
            let mut config = BitcoindConfig::new(url.clone(), auth, network);
            config.fallback_feerate = args
                .fallback_feerate_per_kw
                .map(FeeratePerKw)
                .unwrap_or(DEFAULT_FALLBACK_FEERATE);
            Ok(Backend::Bitcoind(config))
        }
        (None, Some(dir)) if network == Network::Regtest => Ok(Backend::Embedded(dir.clone())),
        (None, Some(_)) => Err(CliError::bad(format!(
            "network: the embedded chain (--chain-dir) is regtest only, not {network}"
        ))),
        (None, None) => Err(CliError::bad(
            "chain: give --bitcoind URL (Bitcoin Core's RPC) or --chain-dir DIR (the embedded regtest chain)",
        )),
    }
}

/// A chain failure as the CLI reports it: all are failures of the step
/// (exit 1), as the input itself was fine. A refused transaction is named by
/// the field it came from.
pub fn chain_failed(e: ChainError) -> CliError {
    rejected_at("tx_hex")(e)
}

pub(super) fn rejected_at(field: &str) -> impl Fn(ChainError) -> CliError + '_ {
    move |e| match e {
        ChainError::Rejected { txid, rejection } => CliError::failure(format!(
            "{field}: the chain rejected {txid}: {} ({})",
            rejection.reason,
            rejection.kind.as_str()
        )),
        other => CliError::failure(format!("chain: {other}")),
    }
}

pub(super) fn open(backend: &Backend) -> Result<AnyChain, CliError> {
    chain::open(backend).map_err(chain_failed)
}

/// Run `lnkit chain`.
pub fn run(args: ChainArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    let network = network(input)?;
    let backend = backend(&args.backend, network)?;
    match args.command {
        ChainCommand::Status => status(&backend, network, ex),
        ChainCommand::Mine(m) => {
            flag(input, "blocks", m.count);
            flag(input, "address", m.to);
            mine(&backend, input, network, ex)
        }
        ChainCommand::Broadcast => broadcast(&backend, input, ex),
        ChainCommand::Tx(t) => {
            flag(input, "txid", t.txid);
            tx(&backend, input)
        }
        ChainCommand::Utxo(u) => {
            flag(input, "outpoint", u.outpoint);
            utxo(&backend, input, network)
        }
        ChainCommand::Fee(f) => {
            flag(input, "target_blocks", f.target);
            flag(input, "feerate_per_kw", f.feerate_per_kw);
            fee(&backend, input)
        }
    }
}

/// Open the backend; the embedded chain also says how many transactions wait.
pub(super) fn open_counting_mempool(
    backend: &Backend,
) -> Result<(AnyChain, Option<usize>), CliError> {
    Ok(match backend {
        Backend::Embedded(dir) => {
            let embedded = EmbeddedChain::open(dir).map_err(chain_failed)?;
            let waiting = embedded.mempool().len();
            (Box::new(embedded), Some(waiting))
        }
        other => (open(other)?, None),
    })
}

fn status(backend: &Backend, network: Network, ex: &mut Explain) -> StepResult {
    let (chain, mempool_size) = open_counting_mempool(backend)?;
    let tip = chain.best_block().map_err(chain_failed)?;
    let fee = chain.fee_estimate(6).map_err(chain_failed)?;
    ex.line(format!("best block {tip}"));
    ex.line(format!(
        "fee for 6 blocks: {} sat/kw ({})",
        fee.feerate.0,
        fee.source.as_str()
    ));
    respond(StatusOut {
        backend: BackendOut::of(backend),
        network: network.to_string(),
        height: tip.height,
        best_block_hash: tip.hash.to_string(),
        fee_estimate: FeeOut::of(&fee),
        mempool_size,
    })
}

fn mine(backend: &Backend, input: &Input, network: Network, ex: &mut Explain) -> StepResult {
    let m: MineIn = input.typed()?;
    let count = m.blocks.map_or(1, |n| n.0);
    if count == 0 || count > 10_000 {
        return Err(input.error("blocks", format!("expected 1 to 10000 blocks, got {count}")));
    }
    let script = input.req("address", input::destination(network))?;
    let chain = open(backend)?;
    let hashes = chain.mine(count, &script).map_err(chain_failed)?;
    let tip = chain.best_block().map_err(chain_failed)?;
    ex.line(format!(
        "mined {count} block(s) to {}; the tip is {tip}; a coinbase is spendable 100 blocks after its own",
        script.to_asm_string()
    ));
    let mut blocks = Vec::with_capacity(hashes.len());
    for (i, hash) in hashes.iter().enumerate() {
        let block = chain.block(hash).map_err(chain_failed)?;
        blocks.push(MinedBlock {
            height: tip.height + 1 + i as u32 - count,
            hash: hash.to_string(),
            coinbase_txid: block.txdata[0].compute_txid().to_string(),
        });
    }
    respond(MineOut {
        blocks,
        height: tip.height,
        best_block_hash: tip.hash.to_string(),
        script_pubkey: hex::encode(script.as_bytes()),
        address: Address::from_script(&script, network)
            .ok()
            .map(|a| a.to_string()),
    })
}
