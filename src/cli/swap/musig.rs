//! `lnkit swap nonce|sign-partial`: the two MuSig2 rounds (BIP 327) of a
//! cooperative key-path spend, one signer at a time.

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::field::{Hex32, HexBytes, Privkey};
use super::super::{hex, CliError, Explain, Input, StepResult};
use super::spend::{build_spend, spend_input, SpendInput};
use crate::cli::respond;
use crate::swap::musig::{self, ROLES};
use crate::swap::spend::{Path, Spend};

/// One value per side of the swap: `{"claim": hex, "refund": hex}`.
#[derive(Deserialize, Serialize, JsonSchema)]
pub struct RolePair {
    /// The claim side's.
    claim: HexBytes,
    /// The refund side's.
    refund: HexBytes,
}

/// `swap nonce`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct NonceIn {
    /// This signer's key: the claim or the refund key.
    privkey: Privkey,
    /// Makes the nonce reproducible, for tests (default: random).
    nonce_seed: Option<Hex32>,
}

/// This signer's nonce.
#[derive(Serialize, JsonSchema)]
pub struct NonceOut {
    /// claim or refund: whose key signed.
    role: String,
    sighash: String,
    output_key: String,
    /// Give this to the other signer.
    pub_nonce: String,
    /// Secret, single use: keep it for sign-partial.
    sec_nonce: String,
    warning: String,
}

/// `swap sign-partial`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct SignPartialIn {
    /// This signer's key.
    privkey: Privkey,
    /// The secret nonce from this signer's swap nonce.
    sec_nonce: HexBytes,
    /// Both public nonces.
    pub_nonces: RolePair,
}

/// This signer's partial signature.
#[derive(Serialize, JsonSchema)]
pub struct SignPartialOut {
    role: String,
    sighash: String,
    partial_signature: String,
}

/// The unsigned key-path spend and its MuSig2 session.
pub(super) fn key_path(input: &Input, s: &SpendInput) -> Result<(Spend, musig::Session), CliError> {
    let built = build_spend(input, s, Path::KeyPath)?;
    let session = s
        .contract
        .musig_session(built.sighash)
        .ok_or_else(|| input.error("output_type", "--cooperative needs a p2tr swap"))?;
    Ok((built, session))
}

/// `{claim, refund}` → `[claim, refund]`, each read by `parse`.
pub(super) fn role_pair<T>(
    at: &Input,
    field: &str,
    pair: &Option<RolePair>,
    parse: fn(&[u8]) -> Result<T, String>,
) -> Result<[T; 2], CliError> {
    let pair = pair.as_ref().ok_or_else(|| {
        at.error(
            field,
            "missing required field: an object {\"claim\": hex, \"refund\": hex}",
        )
    })?;
    let read = |role: &str, bytes: &HexBytes| {
        parse(bytes).map_err(|e| at.error(&format!("{field}.{role}"), e))
    };
    Ok([read(ROLES[0], &pair.claim)?, read(ROLES[1], &pair.refund)?])
}

/// Which side the signer's key is.
fn signer(at: &Input, key: &SecretKey, session: &musig::Session) -> Result<&'static str, CliError> {
    session.role(&Secp256k1::signing_only(), key).map_err(|_| {
        at.error(
            "privkey",
            "its public key is neither the swap's claim_pubkey nor its refund_pubkey",
        )
    })
}

/// `lnkit swap nonce` on an input object.
pub(crate) fn nonce(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let s = spend_input(input)?;
    let (built, session) = key_path(input, &s)?;
    let n: NonceIn = input.typed()?;
    let role = signer(input, &n.privkey, &session)?;
    let seed = match n.nonce_seed {
        Some(seed) => seed.0,
        None => bitcoin::secp256k1::rand::random(),
    };
    let (sec, public) = session
        .nonce(&secp, &n.privkey, seed)
        .map_err(|e| input.error("privkey", e))?;
    ex.line(format!(
        "{role}: BIP 327 NonceGen(seed, key, aggregate key, sighash {}) → two secret scalars; the public nonce is their points",
        hex(built.sighash)
    ));
    let out = NonceOut {
        role: role.into(),
        sighash: hex(built.sighash),
        output_key: session.output_key().x_only_public_key().0.to_string(),
        pub_nonce: hex(public.serialize()),
        sec_nonce: hex(sec.serialize()),
        warning: "sec_nonce is secret and single-use: sign once with it (swap sign-partial), then delete it".into(),
    };
    respond(out)
}

/// `lnkit swap sign-partial` on an input object.
pub(crate) fn sign_partial(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let s = spend_input(input)?;
    let (built, session) = key_path(input, &s)?;
    let p: SignPartialIn = input.typed()?;
    let role = signer(input, &p.privkey, &session)?;
    let sec = musig::sec_nonce(&p.sec_nonce).map_err(|e| input.error("sec_nonce", e))?;
    let nonces = role_pair(input, "pub_nonces", &Some(p.pub_nonces), musig::pub_nonce)?;
    let own = if role == "claim" {
        &nonces[0]
    } else {
        &nonces[1]
    };
    if sec.public_nonce() != *own {
        return Err(input.error(
            "sec_nonce",
            format!("its public nonce is not pub_nonces.{role}: sign with the nonce you published"),
        ));
    }
    let partial = session
        .sign(&secp, &p.privkey, sec, &nonces)
        .map_err(|e| input.error("sec_nonce", e))?;
    ex.line(format!(
        "{role}: partial signature over the key-path sighash {}, checked against the {role} key and nonce",
        hex(built.sighash)
    ));
    let out = SignPartialOut {
        role: role.into(),
        sighash: hex(built.sighash),
        partial_signature: hex(partial.serialize()),
    };
    respond(out)
}
