//! `lnkit chain broadcast|tx|utxo|fee`: transactions and outputs on the chain.

use crate::cli::respond;
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Address, Network, OutPoint, Transaction};

use super::chain::*;
use super::chain_types::*;
use super::input::Input;
use super::{CliError, Explain, StepResult};
use crate::chain::embedded::EmbeddedChain;
use crate::chain::{Backend, ChainSource, TxStatus};
use crate::tx::commitment::FeeratePerKw;

/// The transactions a step's output carries, by the field names the
/// toolkit's steps use: a signed one beside its unsigned twin first, then a
/// plain `tx_hex`, then the nested ones of `penalty` (`penalty_txs`, in
/// order) and `close --sweep` (`sweep_tx`).
fn transactions_of(input: &Input) -> Result<Vec<(String, Transaction)>, CliError> {
    let b: BroadcastIn = input.typed()?;
    if let Some(t) = b.signed_tx_hex {
        return Ok(vec![(input.path("signed_tx_hex"), t.0)]);
    }
    if let Some(t) = b.tx_hex {
        return Ok(vec![(input.path("tx_hex"), t.0)]);
    }
    if let Some(txs) = b.penalty_txs {
        let at = input.path("penalty_txs");
        return Ok(txs
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("{at}[{i}].tx_hex"), t.tx_hex.0))
            .collect());
    }
    if let Some(t) = b.sweep_tx {
        return Ok(vec![(input.path("sweep_tx.tx_hex"), t.tx_hex.0)]);
    }
    Err(input.error(
        "tx_hex",
        "missing required field (or signed_tx_hex, penalty_txs, sweep_tx)",
    ))
}

pub(super) fn broadcast(backend: &Backend, input: &Input, ex: &mut Explain) -> StepResult {
    let txs = transactions_of(input)?;
    let chain = open(backend)?;
    let mut txids = Vec::with_capacity(txs.len());
    for (field, tx) in &txs {
        let txid = chain.broadcast(tx).map_err(rejected_at(field))?;
        ex.line(format!(
            "{txid} accepted into the mempool ({} vbytes); it confirms in the next block mined",
            tx.vsize()
        ));
        txids.push(txid.to_string());
    }
    let one = (txids.len() == 1).then(|| txids[0].clone());
    respond(BroadcastOut {
        txids: one.is_none().then_some(txids),
        txid: one,
        accepted: true,
    })
}

pub(super) fn tx(backend: &Backend, input: &Input) -> StepResult {
    let txid = input.typed::<TxIn>()?.txid.0;
    let chain = open(backend)?;
    let info = chain.transaction(&txid).map_err(chain_failed)?;
    let mut out = TxOut {
        txid: txid.to_string(),
        tx_hex: None,
        status: "unknown",
        block_hash: None,
        block_height: None,
        confirmations: None,
    };
    if let Some(info) = info {
        out.tx_hex = Some(serialize_hex(&info.tx));
        match info.status {
            TxStatus::Mempool => out.status = "mempool",
            TxStatus::Confirmed {
                block,
                confirmations,
            } => {
                out.status = "confirmed";
                out.block_hash = Some(block.hash.to_string());
                out.block_height = Some(block.height);
                out.confirmations = Some(confirmations);
            }
        }
    }
    respond(out)
}

fn outpoint(input: &Input) -> Result<OutPoint, CliError> {
    let u: UtxoIn = input.typed()?;
    if u.outpoint.is_some() {
        return input.req("outpoint", |v| {
            let s = v.as_str().unwrap_or_default();
            s.parse::<OutPoint>()
                .map_err(|e| format!("expected TXID:VOUT, got {v} ({e})"))
        });
    }
    let txid = u
        .txid
        .ok_or_else(|| input.error("txid", "missing required field (or outpoint)"))?;
    let vout = u
        .vout
        .ok_or_else(|| input.error("vout", "missing required field"))?;
    Ok(OutPoint::new(txid.0, vout.0))
}

pub(super) fn utxo(backend: &Backend, input: &Input, network: Network) -> StepResult {
    let op = outpoint(input)?;
    let chain = open(backend)?;
    let found = chain.utxo(&op).map_err(chain_failed)?;
    let tip = chain.best_block().map_err(chain_failed)?;
    respond(UtxoOut {
        outpoint: op.to_string(),
        unspent: found.is_some(),
        found: found.map(|u| Unspent {
            amount_sat: u.txout.value.to_sat(),
            script_pubkey: hex::encode(u.txout.script_pubkey.as_bytes()),
            address: Address::from_script(&u.txout.script_pubkey, network)
                .ok()
                .map(|a| a.to_string()),
            height: u.height,
            confirmations: tip.height + 1 - u.height,
            coinbase: u.coinbase,
        }),
    })
}

pub(super) fn fee(backend: &Backend, input: &Input) -> StepResult {
    let f: FeeIn = input.typed()?;
    let target = f.target_blocks.map_or(6, |n| n.0);
    if !(1..=1008).contains(&target) {
        // 1008 blocks is the longest horizon Core's estimator keeps.
        return Err(input.error(
            "target_blocks",
            format!("expected 1 to 1008 blocks, got {target}"),
        ));
    }
    let estimate = match (backend, f.feerate_per_kw.map(|r| r.0)) {
        (Backend::Embedded(dir), Some(rate)) => {
            let embedded = EmbeddedChain::open(dir).map_err(chain_failed)?;
            embedded.set_feerate(FeeratePerKw(rate)).map_err(chain_failed)?;
            embedded.fee_estimate(target as u16)
        }
        (_, Some(_)) => {
            return Err(input.error(
                "feerate_per_kw",
                "only the embedded chain has a fixed rate to set; bitcoind estimates its own (see --fallback-feerate-per-kw)",
            ))
        }
        (_, None) => open(backend)?.fee_estimate(target as u16),
    };
    respond(FeeOut::of(&estimate.map_err(chain_failed)?))
}
