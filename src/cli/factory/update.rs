//! `lnkit factory allocate|update|close`: the allocations of the factory's
//! channels, one after another, and the cooperative close.

use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Amount, OutPoint};
use serde_json::{json, Value};

use super::super::input::Input;
use super::super::{hex, Explain, StepResult};
use super::*;
use crate::factory::build::{self, AllocationRequest};
use crate::factory::{Factory, FactoryError};

/// `lnkit factory allocate`: the first allocation.
pub fn allocate(input: &Input, ex: &mut Explain) -> StepResult {
    reallocate(input, ex, false)
}

/// `lnkit factory update`: each next one.
pub fn update(input: &Input, ex: &mut Explain) -> StepResult {
    reallocate(input, ex, true)
}

fn reallocate(input: &Input, ex: &mut Explain, update: bool) -> StepResult {
    let secp = Secp256k1::new();
    let f: Factory = input.req_typed("factory")?;
    match (&f.allocation, update) {
        (Some(a), false) => {
            return Err(input.error(
                "factory.allocation",
                format!(
                    "allocation {} exists already: use factory update to reallocate",
                    a.number
                ),
            ))
        }
        (None, true) => return Err(error(input, FactoryError::NoAllocation)),
        _ => {}
    }
    let f = settled(input, f)?;
    let channels = read_channels(input, &f)?;
    let shares = input
        .opt_typed::<Vec<u64>>("shares_sat")?
        .map(|s| s.into_iter().map(Amount::from_sat).collect());
    let mut signers = Signers::read(input)?;
    let next = build::allocate(
        &secp,
        &f,
        AllocationRequest { channels, shares },
        &signers.keys.clone(),
        &mut |i| signers.next_seed(i),
    )
    .map_err(|e| error(input, e))?;
    let kickoff = next.kickoff.as_ref().expect("allocate signs the kickoff");
    let alloc = next
        .allocation
        .as_ref()
        .expect("allocate sets the allocation");
    verified(
        kickoff,
        &[build::hook_output(&next).map_err(|e| error(input, e))?],
        "the kickoff",
    )?;
    verified(&alloc.tx, &[kickoff.output[0].clone()], "the allocation")?;
    let txid = alloc.tx.compute_txid();
    ex.line(format!(
        "allocation {}: nSequence = {} blocks after the kickoff; {} channel(s); {} update(s) left",
        alloc.number,
        alloc.delay_blocks,
        alloc.channels.len(),
        next.layer.left_after(alloc.number)
    ));
    let channels: Vec<Value> = alloc.channels.iter().enumerate().map(|(k, c)| json!({
        "channel": k,
        "parties": c.parties,
        "funding_txid": txid.to_string(),
        "funding_output_index": k,
        "funding_amount_sat": c.capacity().to_sat(),
        "funding_script": hex(c.funding_script().as_bytes()),
        "funding_pubkeys": c.funding_pubkeys.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    })).collect();
    Ok(json!({
        "factory": next,
        "kickoff": tx_json(kickoff),
        "allocation": merge(tx_json(&alloc.tx), json!({
            "number": alloc.number, "delay_blocks": alloc.delay_blocks,
            "steps_left": next.layer.left_after(alloc.number),
            "shares_sat": alloc.shares.iter().map(|a| a.to_sat()).collect::<Vec<_>>(),
            "fee_sat": (kickoff.output[0].value - alloc.tx.output.iter().map(|o| o.value).sum::<Amount>()).to_sat(),
        })),
        "channels": channels,
    }))
}

/// `lnkit factory close`.
pub fn close(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let f = settled(input, input.req_typed("factory")?)?;
    let mut signers = Signers::read(input)?;
    let closed = build::close(&secp, &f, &signers.keys.clone(), &mut |i| {
        signers.next_seed(i)
    })
    .map_err(|e| error(input, e))?;
    verified(
        &closed.tx,
        &[build::hook_output(&f).map_err(|e| error(input, e))?],
        "the close",
    )?;
    ex.line(format!("close: spends the hook directly, {} outputs, fee {} sat; the kickoff and allocations are never broadcast",
        closed.tx.output.len(), closed.fee.to_sat()));
    Ok(merge(
        tx_json(&closed.tx),
        json!({
            "payouts_sat": closed.payouts.iter().map(|a| a.to_sat()).collect::<Vec<_>>(),
            "fee_sat": closed.fee.to_sat(),
            "spends": OutPoint::new(f.hook_txid, f.hook_vout).to_string(),
        }),
    ))
}
