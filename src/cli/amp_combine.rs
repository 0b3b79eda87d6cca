//! `lnkit amp-combine`: the payee's side of AMP — XOR the shares back to the
//! root seed and check every child's payment hash.

use serde_json::{json, Value};

use super::input::{self, Input};
use super::{CliError, Explain, StepResult};
use crate::mpp::amp;

/// Run `lnkit amp-combine`: `shares` (or `parts[].share`), with optional
/// `child_hash` per part to check.
pub fn run_combine(input: &mut Input, ex: &mut Explain) -> StepResult {
    let parts: Vec<Input> = if input.has("parts") {
        input.objects("parts")?
    } else {
        input.objects("shares")?
    };
    if parts.is_empty() {
        return Err(input.error("parts", "expected at least one part"));
    }
    let mut shares = vec![];
    let mut idx = vec![];
    for (i, p) in parts.iter().enumerate() {
        shares.push(p.req("share", input::bytes32)?);
        idx.push(p.opt("child_index", input::uint32)?.unwrap_or(i as u32));
    }
    let root = amp::combine(&shares);
    ex.line("root = XOR of every share; child preimage = SHA256(root || share || be32(index))");
    let mut all_ok = true;
    let children: Vec<Value> = parts
        .iter()
        .zip(shares.iter().zip(&idx))
        .map(|(p, (share, &i))| {
            let c = amp::child(&root, *share, i);
            let expected = p.opt("child_hash", input::bytes32)?;
            let ok = expected.is_none_or(|h| h == c.hash);
            all_ok &= ok;
            Ok(json!({
                "child_index": i,
                "child_preimage": super::hex(c.preimage),
                "child_hash": super::hex(c.hash),
                "hash_matches": expected.map(|_| ok),
            }))
        })
        .collect::<Result<_, CliError>>()?;
    if let Some(want) = input.opt("root_seed", input::bytes32)? {
        if want != root {
            return Err(CliError::failure(
                "amp-combine: the shares do not XOR to the given root_seed",
            ));
        }
    }
    if !all_ok {
        return Err(CliError::failure(
            "amp-combine: a child hash does not match: a share is missing or wrong",
        ));
    }
    Ok(json!({"root_seed": super::hex(root), "children": children}))
}
