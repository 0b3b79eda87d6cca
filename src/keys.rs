//! BOLT 3 "Key Derivation": the keys of one commitment transaction.
//!
//! Each side of a channel sends four basepoints once, in `open_channel` /
//! `accept_channel`. For every commitment, the keys that appear in its scripts
//! are derived from a basepoint and that commitment's `per_commitment_point`,
//! so that no key is ever reused and so that revealing a `per_commitment_secret`
//! (BOLT 2 `revoke_and_ack`) hands the counterparty the revocation key of that
//! commitment, and of no other.
//!
//! Every key is its own type: a basepoint can never be passed where a derived
//! key belongs, and the revocation basepoint can only go through the revocation
//! derivation. The functions also return the intermediate tweaks, so that a
//! learner (`--explain`) or a debugger can follow the arithmetic of the spec.

use std::fmt;

use bitcoin::secp256k1::{self, PublicKey, Scalar, Secp256k1, SecretKey, Signing, Verification};
use sha2::{Digest, Sha256};

/// Why a derivation failed. Both happen with probability ~2^-128 for honest
/// inputs, but inputs are not always honest, so they are errors and not panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// SHA256(...) was not below the curve order, so it is not a valid tweak.
    #[error("the tweak SHA256 is not below the curve order")]
    TweakOutOfRange,
    /// The sum or product came out as the point at infinity / the zero scalar.
    #[error("the derived key is the point at infinity (or the zero secret)")]
    Degenerate,
}

macro_rules! point_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub PublicKey);

        impl $name {
            /// The 33-byte compressed SEC1 encoding.
            pub fn serialize(&self) -> [u8; 33] {
                self.0.serialize()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

point_type!(
    /// `per_commitment_point`: the point of one commitment's `per_commitment_secret`.
    PerCommitmentPoint
);
point_type!(
    /// `revocation_basepoint` (BOLT 2 `open_channel`).
    RevocationBasepoint
);
point_type!(
    /// `payment_basepoint`.
    PaymentBasepoint
);
point_type!(
    /// `delayed_payment_basepoint`.
    DelayedPaymentBasepoint
);
point_type!(
    /// `htlc_basepoint`.
    HtlcBasepoint
);
point_type!(
    /// Any basepoint of the `localpubkey` family (payment, delayed_payment or
    /// htlc): BOLT 3 derives them all with the same formula. Used where the
    /// caller does not say which one it holds (`lnkit keys derive`).
    Basepoint
);
point_type!(
    /// `revocationpubkey`, derived from the counterparty's `revocation_basepoint`.
    RevocationPubkey
);
point_type!(
    /// `localpubkey` / `remotepubkey`, derived from a `payment_basepoint`.
    PaymentPubkey
);
point_type!(
    /// `local_delayedpubkey`, derived from a `delayed_payment_basepoint`.
    DelayedPubkey
);
point_type!(
    /// `local_htlcpubkey` / `remote_htlcpubkey`, derived from an `htlc_basepoint`.
    HtlcPubkey
);
point_type!(
    /// A key derived from a [`Basepoint`] whose role was not named.
    DerivedPubkey
);

/// A basepoint from which BOLT 3 derives `basepoint + SHA256(per_commitment_point || basepoint)*G`.
pub trait SimpleBasepoint {
    /// The derived key type (`HtlcBasepoint` gives `HtlcPubkey`, and so on).
    type Derived;
    /// The basepoint as a curve point.
    fn point(&self) -> &PublicKey;
    /// Wrap the derived point in its type.
    fn derived(key: PublicKey) -> Self::Derived;
}

macro_rules! simple_basepoint {
    ($base:ident => $derived:ident) => {
        impl SimpleBasepoint for $base {
            type Derived = $derived;
            fn point(&self) -> &PublicKey {
                &self.0
            }
            fn derived(key: PublicKey) -> $derived {
                $derived(key)
            }
        }
    };
}
simple_basepoint!(PaymentBasepoint => PaymentPubkey);
simple_basepoint!(DelayedPaymentBasepoint => DelayedPubkey);
simple_basepoint!(HtlcBasepoint => HtlcPubkey);
simple_basepoint!(Basepoint => DerivedPubkey);

/// A `per_commitment_secret`: a valid secp256k1 secret key (non-zero, below the order).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PerCommitmentSecret(pub SecretKey);

impl PerCommitmentSecret {
    /// The secret as 32 bytes, as `revoke_and_ack` carries it.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.0.secret_bytes()
    }

    /// `per_commitment_point = per_commitment_secret * G`.
    pub fn point<C: Signing>(&self, secp: &Secp256k1<C>) -> PerCommitmentPoint {
        PerCommitmentPoint(PublicKey::from_secret_key(secp, &self.0))
    }
}

impl fmt::Debug for PerCommitmentSecret {
    // Secrets are never printed by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PerCommitmentSecret(..)")
    }
}

/// A derived key together with the tweak that produced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Derivation<K> {
    /// The derived key.
    pub key: K,
    /// `SHA256(per_commitment_point || basepoint)`.
    pub tweak: [u8; 32],
}

/// A `revocationpubkey` with the intermediate values of BOLT 3 "revocationpubkey Derivation".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevocationDerivation {
    /// `revocationpubkey`.
    pub key: RevocationPubkey,
    /// `SHA256(revocation_basepoint || per_commitment_point)`.
    pub basepoint_tweak: [u8; 32],
    /// `SHA256(per_commitment_point || revocation_basepoint)`.
    pub point_tweak: [u8; 32],
    /// `revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)`.
    pub basepoint_term: PublicKey,
    /// `per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)`.
    pub point_term: PublicKey,
}

fn sha256_of_points(first: &PublicKey, second: &PublicKey) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(first.serialize());
    hasher.update(second.serialize());
    hasher.finalize().into()
}

fn scalar(tweak: &[u8; 32]) -> Result<Scalar, KeyError> {
    Scalar::from_be_bytes(*tweak).map_err(|_| KeyError::TweakOutOfRange)
}

fn degenerate(_: secp256k1::Error) -> KeyError {
    KeyError::Degenerate
}

/// BOLT 3: `pubkey = basepoint + SHA256(per_commitment_point || basepoint) * G`
/// (localpubkey, local_htlcpubkey, remote_htlcpubkey, local_delayedpubkey, remotepubkey).
pub fn derive_pubkey<B: SimpleBasepoint, C: Verification>(
    secp: &Secp256k1<C>,
    basepoint: &B,
    per_commitment_point: &PerCommitmentPoint,
) -> Result<Derivation<B::Derived>, KeyError> {
    let tweak = sha256_of_points(&per_commitment_point.0, basepoint.point());
    let key = basepoint
        .point()
        .add_exp_tweak(secp, &scalar(&tweak)?)
        .map_err(degenerate)?;
    Ok(Derivation {
        key: B::derived(key),
        tweak,
    })
}

/// BOLT 3: `privkey = basepoint_secret + SHA256(per_commitment_point || basepoint)`,
/// the secret of [`derive_pubkey`]'s result.
pub fn derive_privkey<C: Signing>(
    secp: &Secp256k1<C>,
    basepoint_secret: &SecretKey,
    per_commitment_point: &PerCommitmentPoint,
) -> Result<SecretKey, KeyError> {
    let basepoint = PublicKey::from_secret_key(secp, basepoint_secret);
    let tweak = sha256_of_points(&per_commitment_point.0, &basepoint);
    basepoint_secret
        .add_tweak(&scalar(&tweak)?)
        .map_err(degenerate)
}

/// BOLT 3 "revocationpubkey Derivation":
/// `revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
///                   + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)`.
///
/// The two hashes bind both points, so neither side alone knows the private key:
/// the holder of the commitment knows `per_commitment_secret`, the counterparty
/// knows `revocation_basepoint_secret`, and only after `revoke_and_ack` does the
/// counterparty hold both.
pub fn derive_revocation_pubkey<C: Verification>(
    secp: &Secp256k1<C>,
    revocation_basepoint: &RevocationBasepoint,
    per_commitment_point: &PerCommitmentPoint,
) -> Result<RevocationDerivation, KeyError> {
    let basepoint_tweak = sha256_of_points(&revocation_basepoint.0, &per_commitment_point.0);
    let point_tweak = sha256_of_points(&per_commitment_point.0, &revocation_basepoint.0);
    let basepoint_term = revocation_basepoint
        .0
        .mul_tweak(secp, &scalar(&basepoint_tweak)?)
        .map_err(degenerate)?;
    let point_term = per_commitment_point
        .0
        .mul_tweak(secp, &scalar(&point_tweak)?)
        .map_err(degenerate)?;
    let key = basepoint_term.combine(&point_term).map_err(degenerate)?;
    Ok(RevocationDerivation {
        key: RevocationPubkey(key),
        basepoint_tweak,
        point_tweak,
        basepoint_term,
        point_term,
    })
}

/// BOLT 3: `revocationprivkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
///                            + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint)`.
pub fn derive_revocation_privkey<C: Signing>(
    secp: &Secp256k1<C>,
    revocation_basepoint_secret: &SecretKey,
    per_commitment_secret: &PerCommitmentSecret,
) -> Result<SecretKey, KeyError> {
    let revocation_basepoint = PublicKey::from_secret_key(secp, revocation_basepoint_secret);
    let per_commitment_point = per_commitment_secret.point(secp).0;
    let basepoint_tweak = sha256_of_points(&revocation_basepoint, &per_commitment_point);
    let point_tweak = sha256_of_points(&per_commitment_point, &revocation_basepoint);
    let basepoint_term = revocation_basepoint_secret
        .mul_tweak(&scalar(&basepoint_tweak)?)
        .map_err(degenerate)?;
    let point_term = per_commitment_secret
        .0
        .mul_tweak(&scalar(&point_tweak)?)
        .map_err(degenerate)?;
    basepoint_term
        .add_tweak(&Scalar::from(point_term))
        .map_err(degenerate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(hex_str: &str) -> PublicKey {
        hex_str.parse().unwrap()
    }

    // BOLT 3 Appendix E, the first case; the full appendix runs in tests/toolkit/golden_keys.rs.
    #[test]
    fn appendix_e_localpubkey() {
        let secp = Secp256k1::verification_only();
        let base = Basepoint(pk(
            "036d6caac248af96f6afa7f904f550253a0f3ef3f5aa2fe6838a95b216691468e2",
        ));
        let point = PerCommitmentPoint(pk(
            "025f7117a78150fe2ef97db7cfc83bd57b2e2c0d0dd25eaf467a4a1c2a45ce1486",
        ));
        let d = derive_pubkey(&secp, &base, &point).unwrap();
        assert_eq!(
            d.key.to_string(),
            "0235f2dbfaa89b57ec7b055afe29849ef7ddfeb1cefdb9ebdc43f5494984db29e5"
        );
    }
}
