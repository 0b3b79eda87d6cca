//! `lnkit factory allocate|update|close`: the allocations of the factory's
//! channels, one after another, and the cooperative close.

use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Amount, OutPoint};

use super::super::field::Whole;
use super::super::input::Input;
use super::super::{hex, Explain, StepResult};
use super::*;
use crate::factory::build::{self, AllocationRequest};
use crate::factory::FactoryError;

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
    let f = the_factory(input)?;
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
        .typed::<AllocationIn>()?
        .shares_sat
        .map(|s| s.into_iter().map(|a| Amount::from_sat(a.0)).collect());
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
    let channels = alloc
        .channels
        .iter()
        .enumerate()
        .map(|(k, c)| ChannelOut {
            channel: k,
            parties: c.parties,
            funding_txid: txid.to_string(),
            funding_output_index: k,
            funding_amount_sat: c.capacity().to_sat(),
            funding_script: hex(c.funding_script().as_bytes()),
            funding_pubkeys: c.funding_pubkeys.iter().map(|p| p.to_string()).collect(),
        })
        .collect();
    let fee = kickoff.output[0].value - alloc.tx.output.iter().map(|o| o.value).sum::<Amount>();
    respond(AllocateOut {
        kickoff: tx_json(kickoff),
        allocation: AllocationOut {
            tx: tx_json(&alloc.tx),
            number: alloc.number,
            delay_blocks: alloc.delay_blocks,
            steps_left: next.layer.left_after(alloc.number),
            shares_sat: alloc.shares.iter().map(|a| a.to_sat()).collect(),
            fee_sat: fee.to_sat(),
        },
        channels,
        factory: Whole(next.clone()),
    })
}

pub fn close(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let f = settled(input, the_factory(input)?)?;
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
    respond(CloseOut {
        tx: tx_json(&closed.tx),
        payouts_sat: closed.payouts.iter().map(|a| a.to_sat()).collect(),
        fee_sat: closed.fee.to_sat(),
        spends: OutPoint::new(f.hook_txid, f.hook_vout).to_string(),
    })
}
