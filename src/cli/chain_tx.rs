//! `lnkit chain broadcast|tx|utxo|fee`: transactions and outputs on the chain.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Address, Network, OutPoint, Transaction, Txid};
use serde_json::json;

use super::chain::*;
use super::input::{self, Input};
use super::{CliError, Explain, StepResult};
use crate::chain::embedded::EmbeddedChain;
use crate::chain::{Backend, ChainSource, TxStatus};
use crate::tx::commitment::FeeratePerKw;

/// The transactions a step's output carries, by the field names the
/// toolkit's steps use: a signed one beside its unsigned twin first, then a
/// plain `tx_hex`, then the nested ones of `penalty` (`penalty_txs`, in
/// order) and `close --sweep` (`sweep_tx`).
fn transactions_of(input: &Input) -> Result<Vec<(String, Transaction)>, CliError> {
    for field in ["signed_tx_hex", "tx_hex"] {
        if input.has(field) {
            return Ok(vec![(field.into(), input.req(field, input::transaction)?)]);
        }
    }
    if input.has("penalty_txs") {
        let txs = input.objects("penalty_txs")?;
        return txs
            .iter()
            .map(|t| Ok((t.path("tx_hex"), t.req("tx_hex", input::transaction)?)))
            .collect();
    }
    if let Some(sweep) = input.object("sweep_tx")? {
        return Ok(vec![(
            sweep.path("tx_hex"),
            sweep.req("tx_hex", input::transaction)?,
        )]);
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
    Ok(match txids.as_slice() {
        [one] => json!({ "txid": one, "accepted": true }),
        _ => json!({ "txids": txids, "accepted": true }),
    })
}

pub(super) fn tx(backend: &Backend, input: &Input) -> StepResult {
    let txid: Txid = input.req("txid", input::txid)?;
    let chain = open(backend)?;
    let info = chain.transaction(&txid).map_err(chain_failed)?;
    Ok(match info {
        None => json!({ "txid": txid.to_string(), "status": "unknown" }),
        Some(info) => {
            let mut out = json!({
                "txid": txid.to_string(),
                "tx_hex": serialize_hex(&info.tx),
            });
            match info.status {
                TxStatus::Mempool => out["status"] = json!("mempool"),
                TxStatus::Confirmed {
                    block,
                    confirmations,
                } => {
                    out["status"] = json!("confirmed");
                    out["block_hash"] = json!(block.hash.to_string());
                    out["block_height"] = json!(block.height);
                    out["confirmations"] = json!(confirmations);
                }
            }
            out
        }
    })
}

fn outpoint(input: &Input) -> Result<OutPoint, CliError> {
    if input.has("outpoint") {
        return input.req("outpoint", |v| {
            let s = v.as_str().unwrap_or_default();
            s.parse::<OutPoint>()
                .map_err(|e| format!("expected TXID:VOUT, got {v} ({e})"))
        });
    }
    Ok(OutPoint::new(
        input.req("txid", input::txid)?,
        input.req("vout", input::uint32)?,
    ))
}

pub(super) fn utxo(backend: &Backend, input: &Input, network: Network) -> StepResult {
    let op = outpoint(input)?;
    let chain = open(backend)?;
    let found = chain.utxo(&op).map_err(chain_failed)?;
    let tip = chain.best_block().map_err(chain_failed)?;
    Ok(match found {
        None => json!({ "outpoint": op.to_string(), "unspent": false }),
        Some(u) => json!({
            "outpoint": op.to_string(),
            "unspent": true,
            "amount_sat": u.txout.value.to_sat(),
            "script_pubkey": hex::encode(u.txout.script_pubkey.as_bytes()),
            "address": Address::from_script(&u.txout.script_pubkey, network).ok().map(|a| a.to_string()),
            "height": u.height,
            "confirmations": tip.height + 1 - u.height,
            "coinbase": u.coinbase,
        }),
    })
}

pub(super) fn fee(backend: &Backend, input: &Input) -> StepResult {
    let target = input.opt("target_blocks", input::uint32)?.unwrap_or(6);
    if !(1..=1008).contains(&target) {
        // 1008 blocks is the longest horizon Core's estimator keeps.
        return Err(input.error(
            "target_blocks",
            format!("expected 1 to 1008 blocks, got {target}"),
        ));
    }
    let rate = input.opt("feerate_per_kw", input::uint32)?;
    let estimate = match (backend, rate) {
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
    Ok(fee_json(&estimate.map_err(chain_failed)?))
}
