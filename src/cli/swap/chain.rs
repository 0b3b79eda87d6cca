//! `lnkit swap create --kind chain`: two locks to one hash, on two chains,
//! the initiator's outlasting the participant's in time.

use schemars::JsonSchema;
use serde::Serialize;

use super::super::{CliError, Explain, Input};
use super::create::{build_lock, CreateIn, DEFAULT_MIN_MARGIN_SECS};
use super::lock::{explain_lock, hours, lock_out, LockOut};
use crate::payment::PaymentHash;
use crate::swap::contract::OutputType;
use crate::swap::timeout;
use crate::swap::SwapKind;

/// A cross-chain swap.
#[derive(Serialize, JsonSchema)]
pub struct ChainOut {
    kind: SwapKind,
    payment_hash: String,
    output_type: OutputType,
    legs: LegsOut,
    /// How much longer leg a lasts than leg b, in seconds.
    margin_secs: i64,
    min_margin_secs: u64,
    checklist: Vec<String>,
}

/// Both locks.
#[derive(Serialize, JsonSchema)]
pub struct LegsOut {
    a: LockOut,
    b: LockOut,
}

pub(super) fn create_chain(
    input: &Input,
    top: &CreateIn,
    hash: PaymentHash,
    ex: &mut Explain,
) -> Result<ChainOut, CliError> {
    let legs = top.legs.as_ref().ok_or_else(|| {
        input.error(
            "legs",
            "missing required field: an object with legs a (initiator's lock) and b (participant's lock)",
        )
    })?;
    let legs_at = input.object("legs")?.unwrap_or_default();
    let at =
        |name: &str| -> Result<Input, CliError> { Ok(legs_at.object(name)?.unwrap_or_default()) };
    let a = build_lock(&legs.a, &at("a")?, input, top, hash)?;
    let b = build_lock(&legs.b, &at("b")?, input, top, hash)?;
    let min_margin = top
        .min_margin_seconds
        .as_ref()
        .map_or(DEFAULT_MIN_MARGIN_SECS, |m| m.0);
    let margin = timeout::check_cross_chain(a.params, a.blocks, b.params, b.blocks, min_margin)
        .map_err(|e| input.error("legs.a.timeout_block_height", e))?;
    explain_lock(ex, "leg a", &a.contract);
    explain_lock(ex, "leg b", &b.contract);
    ex.line(format!(
        "timeouts in time: leg a {} × {} s, leg b {} × {} s: margin {margin} s (at least {min_margin} s)",
        a.blocks,
        a.params.chain.block_interval_secs(),
        b.blocks,
        b.params.chain.block_interval_secs()
    ));
    let checklist = vec![
        format!(
            "Both legs lock to RIPEMD160({hash}); only the initiator knows the preimage. Check each address yourself (lnkit swap verify --kind chain)."
        ),
        format!(
            "Leg a ({}): the initiator locks {} sat first; the participant claims with claim_pubkey {} once the preimage appears on leg b; the initiator can refund from block {} (about {}).",
            a.params,
            a.amount.to_sat(),
            a.contract.terms.claim_pubkey,
            a.contract.terms.timeout,
            hours(a.params.blocks_to_secs(a.blocks))
        ),
        format!(
            "Leg b ({}): the participant locks {} sat only after leg a confirms with the right script; the initiator claims it with claim_pubkey {}, revealing the preimage; the participant can refund from block {} (about {}).",
            b.params,
            b.amount.to_sat(),
            b.contract.terms.claim_pubkey,
            b.contract.terms.timeout,
            hours(b.params.blocks_to_secs(b.blocks))
        ),
        format!(
            "Leg a outlasts leg b by about {} (at least {} asked): time for the participant to see the preimage on {} and claim on {}. Block times vary; the margin is an estimate at target intervals.",
            hours(margin.max(0) as u64),
            hours(min_margin),
            b.params.chain,
            a.params.chain
        ),
    ];
    Ok(ChainOut {
        kind: SwapKind::Chain,
        payment_hash: hash.to_string(),
        output_type: top.output_type.unwrap_or(OutputType::P2wsh),
        legs: LegsOut {
            a: lock_out(&a.contract, a.params, a.amount, a.current)?,
            b: lock_out(&b.contract, b.params, b.amount, b.current)?,
        },
        margin_secs: margin,
        min_margin_secs: min_margin,
        checklist,
    })
}
