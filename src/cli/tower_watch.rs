//! `lnkit tower watch`: match a block's transactions against appointments,
//! and decrypt and check the penalty of each breach.

use crate::cli::respond;
use bitcoin::consensus::encode::deserialize;
use bitcoin::Block;

use super::chain::{backend, chain_failed, BackendArgs};
use super::input::Input;
use super::tower::*;
use super::tower_types::*;
use super::{CliError, Explain, StepResult};
use crate::chain;
use crate::tower::appointment::{Appointment, Locator};
use crate::tower::watcher::{scan_block, Opened};

/// The block `tower watch` scans, and its height when it came from a chain.
pub(super) fn watched_block(
    args: &BackendArgs,
    input: &Input,
) -> Result<(Block, Option<u32>), CliError> {
    let w: WatchIn = input.typed()?;
    if let Some(bytes) = w.block_hex {
        let block = deserialize(&bytes).map_err(|e| {
            input.error(
                "block_hex",
                format!("expected a serialized block, got bytes that do not decode as one ({e})"),
            )
        })?;
        return Ok((block, None));
    }
    let network = w.network.map_or(bitcoin::Network::Regtest, |n| n.0);
    let source = chain::open(
        &backend(args, network)
            .map_err(|e| CliError::bad(format!("block_hex: missing; or {}", e.message())))?,
    )
    .map_err(chain_failed)?;
    let hash = match (w.block_hash, w.height) {
        (Some(h), _) => h.0,
        (None, Some(height)) => source
            .block_hash(height.0)
            .map_err(chain_failed)?
            .ok_or_else(|| {
                input.error(
                    "height",
                    format!(
                        "above the chain's tip ({})",
                        source.best_block().map(|b| b.height).unwrap_or(0)
                    ),
                )
            })?,
        (None, None) => source.best_block().map_err(chain_failed)?.hash,
    };
    let height = source.header(&hash).map_err(chain_failed)?.height;
    Ok((source.block(&hash).map_err(chain_failed)?, Some(height)))
}

/// `lnkit tower watch` on an input object and a block (with its height when
/// it came from a chain).
pub fn watch(input: &Input, block: &Block, height: Option<u32>, ex: &mut Explain) -> StepResult {
    let w: WatchIn = input.typed()?;
    let appointments: Vec<Appointment> = match (&w.appointments, &w.appointment) {
        (Some(many), _) => many.iter().map(AppointmentObj::appointment).collect(),
        (None, Some(one)) => vec![one.appointment()],
        (None, None) => {
            return Err(input.error(
                "appointments",
                "missing required field (an array of appointments, or one as appointment)",
            ))
        }
    };
    let mut by_locator: std::collections::HashMap<Locator, Vec<((), &[u8])>> = Default::default();
    for a in &appointments {
        by_locator
            .entry(a.locator)
            .or_default()
            .push(((), &a.encrypted_blob));
    }
    let found: Vec<Opened> = scan_block(block, |l| by_locator.get(l).cloned().unwrap_or_default())
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    ex.line(format!(
        "block {}: {} transactions matched against {} locators: {} match(es)",
        block.block_hash(),
        block.txdata.len(),
        by_locator.len(),
        found.len()
    ));
    let (ok, refused): (Vec<_>, Vec<_>) = found.iter().partition(|o| o.outcome.is_ok());
    respond(WatchOut {
        block_hash: block.block_hash().to_string(),
        transactions: block.txdata.len(),
        appointments: appointments.len(),
        penalties: ok.into_iter().map(opened_out).collect(),
        refused: refused.into_iter().map(opened_out).collect(),
        height,
    })
}
