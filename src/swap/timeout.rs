//! When a swap's timeout is safe. A swap is two locks on one hash; each side
//! must be able to use the preimage it learns before the lock that protects
//! the other side opens. The rules, by kind:
//!
//! - **submarine** (the user locks on chain, the service pays the user's
//!   invoice, then claims with the preimage it learned): the lock must outlast
//!   the invoice's `min_final_cltv_expiry_delta` (BOLT 11 `c`) plus a margin,
//!   or the receiver could hold the HTLC until the refund opens and take both;
//!   and the invoice must expire before the refund opens, or it could still be
//!   paid after the coins went back.
//! - **reverse** (the user pays the service's hold invoice, the service locks on
//!   chain, the user claims revealing the preimage): the lock must expire a
//!   margin *before* the Lightning HTLC can (`min_final_cltv_expiry_delta`), so
//!   the service can still settle the HTLC with a preimage revealed at the last
//!   moment; and it must leave the user the margin to claim.
//! - **chain** (two on-chain locks): the initiator's lock (leg A) must outlast
//!   the participant's (leg B) by a margin of *time*, not blocks — the legs
//!   are on chains whose blocks come at different rates — so that a preimage
//!   revealed on chain B just before B's refund opens still leaves time to
//!   claim on chain A.

use bitcoin::absolute::Height;

use super::chain::ChainParams;
use super::SwapKind;

/// What the Lightning side of a submarine or reverse swap imposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LightningTerms {
    /// The invoice's `min_final_cltv_expiry_delta` (BOLT 11 `c`; 18 when absent).
    pub min_final_cltv_expiry_delta: u32,
    /// When the invoice expires (UNIX seconds: timestamp + `x`, default 3600), if known.
    pub expires_at: Option<u64>,
}

/// An unsafe timeout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutError {
    /// The timeout has been reached already.
    #[error("block {timeout} is not in the future: the chain is at {current}, so the refund path is already open")]
    InPast {
        /// The timeout.
        timeout: u32,
        /// The current height.
        current: u32,
    },
    /// The refund cannot be mined yet.
    #[error("the refund is not valid yet: it becomes valid when the chain reaches block {timeout} (it can then be mined in block {next}); the chain is at {current}, {left} blocks to go", next = timeout + 1, left = timeout - current)]
    RefundNotYet {
        /// The timeout.
        timeout: u32,
        /// The current height.
        current: u32,
    },
    /// Submarine: the lock opens before the invoice's HTLC could settle.
    #[error("{blocks} blocks to the timeout, but the invoice's min_final_cltv_expiry_delta is {cltv} and the margin {margin}: a submarine swap's lock must last at least {needed} blocks")]
    ShorterThanCltv {
        /// Blocks left.
        blocks: u32,
        /// The invoice's CLTV delta.
        cltv: u32,
        /// The margin.
        margin: u32,
        /// `cltv + margin`.
        needed: u32,
    },
    /// Reverse: the lock lasts too long for the HTLC that pays for it.
    #[error("{blocks} blocks to the timeout, but the invoice's min_final_cltv_expiry_delta is {cltv}: a reverse swap's lock must expire at least {margin} blocks before the HTLC can, i.e. within {allowed} blocks")]
    LongerThanCltv {
        /// Blocks left.
        blocks: u32,
        /// The invoice's CLTV delta.
        cltv: u32,
        /// The margin.
        margin: u32,
        /// `cltv - margin`.
        allowed: i64,
    },
    /// Too little time to claim.
    #[error("only {blocks} blocks to the timeout: the claimer needs at least the margin of {margin} blocks")]
    TooShortToClaim {
        /// Blocks left.
        blocks: u32,
        /// The margin.
        margin: u32,
    },
    /// Submarine: the invoice can still be paid after the refund opens.
    #[error("the invoice expires at {expires_at} (UNIX time), after the refund opens at about {refund_at} ({blocks} blocks of {interval} s from {now})")]
    InvoiceOutlivesLock {
        /// When the invoice expires.
        expires_at: u64,
        /// When the refund is estimated to open.
        refund_at: u64,
        /// Blocks left.
        blocks: u32,
        /// Seconds per block.
        interval: u64,
        /// The time now.
        now: u64,
    },
    /// Chain: the initiator's lock does not outlast the participant's by the margin.
    #[error("leg a ({a}) times out in about {a_secs} s and leg b ({b}) in about {b_secs} s: the initiator's lock must outlast the participant's by at least {needed} s, but the margin is {margin} s")]
    CrossChainMargin {
        /// Leg A's chain.
        a: ChainParams,
        /// Seconds to leg A's timeout.
        a_secs: u64,
        /// Leg B's chain.
        b: ChainParams,
        /// Seconds to leg B's timeout.
        b_secs: u64,
        /// `a_secs - b_secs`.
        margin: i64,
        /// The minimum asked for.
        needed: u64,
    },
}

/// Blocks from `current` to `timeout`; the timeout must be ahead.
pub fn blocks_left(timeout: Height, current: Height) -> Result<u32, TimeoutError> {
    let (t, c) = (timeout.to_consensus_u32(), current.to_consensus_u32());
    if t <= c {
        return Err(TimeoutError::InPast {
            timeout: t,
            current: c,
        });
    }
    Ok(t - c)
}

/// Whether a refund (nLockTime = `timeout`) can go into the next block:
/// BIP 65 / consensus finality needs nLockTime < the including block's
/// height, so the chain tip must have reached `timeout`.
pub fn refund_open(timeout: Height, current: Height) -> Result<(), TimeoutError> {
    if current < timeout {
        return Err(TimeoutError::RefundNotYet {
            timeout: timeout.to_consensus_u32(),
            current: current.to_consensus_u32(),
        });
    }
    Ok(())
}

/// The Lightning-side rules for a submarine or reverse swap whose lock has
/// `blocks` blocks left on a chain with `interval`-second blocks (see the
/// module documentation). `now` is UNIX seconds.
pub fn check_lightning(
    kind: SwapKind,
    blocks: u32,
    ln: &LightningTerms,
    margin: u32,
    interval: u64,
    now: u64,
) -> Result<(), TimeoutError> {
    let cltv = ln.min_final_cltv_expiry_delta;
    match kind {
        SwapKind::Submarine => {
            let needed = cltv.saturating_add(margin);
            if blocks < needed {
                return Err(TimeoutError::ShorterThanCltv {
                    blocks,
                    cltv,
                    margin,
                    needed,
                });
            }
            if let Some(expires_at) = ln.expires_at {
                let refund_at = now + u64::from(blocks) * interval;
                if expires_at > refund_at {
                    return Err(TimeoutError::InvoiceOutlivesLock {
                        expires_at,
                        refund_at,
                        blocks,
                        interval,
                        now,
                    });
                }
            }
        }
        SwapKind::Reverse => {
            if blocks < margin {
                return Err(TimeoutError::TooShortToClaim { blocks, margin });
            }
            if u64::from(blocks) + u64::from(margin) > u64::from(cltv) {
                return Err(TimeoutError::LongerThanCltv {
                    blocks,
                    cltv,
                    margin,
                    allowed: i64::from(cltv) - i64::from(margin),
                });
            }
        }
        SwapKind::Chain => {}
    }
    Ok(())
}

/// The cross-chain rule: leg A (the initiator's lock) must outlast leg B
/// (the participant's) by `min_margin_secs`, each converted to time at its
/// chain's target block interval. Returns the margin in seconds.
pub fn check_cross_chain(
    a: ChainParams,
    a_blocks: u32,
    b: ChainParams,
    b_blocks: u32,
    min_margin_secs: u64,
) -> Result<i64, TimeoutError> {
    let a_secs = a.blocks_to_secs(a_blocks);
    let b_secs = b.blocks_to_secs(b_blocks);
    let margin = a_secs as i64 - b_secs as i64;
    if margin < min_margin_secs as i64 {
        return Err(TimeoutError::CrossChainMargin {
            a,
            a_secs,
            b,
            b_secs,
            margin,
            needed: min_margin_secs,
        });
    }
    Ok(margin)
}
