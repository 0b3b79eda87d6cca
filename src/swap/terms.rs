//! The rules that turn what a user gives into a swap's terms: one payment
//! hash from up to three sources that must agree, one timeout height from an
//! absolute or a relative one, and the Lightning terms with an override.

use bitcoin::absolute::Height;

use super::timeout::LightningTerms;
use crate::payment::{PaymentHash, PaymentPreimage};

/// Why no single payment hash comes out of what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The preimage does not hash to the given payment hash.
    #[error("its SHA256 is {preimage_hash}, not payment_hash {given}")]
    Preimage {
        /// SHA256 of the preimage.
        preimage_hash: PaymentHash,
        /// The payment hash given.
        given: PaymentHash,
    },
    /// The invoice pays another hash.
    #[error("its payment hash is {invoice_hash}, not {given} (from payment_hash or the preimage)")]
    Invoice {
        /// The invoice's hash.
        invoice_hash: PaymentHash,
        /// The hash from payment_hash or the preimage.
        given: PaymentHash,
    },
    /// Nothing gives a hash.
    #[error("missing required field (or give preimage, or an invoice)")]
    Missing,
}

/// The payment hash from `payment_hash`, the preimage, or the invoice's;
/// all that are given must agree.
pub fn payment_hash(
    given: Option<PaymentHash>,
    preimage: Option<&PaymentPreimage>,
    invoice: Option<PaymentHash>,
) -> Result<PaymentHash, HashError> {
    let mut hash = given;
    if let Some(p) = preimage {
        let preimage_hash = p.payment_hash();
        match hash {
            Some(given) if given != preimage_hash => {
                return Err(HashError::Preimage {
                    preimage_hash,
                    given,
                })
            }
            _ => hash = Some(preimage_hash),
        }
    }
    if let Some(invoice_hash) = invoice {
        match hash {
            Some(given) if given != invoice_hash => {
                return Err(HashError::Invoice {
                    invoice_hash,
                    given,
                })
            }
            _ => hash = Some(invoice_hash),
        }
    }
    hash.ok_or(HashError::Missing)
}

/// Why no timeout height comes out of what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutHeightError {
    /// `current + blocks` is past the last block height.
    #[error("the timeout height overflows")]
    Overflow,
    /// Both were given and they disagree.
    #[error("disagrees with timeout_block_height - current_height (give one of them)")]
    Disagree,
    /// Neither was given.
    #[error("missing required field (or give timeout_blocks)")]
    Missing,
}

/// The timeout height: `absolute`, or `blocks` after `current`; when both
/// are given they must agree.
pub fn timeout_height(
    current: Height,
    absolute: Option<Height>,
    blocks: Option<u32>,
) -> Result<Height, TimeoutHeightError> {
    let current = current.to_consensus_u32();
    match (absolute, blocks) {
        (Some(t), None) => Ok(t),
        (None, Some(n)) => current
            .checked_add(n)
            .and_then(|h| Height::from_consensus(h).ok())
            .ok_or(TimeoutHeightError::Overflow),
        (Some(t), Some(n)) if t.to_consensus_u32().checked_sub(current) == Some(n) => Ok(t),
        (Some(_), Some(_)) => Err(TimeoutHeightError::Disagree),
        (None, None) => Err(TimeoutHeightError::Missing),
    }
}

/// The Lightning terms: the invoice's, with `min_final_cltv_expiry_delta`
/// given on its own taking precedence.
pub fn lightning_terms(
    invoice: Option<LightningTerms>,
    min_final_cltv_expiry_delta: Option<u32>,
) -> Option<LightningTerms> {
    match (invoice, min_final_cltv_expiry_delta) {
        (Some(i), Some(c)) => Some(LightningTerms {
            min_final_cltv_expiry_delta: c,
            ..i
        }),
        (Some(i), None) => Some(i),
        (None, Some(c)) => Some(LightningTerms {
            min_final_cltv_expiry_delta: c,
            expires_at: None,
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_of_the_hash_must_agree() {
        let p = PaymentPreimage([7; 32]);
        let h = p.payment_hash();
        let other = PaymentHash([1; 32]);
        assert_eq!(payment_hash(None, Some(&p), Some(h)), Ok(h));
        assert!(matches!(
            payment_hash(Some(other), Some(&p), None),
            Err(HashError::Preimage { .. })
        ));
        assert!(matches!(
            payment_hash(None, Some(&p), Some(other)),
            Err(HashError::Invoice { .. })
        ));
        assert_eq!(payment_hash(None, None, None), Err(HashError::Missing));
    }

    #[test]
    fn timeout_from_either_field() {
        let h = |n| Height::from_consensus(n).unwrap();
        assert_eq!(timeout_height(h(100), None, Some(44)), Ok(h(144)));
        assert_eq!(timeout_height(h(100), Some(h(144)), Some(44)), Ok(h(144)));
        assert_eq!(
            timeout_height(h(100), Some(h(145)), Some(44)),
            Err(TimeoutHeightError::Disagree)
        );
        assert_eq!(
            timeout_height(h(499_999_999), None, Some(5)),
            Err(TimeoutHeightError::Overflow)
        );
        assert_eq!(
            timeout_height(h(1), None, None),
            Err(TimeoutHeightError::Missing)
        );
    }
}
