//! `lnkit amp-combine`: the payee's side of AMP — XOR the shares back to the
//! root seed and check every child's payment hash.

use super::amp_types::{ChildOut, CombineIn, CombineOut};
use super::input::Input;
use super::{CliError, Explain, StepResult};
use crate::cli::respond;
use crate::mpp::amp;

/// Run `lnkit amp-combine`: `shares` (or `parts[].share`), with optional
/// `child_hash` per part to check.
pub fn run_combine(input: &mut Input, ex: &mut Explain) -> StepResult {
    let c: CombineIn = input.typed()?;
    let parts = c.parts.or(c.shares).unwrap_or_default();
    if parts.is_empty() {
        return Err(input.error("parts", "expected at least one part"));
    }
    let shares: Vec<[u8; 32]> = parts.iter().map(|p| p.share.0).collect();
    let root = amp::combine(&shares);
    ex.line("root = XOR of every share; child preimage = SHA256(root || share || be32(index))");
    let mut all_ok = true;
    let children: Vec<ChildOut> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let index = p.child_index.as_ref().map_or(i as u32, |c| c.0);
            let c = amp::child(&root, p.share.0, index);
            let expected = p.child_hash.as_ref().map(|h| h.0);
            let ok = expected.is_none_or(|h| h == c.hash);
            all_ok &= ok;
            ChildOut {
                child_index: index,
                child_preimage: super::hex(c.preimage),
                child_hash: super::hex(c.hash),
                hash_matches: expected.map(|_| ok),
            }
        })
        .collect();
    if let Some(want) = c.root_seed {
        if want.0 != root {
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
    respond(CombineOut {
        root_seed: super::hex(root),
        children,
    })
}
