//! One lock of `swap create`: the library's view of it
//! ([`crate::swap::view`]), and the `--explain` trace of it.

use super::super::{hex, Explain};
use crate::swap::contract::{Contract, Lock};
pub use crate::swap::view::{checklist, hours, BuiltLock, LockOut};

/// The output of one lock.
pub(super) fn lock_out(
    c: &Contract,
    params: crate::swap::chain::ChainParams,
    amount: bitcoin::Amount,
    current: bitcoin::absolute::Height,
) -> Result<LockOut, super::super::CliError> {
    crate::swap::view::lock_out(c, params, amount, current).map_err(super::super::CliError::failure)
}

/// The `--explain` trace of one lock.
pub(super) fn explain_lock(ex: &mut Explain, name: &str, c: &Contract) {
    if !ex.enabled() {
        return;
    }
    let t = &c.terms;
    ex.line(format!(
        "{name}: hashlock HASH160(preimage) = RIPEMD160(payment_hash {}) = {}",
        t.payment_hash,
        hex(t.hash160())
    ));
    match &c.lock {
        Lock::P2wsh(s) => {
            ex.line(format!("{name}: redeem script: {}", s.to_asm_string()));
            ex.line(format!("{name}: P2WSH: OP_0 SHA256(redeem script)"));
        }
        Lock::P2tr(tree) => {
            ex.line(format!(
                "{name}: claim leaf: {}",
                tree.claim_leaf.to_asm_string()
            ));
            ex.line(format!(
                "{name}: refund leaf: {}",
                tree.refund_leaf.to_asm_string()
            ));
            ex.line(format!(
                "{name}: internal key = MuSig2 KeyAgg({} order) of claim and refund keys = {}",
                tree.key_order.name(),
                tree.internal_key
            ));
            ex.line(format!(
                "{name}: output key = internal key + TapTweak(internal key || merkle root {}) · G = {}",
                hex(tree.merkle_root()),
                tree.spend_info.output_key().to_x_only_public_key()
            ));
        }
    }
}
