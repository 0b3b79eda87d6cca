//! MuSig2 (BIP 327) for the key paths: [`Group`], the N-of-N key of a
//! channel factory, and [`Session`], the cooperative path of a Taproot swap: a MuSig2 (BIP 327) aggregate of
//! the claim and refund keys is the internal key, tweaked by the tap tree
//! (BIP 341 `TapTweak`), so both parties together sign one key-path
//! signature. The arithmetic is the `musig2` crate's; this module fixes the
//! key order, the tweak, and the two rounds (nonces, then partial signatures)
//! in the swap's terms.
//!
//! Secrets are explicit inputs: the nonce seed is given by the caller (the
//! CLI draws it from the OS), and BIP 327's nonce generation mixes in the
//! secret key, the aggregate key and the message, so a seed reused for a
//! different transaction still gives a different nonce.

use bitcoin::secp256k1::{schnorr, PublicKey, Secp256k1, SecretKey, Signing};
use musig2::{AggNonce, KeyAggContext, PartialSignature, PubNonce, SecNonce};

/// The order the two keys go into BIP 327 `KeyAgg`. The aggregate depends on
/// it; services differ (BIP 327 `KeySort`, or their own key first), so it is
/// part of the swap's description.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyOrder {
    /// BIP 327 `KeySort`: lexicographic order of the 33-byte keys.
    Sorted,
    /// `[claim_pubkey, refund_pubkey]`.
    ClaimFirst,
    /// `[refund_pubkey, claim_pubkey]`.
    RefundFirst,
}

impl KeyOrder {
    /// All orders, as named in JSON.
    pub const ALL: [KeyOrder; 3] = [
        KeyOrder::Sorted,
        KeyOrder::ClaimFirst,
        KeyOrder::RefundFirst,
    ];

    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            KeyOrder::Sorted => "sorted",
            KeyOrder::ClaimFirst => "claim_first",
            KeyOrder::RefundFirst => "refund_first",
        }
    }
}

/// The two keys of a swap, in aggregation order.
fn ordered(claim: &PublicKey, refund: &PublicKey, order: KeyOrder) -> [PublicKey; 2] {
    let claim_first = match order {
        KeyOrder::Sorted => claim.serialize() <= refund.serialize(),
        KeyOrder::ClaimFirst => true,
        KeyOrder::RefundFirst => false,
    };
    if claim_first {
        [*claim, *refund]
    } else {
        [*refund, *claim]
    }
}

fn context(claim: &PublicKey, refund: &PublicKey, order: KeyOrder) -> KeyAggContext {
    KeyAggContext::new(ordered(claim, refund, order))
        .expect("two valid keys never aggregate to infinity except with negligible probability")
}

/// BIP 327 `KeyAgg` of any list of keys, in the order given (`None` for an
/// empty list or the negligible case of a sum at infinity).
pub fn key_agg(keys: &[PublicKey]) -> Option<PublicKey> {
    if keys.is_empty() {
        return None;
    }
    KeyAggContext::new(keys.iter().copied())
        .ok()
        .map(|ctx| ctx.aggregated_pubkey())
}

/// BIP 327 `KeyAgg` of the two keys: the untweaked aggregate (its x-only
/// form is the Taproot internal key).
pub fn aggregate_key(claim: &PublicKey, refund: &PublicKey, order: KeyOrder) -> PublicKey {
    context(claim, refund, order).aggregated_pubkey()
}

/// Which order, if any, aggregates the two keys to `internal_key` (x-only).
pub fn find_order(
    claim: &PublicKey,
    refund: &PublicKey,
    internal_key: &bitcoin::secp256k1::XOnlyPublicKey,
) -> Option<KeyOrder> {
    KeyOrder::ALL
        .into_iter()
        .find(|o| aggregate_key(claim, refund, *o).x_only_public_key().0 == *internal_key)
}

/// A key-path signing session for one message (the BIP 341 key-path sighash).
#[derive(Clone, Debug)]
pub struct Session {
    /// The aggregation context, tweaked by the tap tree's merkle root.
    ctx: KeyAggContext,
    /// `[claim, refund]` in aggregation order.
    keys: [PublicKey; 2],
    /// The message: the key-path sighash.
    message: [u8; 32],
}

/// What can go wrong in a signing session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MusigError {
    /// The secret key is neither of the swap's keys.
    #[error("the key is neither the claim nor the refund key of this swap")]
    UnknownKey,
    /// The `musig2` crate refused to sign or aggregate.
    #[error("MuSig2: {0}")]
    Signing(String),
    /// The secret nonce belongs to another key.
    #[error("sec_nonce: it was made for another key")]
    NonceKeyMismatch,
    /// A partial signature does not verify for its signer.
    #[error("partial_signatures.{role}: does not verify against the {role} key and its nonce for this transaction")]
    BadPartial {
        /// `claim` or `refund`.
        role: &'static str,
    },
    /// The secret key is not a member's of the group.
    #[error("the key is not one of the group's members")]
    NotInGroup,
    /// A member gave no key, nonce or partial signature.
    #[error("member {index} (in key order) has not signed: an N-of-N group needs every member")]
    MissingMember {
        /// The member's index in aggregation order.
        index: usize,
    },
    /// A member's partial signature does not verify.
    #[error("member {index} (in key order): its partial signature does not verify against its key and nonce")]
    BadMemberPartial {
        /// The member's index in aggregation order.
        index: usize,
    },
}

/// The roles, as named in JSON, with their key.
pub const ROLES: [&str; 2] = ["claim", "refund"];

impl Session {
    /// A session over `message` for the swap whose tree has `merkle_root`.
    pub fn new(
        claim: &PublicKey,
        refund: &PublicKey,
        order: KeyOrder,
        merkle_root: &[u8; 32],
        message: [u8; 32],
    ) -> Self {
        let ctx = context(claim, refund, order)
            .with_taproot_tweak(merkle_root)
            .expect("a tweak equal to minus the key's discrete log is negligible");
        Session {
            ctx,
            keys: [*claim, *refund],
            message,
        }
    }

    /// The tweaked aggregate key: the Taproot output key the signature is for.
    pub fn output_key(&self) -> PublicKey {
        self.ctx.aggregated_pubkey()
    }

    /// Which side holds `key`: `claim` or `refund` (as in [`ROLES`]).
    pub fn role<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        key: &SecretKey,
    ) -> Result<&'static str, MusigError> {
        let public = key.public_key(secp);
        self.keys
            .iter()
            .position(|k| *k == public)
            .map(|i| ROLES[i])
            .ok_or(MusigError::UnknownKey)
    }

    /// Round 1: a secret nonce and its public nonce for the signer holding
    /// `key`, from a 32-byte seed (BIP 327 `NonceGen` with the key, the
    /// aggregate key and the message mixed in). The secret nonce must sign
    /// once and be discarded.
    pub fn nonce<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        key: &SecretKey,
        seed: [u8; 32],
    ) -> Result<(SecNonce, PubNonce), MusigError> {
        self.role(secp, key)?;
        let agg: PublicKey = self.ctx.aggregated_pubkey();
        let sec = SecNonce::generate(seed, *key, agg, self.message, b"lnkit swap");
        let public = sec.public_nonce();
        Ok((sec, public))
    }

    fn agg_nonce(nonces: &[PubNonce; 2]) -> AggNonce {
        AggNonce::sum(nonces)
    }

    /// Round 2: the partial signature of the signer holding `key`, given both
    /// public nonces as `[claim, refund]`. It is checked before it is returned.
    pub fn sign<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        key: &SecretKey,
        sec_nonce: SecNonce,
        nonces: &[PubNonce; 2],
    ) -> Result<PartialSignature, MusigError> {
        self.role(secp, key)?;
        musig2::sign_partial(
            &self.ctx,
            *key,
            sec_nonce,
            &Self::agg_nonce(nonces),
            self.message,
        )
        .map_err(|e| match e {
            musig2::errors::SigningError::UnknownKey => MusigError::UnknownKey,
            musig2::errors::SigningError::SecNoncePubkeyMismatch => MusigError::NonceKeyMismatch,
            other => MusigError::Signing(other.to_string()),
        })
    }

    /// Check each partial signature (`[claim, refund]`) and aggregate them
    /// into the BIP 340 signature for the output key.
    pub fn aggregate(
        &self,
        nonces: &[PubNonce; 2],
        partials: &[PartialSignature; 2],
    ) -> Result<schnorr::Signature, MusigError> {
        let agg = Self::agg_nonce(nonces);
        for (i, role) in ROLES.iter().enumerate() {
            musig2::verify_partial(
                &self.ctx,
                partials[i],
                &agg,
                self.keys[i],
                &nonces[i],
                self.message,
            )
            .map_err(|_| MusigError::BadPartial { role })?;
        }
        musig2::aggregate_partial_signatures(&self.ctx, &agg, *partials, self.message)
            .map_err(|e| MusigError::Signing(e.to_string()))
    }
}

/// A public nonce from its 66 bytes.
pub fn pub_nonce(bytes: &[u8]) -> Result<PubNonce, String> {
    PubNonce::from_bytes(bytes).map_err(|e| format!("expected a 66-byte MuSig2 public nonce ({e})"))
}

/// A secret nonce from its 97 bytes (two scalars and the signer's key).
pub fn sec_nonce(bytes: &[u8]) -> Result<SecNonce, String> {
    SecNonce::from_bytes(bytes).map_err(|e| format!("expected a 97-byte MuSig2 secret nonce ({e})"))
}

/// A partial signature from its 32 bytes.
pub fn partial_signature(bytes: &[u8]) -> Result<PartialSignature, String> {
    PartialSignature::from_slice(bytes)
        .map_err(|e| format!("expected a 32-byte partial signature ({e})"))
}

/// An N-of-N MuSig2 group spending a Taproot output by its key path alone:
/// the aggregate of the keys in BIP 327 `KeySort` order (so every member
/// derives the same key whatever order it lists them in), tweaked as BIP 86
/// tweaks a key with no script tree. A channel factory's hook output is one.
#[derive(Clone, Debug)]
pub struct Group {
    /// The aggregation context, with the BIP 86 tweak.
    ctx: KeyAggContext,
    /// The members, sorted.
    keys: Vec<PublicKey>,
}

impl Group {
    /// The group of `keys` (`None` for no keys, or the negligible case of a
    /// sum at infinity).
    pub fn new(keys: &[PublicKey]) -> Option<Self> {
        let mut keys = keys.to_vec();
        keys.sort_by_key(|k| k.serialize());
        let ctx = KeyAggContext::new(keys.iter().copied())
            .ok()?
            .with_unspendable_taproot_tweak()
            .ok()?;
        Some(Group { ctx, keys })
    }

    /// The untweaked aggregate: the Taproot internal key.
    pub fn internal_key(&self) -> PublicKey {
        KeyAggContext::new(self.keys.iter().copied())
            .expect("the keys aggregated once already")
            .aggregated_pubkey()
    }

    /// The tweaked aggregate: the output key the group signs for.
    pub fn output_key(&self) -> PublicKey {
        self.ctx.aggregated_pubkey()
    }

    /// The members in aggregation order.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    fn position<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        key: &SecretKey,
    ) -> Result<usize, MusigError> {
        let public = key.public_key(secp);
        self.keys
            .iter()
            .position(|k| *k == public)
            .ok_or(MusigError::NotInGroup)
    }

    /// Round 1 for the member holding `key`: its secret and public nonce for
    /// `message`, from a 32-byte seed (BIP 327 `NonceGen`).
    pub fn nonce<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        key: &SecretKey,
        seed: [u8; 32],
        message: [u8; 32],
    ) -> Result<(SecNonce, PubNonce), MusigError> {
        self.position(secp, key)?;
        let agg: PublicKey = self.ctx.aggregated_pubkey();
        let sec = SecNonce::generate(seed, *key, agg, message, b"lnkit group");
        let public = sec.public_nonce();
        Ok((sec, public))
    }

    /// Round 2: the partial signature of the member holding `key`, given
    /// every member's public nonce in aggregation order.
    pub fn sign<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        key: &SecretKey,
        sec_nonce: SecNonce,
        nonces: &[PubNonce],
        message: [u8; 32],
    ) -> Result<PartialSignature, MusigError> {
        self.position(secp, key)?;
        musig2::sign_partial(&self.ctx, *key, sec_nonce, &AggNonce::sum(nonces), message)
            .map_err(|e| MusigError::Signing(e.to_string()))
    }

    /// Check every partial signature (in aggregation order) and aggregate
    /// them into the BIP 340 signature for the output key.
    pub fn aggregate(
        &self,
        nonces: &[PubNonce],
        partials: &[PartialSignature],
        message: [u8; 32],
    ) -> Result<schnorr::Signature, MusigError> {
        let agg = AggNonce::sum(nonces);
        for (i, key) in self.keys.iter().enumerate() {
            let (Some(nonce), Some(partial)) = (nonces.get(i), partials.get(i)) else {
                return Err(MusigError::MissingMember { index: i });
            };
            musig2::verify_partial(&self.ctx, *partial, &agg, *key, nonce, message)
                .map_err(|_| MusigError::BadMemberPartial { index: i })?;
        }
        musig2::aggregate_partial_signatures(&self.ctx, &agg, partials.iter().copied(), message)
            .map_err(|e| MusigError::Signing(e.to_string()))
    }

    /// Both rounds at once, for a caller holding every member's key (a
    /// demo, a test, or one operator of all the keys): `keys` in any order,
    /// one per member, and a fresh seed per member from `seed`.
    pub fn sign_all<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        keys: &[SecretKey],
        message: [u8; 32],
        mut seed: impl FnMut(usize) -> [u8; 32],
    ) -> Result<schnorr::Signature, MusigError> {
        let mut by_member: Vec<Option<SecretKey>> = vec![None; self.keys.len()];
        for key in keys {
            by_member[self.position(secp, key)?] = Some(*key);
        }
        let mut members = Vec::with_capacity(self.keys.len());
        for (index, key) in by_member.into_iter().enumerate() {
            members.push(key.ok_or(MusigError::MissingMember { index })?);
        }
        let mut secs = Vec::with_capacity(members.len());
        let mut nonces = Vec::with_capacity(members.len());
        for (i, key) in members.iter().enumerate() {
            let (sec, public) = self.nonce(secp, key, seed(i), message)?;
            secs.push(sec);
            nonces.push(public);
        }
        let mut partials = Vec::with_capacity(members.len());
        for (key, sec) in members.iter().zip(secs) {
            partials.push(self.sign(secp, key, sec, &nonces, message)?);
        }
        self.aggregate(&nonces, &partials, message)
    }
}
