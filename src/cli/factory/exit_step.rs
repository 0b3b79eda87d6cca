//! `lnkit factory exit`: one party's way out alone, with its heights.

use super::super::input::Input;
use super::super::{Explain, StepResult};
use super::*;
use crate::factory::exit;

/// `lnkit factory exit`.
pub fn exit_plan(input: &Input, ex: &mut Explain) -> StepResult {
    let f = the_factory(input)?;
    let e: ExitIn = input.typed()?;
    let hook_height = e.hook_height.0;
    let kickoff_height = e.kickoff_height.map(|h| h.0);
    let plan = exit::plan(&f, hook_height, kickoff_height).map_err(|e| error(input, e))?;
    ex.line(format!(
        "exit: broadcast the kickoff (valid from height {}); allocation {} becomes valid {} blocks after the kickoff confirms",
        plan.kickoff_valid_from, plan.number, plan.delay_blocks));
    if let Some(older) = plan.older_valid_from {
        ex.line(format!(
            "it must confirm below height {older}, where allocation {} becomes valid too",
            plan.number - 1
        ));
    }
    respond(ExitOut {
        steps: vec![
            ExitStep::Kickoff {
                tx: tx_json(&plan.kickoff),
                name: "kickoff",
                valid_from_height: plan.kickoff_valid_from,
            },
            ExitStep::Allocation {
                tx: tx_json(&plan.allocation),
                name: "allocation",
                number: plan.number,
                delay_blocks: plan.delay_blocks,
                valid_from_height: plan.allocation_valid_from,
                confirm_below_height: plan.older_valid_from,
            },
        ],
        then: "each channel is an output of the allocation: close it as any channel (close --mutual, or its commitment from build-commitment)",
    })
}
