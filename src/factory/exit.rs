//! The unilateral path: what a party broadcasts when the others stop
//! answering, and from which height each transaction can be mined.
//!
//! BIP 68: an input with a relative timelock of `d` blocks may be mined in a
//! block at height `h + d` at the earliest, where `h` is the height of the
//! block that confirmed the output it spends.

use bitcoin::Transaction;

use super::{Factory, FactoryError};

/// The exit, step by step.
#[derive(Clone, Debug)]
pub struct ExitPlan {
    /// The kickoff, signed by all: starts every allocation's clock.
    pub kickoff: Transaction,
    /// The first height that may include the kickoff (the block after the hook's).
    pub kickoff_valid_from: u32,
    /// The newest allocation, signed by all.
    pub allocation: Transaction,
    /// Its number.
    pub number: u16,
    /// Its relative timelock after the kickoff, in blocks.
    pub delay_blocks: u16,
    /// The first height that may include it.
    pub allocation_valid_from: u32,
    /// The height from which the allocation before it is valid too: the
    /// newest must be mined below it (`None` for the first allocation, which
    /// nothing older can race).
    pub older_valid_from: Option<u32>,
}

/// The exit of the newest allocation, for a hook mined at `hook_height`
/// and a kickoff mined at `kickoff_height` (the earliest it can be, when it
/// is not mined yet).
pub fn plan(
    f: &Factory,
    hook_height: u32,
    kickoff_height: Option<u32>,
) -> Result<ExitPlan, FactoryError> {
    f.validate()?;
    let allocation = f.allocation.as_ref().ok_or(FactoryError::NoAllocation)?;
    let kickoff = f.kickoff.clone().ok_or(FactoryError::NoAllocation)?;
    let kickoff_valid_from = hook_height.saturating_add(1);
    let kickoff_height = kickoff_height.unwrap_or(kickoff_valid_from);
    let allocation_valid_from = kickoff_height + u32::from(allocation.delay_blocks);
    let older_valid_from =
        (allocation.number > 0).then(|| allocation_valid_from + u32::from(f.layer.step_blocks));
    Ok(ExitPlan {
        kickoff,
        kickoff_valid_from,
        allocation: allocation.tx.clone(),
        number: allocation.number,
        delay_blocks: allocation.delay_blocks,
        allocation_valid_from,
        older_valid_from,
    })
}
