//! `lnkit keys derive`: BOLT 3 key derivation for one commitment.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::input::{self, Input};
use super::{flag, hex, CliError, Explain, StepResult};
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

/// A point given directly, or as its secret, or both (then they must agree).
fn point_or_secret(
    input: &Input,
    point_field: &str,
    secret_field: &str,
) -> Result<(Option<PublicKey>, Option<SecretKey>), CliError> {
    let secp = Secp256k1::signing_only();
    let point = input.opt(point_field, input::pubkey)?;
    let secret = input.opt(secret_field, input::secret_key)?;
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
    let (point, pc_secret) =
        point_or_secret(input, "per_commitment_point", "per_commitment_secret")?;
    let point = PerCommitmentPoint(point.ok_or_else(|| {
        input.error(
            "per_commitment_point",
            "missing required field (or give per_commitment_secret)",
        )
    })?);
    let pc_secret = pc_secret.map(PerCommitmentSecret);
    let (basepoint, basepoint_secret) = point_or_secret(input, "basepoint", "basepoint_secret")?;
    let (revocation_basepoint, revocation_secret) =
        point_or_secret(input, "revocation_basepoint", "revocation_basepoint_secret")?;
    if basepoint.is_none() && revocation_basepoint.is_none() {
        return Err(input.error(
            "basepoint",
            "missing: give basepoint (or basepoint_secret), revocation_basepoint (or revocation_basepoint_secret), or both",
        ));
    }

    let mut out = Map::new();
    out.insert("per_commitment_point".into(), json!(point.to_string()));
    if let Some(base) = basepoint {
        let d = keys::derive_pubkey(&secp, &Basepoint(base), &point).map_err(derivation_failed)?;
        ex.line(format!(
            "pubkey = basepoint + SHA256(per_commitment_point || basepoint)*G\n  SHA256(per_commitment_point || basepoint) = {}\n  pubkey = {}",
            hex(d.tweak),
            d.key
        ));
        out.insert("basepoint".into(), json!(base.to_string()));
        out.insert("tweak".into(), json!(hex(d.tweak)));
        out.insert("pubkey".into(), json!(d.key.to_string()));
        if let Some(secret) = basepoint_secret {
            let privkey =
                keys::derive_privkey(&secp, &secret, &point).map_err(derivation_failed)?;
            ex.line(format!(
                "privkey = basepoint_secret + SHA256(per_commitment_point || basepoint) mod n = {}",
                hex(privkey.secret_bytes())
            ));
            out.insert("privkey".into(), json!(hex(privkey.secret_bytes())));
        }
    }
    if let Some(rb) = revocation_basepoint {
        let d = keys::derive_revocation_pubkey(&secp, &RevocationBasepoint(rb), &point)
            .map_err(derivation_failed)?;
        ex.line(format!(
            "revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)\n                 + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)\n  SHA256(revocation_basepoint || per_commitment_point) = {}\n  revocation_basepoint * that = {}\n  SHA256(per_commitment_point || revocation_basepoint) = {}\n  per_commitment_point * that = {}\n  revocationpubkey = {}",
            hex(d.basepoint_tweak), d.basepoint_term, hex(d.point_tweak), d.point_term, d.key
        ));
        out.insert("revocation_basepoint".into(), json!(rb.to_string()));
        out.insert("revocationpubkey".into(), json!(d.key.to_string()));
        if let (Some(rs), Some(pcs)) = (revocation_secret, pc_secret) {
            let privkey =
                keys::derive_revocation_privkey(&secp, &rs, &pcs).map_err(derivation_failed)?;
            ex.line(format!(
                "revocation_privkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)\n                   + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint) mod n = {}",
                hex(privkey.secret_bytes())
            ));
            out.insert(
                "revocation_privkey".into(),
                json!(hex(privkey.secret_bytes())),
            );
        }
    }
    Ok(Value::Object(out))
}
