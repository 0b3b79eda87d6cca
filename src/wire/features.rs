//! BOLT 9 feature bits, by name both ways.
//!
//! A feature vector is big-endian: bit 0 is the lowest bit of the last byte.
//! Each feature has an even (required) and an odd (optional) bit: "it's OK to be odd".

/// The features BOLT 9 names (and keysend, bLIP 3), by their even bit.
pub const FEATURES: &[(u16, &str)] = &[
    (0, "option_data_loss_protect"),
    (4, "option_upfront_shutdown_script"),
    (6, "gossip_queries"),
    (8, "var_onion_optin"),
    (10, "gossip_queries_ex"),
    (12, "option_static_remotekey"),
    (14, "payment_secret"),
    (16, "basic_mpp"),
    (18, "option_support_large_channel"),
    (22, "option_anchors"),
    (24, "option_route_blinding"),
    (26, "option_shutdown_anysegwit"),
    (28, "option_dual_fund"),
    (34, "option_quiesce"),
    (36, "option_attribution_data"),
    (38, "option_onion_messages"),
    (42, "option_provide_storage"),
    (44, "option_channel_type"),
    (46, "option_scid_alias"),
    (48, "option_payment_metadata"),
    (50, "option_zeroconf"),
    (54, "keysend"),
    (60, "option_simple_close"),
    (62, "option_splice"),
];

/// The set bits of a feature vector, lowest first.
pub fn bits(bytes: &[u8]) -> Vec<u16> {
    let n = bytes.len();
    (0..(n * 8) as u16)
        .filter(|b| bytes[n - 1 - (*b as usize / 8)] & (1 << (b % 8)) != 0)
        .collect()
}

/// A bit's name: `option_anchors_required` (even) / `option_anchors_optional` (odd), or `bit_N`.
pub fn bit_name(bit: u16) -> String {
    match FEATURES.iter().find(|(even, _)| *even == bit & !1) {
        Some((_, name)) => format!(
            "{name}_{}",
            if bit.is_multiple_of(2) {
                "required"
            } else {
                "optional"
            }
        ),
        None => format!("bit_{bit}"),
    }
}

/// The names of a feature vector's bits.
pub fn names(bytes: &[u8]) -> Vec<String> {
    bits(bytes).into_iter().map(bit_name).collect()
}

/// A name that is no feature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown feature {0:?} (expected a BOLT 9 name with _required or _optional, or bit_N)")]
pub struct UnknownFeature(pub String);

/// The bit of a name (`basic_mpp_optional`, `bit_101`).
pub fn bit_of(name: &str) -> Result<u16, UnknownFeature> {
    if let Some(n) = name.strip_prefix("bit_").and_then(|n| n.parse().ok()) {
        return Ok(n);
    }
    let (base, odd) = if let Some(b) = name.strip_suffix("_required") {
        (b, false)
    } else if let Some(b) = name.strip_suffix("_optional") {
        (b, true)
    } else {
        return Err(UnknownFeature(name.into()));
    };
    FEATURES
        .iter()
        .find(|(_, n)| *n == base)
        .map(|(even, _)| even + u16::from(odd))
        .ok_or_else(|| UnknownFeature(name.into()))
}

/// A feature vector from bits, in the fewest bytes.
pub fn from_bits(bits: &[u16]) -> Vec<u8> {
    let Some(max) = bits.iter().max() else {
        return vec![];
    };
    let n = *max as usize / 8 + 1;
    let mut out = vec![0u8; n];
    for b in bits {
        out[n - 1 - (*b as usize / 8)] |= 1 << (b % 8);
    }
    out
}

/// The required (even) bits this code does not know: a peer must not connect on them.
pub fn unknown_required(bytes: &[u8]) -> Vec<u16> {
    bits(bytes)
        .into_iter()
        .filter(|b| b % 2 == 0 && !FEATURES.iter().any(|(even, _)| even == b))
        .collect()
}
