//! `lnkit revoke`: what a `revoke_and_ack` (BOLT 2) carries when commitment
//! `n` is revoked: its `per_commitment_secret`, and the
//! `next_per_commitment_point` — that of commitment `n + 2`, since the
//! counterparty already holds the point of `n + 1` (from `channel_ready` or the
//! previous `revoke_and_ack`).

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use clap::Args;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field::{CommitmentNum, Hex32, Privkey, Pubkey};
use super::input::Input;
use super::{flag, hex, CliError, Explain, StepResult};
use crate::cli::respond;
use crate::keys::{self, PerCommitmentSecret, RevocationBasepoint};
use crate::shachain::{self, CommitmentNumber, Index};

/// Flags of `lnkit revoke` (each sets the input field of its name).
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The commitment being revoked (field `commitment_number`).
    #[arg(long)]
    commitment_number: Option<u64>,
    /// The holder's per-commitment secret seed (field `shachain_seed`).
    #[arg(long)]
    shachain_seed: Option<String>,
    /// The counterparty's revocation basepoint (field `revocation_basepoint`).
    #[arg(long)]
    revocation_basepoint: Option<String>,
}

/// `revoke`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct RevokeIn {
    /// The holder's per-commitment secret seed (or seed).
    shachain_seed: Option<Hex32>,
    /// The seed, as `shachain derive` names it.
    seed: Option<Hex32>,
    /// The commitment being revoked.
    commitment_number: CommitmentNum,
    /// The counterparty's revocation basepoint: revocationpubkey comes out too.
    revocation_basepoint: Option<Pubkey>,
    /// Its secret: revocation_privkey comes out too.
    revocation_basepoint_secret: Option<Privkey>,
}

/// What `revoke_and_ack` carries, and the revoked commitment's keys.
#[derive(Serialize, JsonSchema)]
pub struct RevokeOut {
    commitment_number: u64,
    /// Its shachain index: 2^48 - 1 - commitment_number.
    index: u64,
    per_commitment_secret: String,
    per_commitment_point: String,
    /// commitment_number + 2 (the peer has the point of + 1 already).
    next_commitment_number: u64,
    next_per_commitment_point: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_basepoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocationpubkey: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_privkey: Option<String>,
}

/// Run `lnkit revoke`.
pub fn run(args: RevokeArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    flag(input, "commitment_number", args.commitment_number);
    flag(input, "shachain_seed", args.shachain_seed);
    flag(input, "revocation_basepoint", args.revocation_basepoint);
    revoke(input, ex)
}

fn secret_at(
    input: &Input,
    seed: &shachain::Secret,
    n: CommitmentNumber,
) -> Result<(Index, PerCommitmentSecret), CliError> {
    let index = Index::from_commitment_number(n).map_err(|_| {
        input.error(
            "commitment_number",
            format!("commitment {} is past the last one (2^48 - 1)", n.0),
        )
    })?;
    let bytes = shachain::generate_from_seed(seed, index);
    // A SHA256 output that is not a valid key has probability ~2^-128.
    let key = SecretKey::from_slice(&bytes).map_err(|_| {
        CliError::failure(format!(
            "the secret for commitment {} is not a valid secp256k1 key",
            n.0
        ))
    })?;
    Ok((index, PerCommitmentSecret(key)))
}

/// `lnkit revoke` on an input object.
pub fn revoke(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let r: RevokeIn = input.typed()?;
    let seed = r.shachain_seed.or(r.seed).map(|s| s.0).ok_or_else(|| {
        input.error(
            "shachain_seed",
            "missing required field (also accepted as: seed)",
        )
    })?;
    let n = r.commitment_number.0;
    let (index, secret) = secret_at(input, &seed, n)?;
    let point = secret.point(&secp);
    let next =
        n.0.checked_add(2)
            .map(CommitmentNumber)
            .ok_or_else(|| input.error("commitment_number", "no commitment comes two after it"))?;
    let (_, next_secret) = secret_at(input, &seed, next)?;
    let next_point = next_secret.point(&secp);
    ex.line(format!(
        "revoking commitment {}: its secret is shachain index 2^48-1-{} = {}",
        n.0, n.0, index
    ));
    ex.line(format!(
        "per_commitment_secret = {}",
        hex(secret.secret_bytes())
    ));
    ex.line(format!(
        "next_per_commitment_point = the point of commitment {} (the peer already has commitment {}'s) = {}",
        next.0,
        n.0 + 1,
        next_point
    ));

    let mut out = RevokeOut {
        commitment_number: n.0,
        index: index.value(),
        per_commitment_secret: hex(secret.secret_bytes()),
        per_commitment_point: point.to_string(),
        next_commitment_number: next.0,
        next_per_commitment_point: next_point.to_string(),
        revocation_basepoint: None,
        revocationpubkey: None,
        revocation_privkey: None,
    };
    if let Some(rb) = r.revocation_basepoint.map(|p| p.0) {
        let d = keys::derive_revocation_pubkey(&secp, &RevocationBasepoint(rb), &point)
            .map_err(|e| CliError::failure(format!("revocationpubkey: {e}")))?;
        ex.line(format!(
            "revocationpubkey of the revoked commitment = {} (the counterparty can now compute its private key)",
            d.key
        ));
        out.revocation_basepoint = Some(rb.to_string());
        out.revocationpubkey = Some(d.key.to_string());
        if let Some(rbs) = r.revocation_basepoint_secret.map(|k| k.0) {
            if PublicKey::from_secret_key(&secp, &rbs) != rb {
                return Err(input.error(
                    "revocation_basepoint_secret",
                    "does not match revocation_basepoint",
                ));
            }
            let privkey = keys::derive_revocation_privkey(&secp, &rbs, &secret)
                .map_err(|e| CliError::failure(format!("revocation_privkey: {e}")))?;
            out.revocation_privkey = Some(hex(privkey.secret_bytes()));
        }
    }
    respond(out)
}
