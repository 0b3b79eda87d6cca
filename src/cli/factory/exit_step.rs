//! `lnkit factory exit`: one party's way out alone, with its heights.

use serde_json::json;

use super::super::input::{self, Input};
use super::super::{Explain, StepResult};
use super::*;
use crate::factory::{exit, Factory};

/// `lnkit factory exit`.
pub fn exit_plan(input: &Input, ex: &mut Explain) -> StepResult {
    let f: Factory = input.req_typed("factory")?;
    let hook_height = input.req("hook_height", input::uint32)?;
    let kickoff_height = input.opt("kickoff_height", input::uint32)?;
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
    Ok(json!({
        "steps": [
            merge(tx_json(&plan.kickoff), json!({"name": "kickoff", "valid_from_height": plan.kickoff_valid_from})),
            merge(tx_json(&plan.allocation), json!({"name": "allocation", "number": plan.number,
                "delay_blocks": plan.delay_blocks, "valid_from_height": plan.allocation_valid_from,
                "confirm_below_height": plan.older_valid_from})),
        ],
        "then": "each channel is an output of the allocation: close it as any channel (close --mutual, or its commitment from build-commitment)",
    }))
}
