//! `lnkit tower watch`: match a block's transactions against appointments,
//! and decrypt and check the penalty of each breach.

use bitcoin::consensus::encode::deserialize;
use bitcoin::Block;
use serde_json::{json, Value};

use super::chain::{backend, chain_failed, BackendArgs};
use super::input::{self, Input};
use super::tower::*;
use super::{CliError, Explain, StepResult};
use crate::chain;
use crate::tower::appointment::Locator;
use crate::tower::watcher::{scan_block, Opened};

/// The block `tower watch` scans, and its height when it came from a chain.
pub(super) fn watched_block(
    args: &BackendArgs,
    input: &Input,
) -> Result<(Block, Option<u32>), CliError> {
    if let Some(bytes) = input.opt("block_hex", input::hex_bytes)? {
        let block = deserialize(&bytes).map_err(|e| {
            input.error(
                "block_hex",
                format!("expected a serialized block, got bytes that do not decode as one ({e})"),
            )
        })?;
        return Ok((block, None));
    }
    let network = input
        .opt("network", input::network)?
        .unwrap_or(bitcoin::Network::Regtest);
    let source = chain::open(
        &backend(args, network)
            .map_err(|e| CliError::bad(format!("block_hex: missing; or {}", e.message())))?,
    )
    .map_err(chain_failed)?;
    let block_hash = |v: &Value| -> input::Parsed<bitcoin::BlockHash> {
        v.as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "expected a block hash (64 hex digits)".to_string())
    };
    let hash = match (
        input.opt("block_hash", block_hash)?,
        input.opt("height", input::uint32)?,
    ) {
        (Some(h), _) => h,
        (None, Some(height)) => source
            .block_hash(height)
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

/// `lnkit tower watch` on an input object and a block.
pub fn watch(input: &Input, block: &Block, ex: &mut Explain) -> StepResult {
    let appointments = if input.has("appointments") {
        input
            .objects("appointments")?
            .iter()
            .map(read_appointment)
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![the_appointment(input).map_err(|_| {
            input.error(
                "appointments",
                "missing required field (an array of appointments, or one as appointment)",
            )
        })?]
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
    Ok(json!({
        "block_hash": block.block_hash().to_string(),
        "transactions": block.txdata.len(),
        "appointments": appointments.len(),
        "penalties": ok.into_iter().map(opened_json).collect::<Vec<_>>(),
        "refused": refused.into_iter().map(opened_json).collect::<Vec<_>>(),
    }))
}
