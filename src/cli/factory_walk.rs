//! The factory walkthrough's helpers: a scratch copy of the embedded chain,
//! transactions offered to its mempool with the verdict checked, demo
//! wallets, and the chain-space table.

use std::path::{Path, PathBuf};

use bitcoin::{OutPoint, ScriptBuf, Transaction};
use serde_json::json;

use super::factory_walkthrough::*;
use super::walkthrough::Walk;
use super::CliError;
use crate::chain::embedded::EmbeddedChain;
use crate::chain::{ChainError, ChainSource, RejectKind};
use crate::factory::space;

pub(super) fn failed(what: &str) -> impl Fn(ChainError) -> CliError + '_ {
    move |e| CliError::failure(format!("walkthrough: {what}: {e}"))
}

pub(super) fn wallet_script(i: usize) -> (ScriptBuf, String) {
    super::swap_walkthrough::p2wpkh(KEYS[i])
}

pub(super) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry.file_name() != "lock" {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A scratch directory, removed when dropped.
pub(super) struct Scratch(pub(super) PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn open(dir: &Path) -> Result<EmbeddedChain, CliError> {
    EmbeddedChain::open(dir).map_err(failed("the embedded chain"))
}

pub(super) fn height(chain: &EmbeddedChain) -> Result<u32, CliError> {
    Ok(chain.best_block().map_err(failed("the tip"))?.height)
}

/// Broadcast and check the verdict: accepted, or refused for `expect`.
pub(super) fn offer(
    walk: &mut Walk,
    chain: &EmbeddedChain,
    tx: &Transaction,
    what: &str,
    expect: Option<RejectKind>,
) -> Result<(), CliError> {
    let verdict = chain.broadcast(tx);
    let ok = match (&verdict, expect) {
        (Ok(_), None) => true,
        (Err(ChainError::Rejected { rejection, .. }), Some(kind)) => rejection.kind == kind,
        _ => false,
    };
    let said = match &verdict {
        Ok(_) => "accepted".to_string(),
        Err(e) => format!("refused: {e}"),
    };
    walk.check(&format!("{what} ({said})"), ok)
}

/// Whether each party's payout is an unspent output of the confirmed close.
pub(super) fn payouts_unspent(
    chain: &EmbeddedChain,
    close_tx: &Transaction,
    closed: &serde_json::Value,
) -> bool {
    (0..4).all(|i| {
        let out = OutPoint::new(close_tx.compute_txid(), 0);
        let vout = close_tx
            .output
            .iter()
            .position(|o| o.script_pubkey == wallet_script(i).0);
        vout.is_some_and(|v| {
            chain
                .utxo(&OutPoint {
                    vout: v as u32,
                    ..out
                })
                .ok()
                .flatten()
                .is_some_and(|u| Some(u.txout.value.to_sat()) == closed["payouts_sat"][i].as_u64())
        })
    })
}

/// One row of the chain-space table.
pub(super) fn space_row(c: &space::Comparison) -> serde_json::Value {
    json!({
        "users": c.users, "channels": c.channels,
        "one_by_one_open_vbytes": c.one_by_one_open_vbytes, "factory_open_vbytes": c.factory_open_vbytes,
        "open_saving_percent": (c.open_saving_percent() * 10.0).round() / 10.0,
        "one_by_one_vbytes": c.one_by_one_vbytes, "factory_cooperative_vbytes": c.factory_cooperative_vbytes,
        "cooperative_saving_percent": (c.cooperative_saving_percent() * 10.0).round() / 10.0,
        "factory_unilateral_vbytes": c.factory_unilateral_vbytes,
        "unilateral_saving_percent": (c.unilateral_saving_percent() * 10.0).round() / 10.0,
    })
}
