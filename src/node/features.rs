//! The node's BOLT 9 features in `init`, and what a peer's `init` allows.

use crate::channel::Negotiated;
use crate::wire::features::{bit_name, bits, from_bits};

/// The bits we set in `init` (even: required, odd: optional).
pub const OUR_BITS: &[u16] = &[
    0,  // option_data_loss_protect (required: we check your_last_per_commitment_secret)
    7,  // gossip_queries
    8,  // var_onion_optin (BOLT 9: assumed, so required)
    12, // option_static_remotekey (assumed)
    14, // payment_secret (assumed)
    17, // basic_mpp
    23, // option_anchors (zero-fee HTLC transactions)
    27, // option_shutdown_anysegwit
    37, // option_attribution_data: hold times and blame in update_fail_htlc and update_fulfill_htlc
    45, // option_channel_type
    47, // option_scid_alias
    55, // keysend (bLIP 3): we take spontaneous payments
    61, // option_simple_close
];

/// Our `init` feature vector.
pub fn our_features() -> Vec<u8> {
    from_bits(OUR_BITS)
}

/// Our `node_announcement` features: those of `init`, less
/// `option_data_loss_protect` and `gossip_queries`, which only concern a
/// connection (BOLT 9 gives neither the N context). The assumed bits stay,
/// as LDK and Core Lightning set them, so that payers see them.
pub fn node_announcement_features() -> Vec<u8> {
    let bits: Vec<u16> = OUR_BITS
        .iter()
        .copied()
        .filter(|b| !matches!(b, 0 | 1 | 6 | 7))
        .collect();
    from_bits(&bits)
}

/// Whether a feature (by its even bit) is set, required or optional.
fn has(features: &[u8], even: u16) -> bool {
    let b = bits(features);
    b.contains(&even) || b.contains(&(even + 1))
}

/// BOLT 1 `init`: a peer that requires a feature we do not support must be
/// disconnected. The names of such bits, if any.
pub fn unsupported_required(theirs: &[u8]) -> Vec<String> {
    bits(theirs)
        .into_iter()
        .filter(|b| b % 2 == 0 && !OUR_BITS.contains(b) && !OUR_BITS.contains(&(b + 1)))
        .map(bit_name)
        .collect()
}

/// What both sides support.
pub fn negotiate(theirs: &[u8]) -> Negotiated {
    let ours = our_features();
    let both = |even| has(&ours, even) && has(theirs, even);
    Negotiated {
        simple_close: both(60),
        anysegwit: both(26),
        anchors: both(22),
        scid_alias: both(46),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_bits_we_lack_are_named_and_odd_ones_pass() {
        assert!(unsupported_required(&our_features()).is_empty());
        // option_dual_fund required (28) and an unknown even bit 100.
        let theirs = from_bits(&[8, 14, 28, 100, 101, 103]);
        assert_eq!(
            unsupported_required(&theirs),
            vec!["option_dual_fund_required", "bit_100"]
        );
        let n = negotiate(&from_bits(&[22, 61]));
        assert!(n.anchors && n.simple_close && !n.anysegwit);
    }
}
