//! `lnkit keys derive`: BOLT 3 key derivation for one commitment.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use clap::{Args, Subcommand};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field::{Privkey, Pubkey};
use super::input::Input;
use super::{flag, hex, CliError, Explain, StepResult};
use crate::cli::respond;
use crate::keys::{self, Basepoint, PerCommitmentPoint, PerCommitmentSecret, RevocationBasepoint};

/// `lnkit keys ...`
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Derive pubkey/privkey (localpubkey, htlcpubkey, delayedpubkey family) and revocationpubkey/privkey.
    Derive(DeriveArgs),
}

/// Flags of `lnkit keys derive` (each sets the input field of the same name).
#[derive(Args, Debug)]
pub struct DeriveArgs {
    /// A payment, delayed_payment or htlc basepoint (field `basepoint`).
    #[arg(long)]
    basepoint: Option<String>,
    /// The per-commitment point (field `per_commitment_point`).
    #[arg(long)]
    per_commitment_point: Option<String>,
    /// The counterparty's revocation basepoint (field `revocation_basepoint`).
    #[arg(long)]
    revocation_basepoint: Option<String>,
}

/// `keys derive`'s fields: each point directly, or as its secret (then the
/// private key is derived too), or both (then they must agree).
#[derive(Deserialize, JsonSchema)]
pub struct DeriveIn {
    /// The per-commitment point (or per_commitment_secret).
    per_commitment_point: Option<Pubkey>,
    /// The per-commitment secret.
    per_commitment_secret: Option<Privkey>,
    /// A payment, delayed_payment or htlc basepoint.
    basepoint: Option<Pubkey>,
    /// The basepoint's secret: privkey comes out too.
    basepoint_secret: Option<Privkey>,
    /// The counterparty's revocation basepoint.
    revocation_basepoint: Option<Pubkey>,
    /// Its secret: with per_commitment_secret, revocation_privkey comes out too.
    revocation_basepoint_secret: Option<Privkey>,
}

/// The derived keys (BOLT 3 "Key Derivation").
#[derive(Serialize, JsonSchema)]
pub struct DeriveOut {
    per_commitment_point: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    basepoint: Option<String>,
    /// SHA256(per_commitment_point || basepoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    tweak: Option<String>,
    /// basepoint + tweak·G: localpubkey, htlcpubkey or delayedpubkey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pubkey: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    privkey: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_basepoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocationpubkey: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_privkey: Option<String>,
}

/// A point given directly, or as its secret, or both (then they must agree).
fn point_or_secret(
    input: &Input,
    (point, point_field): (&Option<Pubkey>, &str),
    (secret, secret_field): (&Option<Privkey>, &str),
) -> Result<(Option<PublicKey>, Option<SecretKey>), CliError> {
    let secp = Secp256k1::signing_only();
    let point = point.as_ref().map(|p| p.0);
    let secret = secret.as_ref().map(|s| s.0);
    if let (Some(p), Some(s)) = (point, secret) {
        if PublicKey::from_secret_key(&secp, &s) != p {
            return Err(input.error(secret_field, format!("does not match {point_field}")));
        }
    }
    Ok((
        point.or(secret.map(|s| PublicKey::from_secret_key(&secp, &s))),
        secret,
    ))
}

fn derivation_failed(e: keys::KeyError) -> CliError {
    CliError::failure(format!("key derivation: {e}"))
}

/// Run `lnkit keys ...`.
pub fn run(cmd: KeysCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let KeysCommand::Derive(args) = cmd;
    flag(input, "basepoint", args.basepoint);
    flag(input, "per_commitment_point", args.per_commitment_point);
    flag(input, "revocation_basepoint", args.revocation_basepoint);
    derive(input, ex)
}

/// `lnkit keys derive` on an input object.
pub fn derive(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let d: DeriveIn = input.typed()?;
    let (point, pc_secret) = point_or_secret(
        input,
        (&d.per_commitment_point, "per_commitment_point"),
        (&d.per_commitment_secret, "per_commitment_secret"),
    )?;
    let point = PerCommitmentPoint(point.ok_or_else(|| {
        input.error(
            "per_commitment_point",
            "missing required field (or give per_commitment_secret)",
        )
    })?);
    let pc_secret = pc_secret.map(PerCommitmentSecret);
    let (basepoint, basepoint_secret) = point_or_secret(
        input,
        (&d.basepoint, "basepoint"),
        (&d.basepoint_secret, "basepoint_secret"),
    )?;
    let (revocation_basepoint, revocation_secret) = point_or_secret(
        input,
        (&d.revocation_basepoint, "revocation_basepoint"),
        (
            &d.revocation_basepoint_secret,
            "revocation_basepoint_secret",
        ),
    )?;
    if basepoint.is_none() && revocation_basepoint.is_none() {
        return Err(input.error(
            "basepoint",
            "missing: give basepoint (or basepoint_secret), revocation_basepoint (or revocation_basepoint_secret), or both",
        ));
    }

    let mut out = DeriveOut {
        per_commitment_point: point.to_string(),
        basepoint: None,
        tweak: None,
        pubkey: None,
        privkey: None,
        revocation_basepoint: None,
        revocationpubkey: None,
        revocation_privkey: None,
    };
    if let Some(base) = basepoint {
        let d = keys::derive_pubkey(&secp, &Basepoint(base), &point).map_err(derivation_failed)?;
        ex.line(format!(
            "pubkey = basepoint + SHA256(per_commitment_point || basepoint)*G\n  SHA256(per_commitment_point || basepoint) = {}\n  pubkey = {}",
            hex(d.tweak),
            d.key
        ));
        out.basepoint = Some(base.to_string());
        out.tweak = Some(hex(d.tweak));
        out.pubkey = Some(d.key.to_string());
        if let Some(secret) = basepoint_secret {
            let privkey =
                keys::derive_privkey(&secp, &secret, &point).map_err(derivation_failed)?;
            ex.line(format!(
                "privkey = basepoint_secret + SHA256(per_commitment_point || basepoint) mod n = {}",
                hex(privkey.secret_bytes())
            ));
            out.privkey = Some(hex(privkey.secret_bytes()));
        }
    }
    if let Some(rb) = revocation_basepoint {
        let d = keys::derive_revocation_pubkey(&secp, &RevocationBasepoint(rb), &point)
            .map_err(derivation_failed)?;
        ex.line(format!(
            "revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)\n                 + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)\n  SHA256(revocation_basepoint || per_commitment_point) = {}\n  revocation_basepoint * that = {}\n  SHA256(per_commitment_point || revocation_basepoint) = {}\n  per_commitment_point * that = {}\n  revocationpubkey = {}",
            hex(d.basepoint_tweak), d.basepoint_term, hex(d.point_tweak), d.point_term, d.key
        ));
        out.revocation_basepoint = Some(rb.to_string());
        out.revocationpubkey = Some(d.key.to_string());
        if let (Some(rs), Some(pcs)) = (revocation_secret, pc_secret) {
            let privkey =
                keys::derive_revocation_privkey(&secp, &rs, &pcs).map_err(derivation_failed)?;
            ex.line(format!(
                "revocation_privkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)\n                   + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint) mod n = {}",
                hex(privkey.secret_bytes())
            ));
            out.revocation_privkey = Some(hex(privkey.secret_bytes()));
        }
    }
    respond(out)
}
