//! Reading a channel from JSON, shared by `build-commitment`, `penalty` and
//! `close`. The two parties are named `local` and `remote` throughout
//! (`local_funding_pubkey`, `remote_htlc_basepoint`, `to_local_msat` = local's
//! balance, ...); `holder` says whose commitment a step is about, and HTLC
//! directions are from the holder's view, as BOLT 3 writes them.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Amount, OutPoint};

pub use super::channel_fields::*;
use super::input::Input;
use super::CliError;
use crate::amount::Msat;
use crate::keys::{
    DelayedPaymentBasepoint, HtlcBasepoint, PaymentBasepoint, PerCommitmentPoint,
    PerCommitmentSecret, RevocationBasepoint,
};
use crate::payment::{CltvExpiry, PaymentPreimage};
use crate::shachain::{self, CommitmentNumber, Index};
use crate::tx::commitment::{
    obscuring_factor, ChannelType, CommitmentKeys, CounterpartyBasepoints, HolderBasepoints, Htlc,
    Side,
};

/// The fields every channel step needs.
#[derive(Clone, Debug)]
pub struct Channel {
    /// `funding_txid:funding_output_index`.
    pub funding_outpoint: OutPoint,
    /// `funding_amount_sat`.
    pub funding_amount: Amount,
    /// `local_funding_pubkey` (or from `local_funding_privkey`).
    pub local_funding_pubkey: PublicKey,
    /// `remote_funding_pubkey` (or from `remote_funding_privkey`).
    pub remote_funding_pubkey: PublicKey,
    /// `channel_type`.
    pub channel_type: ChannelType,
    /// `opener`: who opened the channel and pays the commitment fee (default local).
    pub opener: Side,
}

impl Channel {
    /// A party's funding pubkey.
    pub fn funding_pubkey(&self, side: Side) -> PublicKey {
        match side {
            Side::Local => self.local_funding_pubkey,
            Side::Remote => self.remote_funding_pubkey,
        }
    }
}

/// `local` or `remote`, the prefix of a party's fields.
pub fn prefix(side: Side) -> &'static str {
    match side {
        Side::Local => "local",
        Side::Remote => "remote",
    }
}

/// A party's point `{local|remote}_{name}`, or the point of `{..}_{name}_secret`
/// (or of `{..}_{name}_privkey` for the funding key).
pub fn point(input: &Input, side: Side, name: &str) -> Result<PublicKey, CliError> {
    let field = format!("{}_{name}", prefix(side));
    let keys: KeysIn = input.typed()?;
    if let Some(p) = keys.point(side, name).map(|p| p.0) {
        if let Some(s) = secret(input, side, name)? {
            if PublicKey::from_secret_key(&Secp256k1::signing_only(), &s) != p {
                return Err(
                    input.error(&secret_field(side, name), format!("does not match {field}"))
                );
            }
        }
        return Ok(p);
    }
    match secret(input, side, name)? {
        Some(s) => Ok(PublicKey::from_secret_key(&Secp256k1::signing_only(), &s)),
        None => Err(input.error(
            &field,
            format!(
                "missing required field (or give {})",
                secret_field(side, name)
            ),
        )),
    }
}

fn secret_field(side: Side, name: &str) -> String {
    match name.strip_suffix("_pubkey") {
        Some(stem) => format!("{}_{stem}_privkey", prefix(side)),
        None => format!("{}_{name}_secret", prefix(side)),
    }
}

/// The secret of a party's point, when given.
pub fn secret(input: &Input, side: Side, name: &str) -> Result<Option<SecretKey>, CliError> {
    let keys: KeysIn = input.typed()?;
    Ok(keys.secret(side, name).map(|k| k.0))
}

/// A party's HTLC private key for one commitment (BOLT 3 "Key
/// Derivation": `htlcpubkey` is the HTLC basepoint tweaked by the
/// commitment's per-commitment point): `given` (`{side}_htlc_privkey`), or
/// derived from `base` (`{side}_htlc_basepoint_secret`) and `point`, which
/// is asked for only then. None when neither is given.
pub fn htlc_privkey(
    input: &Input,
    side: Side,
    given: Option<SecretKey>,
    base: Option<SecretKey>,
    point: impl FnOnce() -> Result<PerCommitmentPoint, CliError>,
) -> Result<Option<SecretKey>, CliError> {
    if given.is_some() {
        return Ok(given);
    }
    let Some(base) = base else { return Ok(None) };
    crate::keys::derive_privkey(&Secp256k1::signing_only(), &base, &point()?)
        .map(Some)
        .map_err(|e| input.error(&format!("{}_htlc_basepoint_secret", prefix(side)), e))
}

/// The channel fields every step reads. `channel_type` is required unless
/// `default_type` is given (a mutual close does not depend on it).
pub fn read_channel_with(
    input: &Input,
    default_type: Option<ChannelType>,
) -> Result<Channel, CliError> {
    let f: FundingIn = input.typed()?;
    let channel_type = match f.channel_type {
        Some(ct) => ct,
        None => default_type.ok_or_else(|| {
            input.error(
                "channel_type",
                "missing required field (expected one of static_remotekey | anchors_zero_fee_htlc_tx | legacy | anchor_outputs)",
            )
        })?,
    };
    Ok(Channel {
        funding_outpoint: OutPoint {
            txid: f.funding_txid.0,
            vout: f.funding_output_index.0,
        },
        funding_amount: f.funding_amount_sat.0,
        local_funding_pubkey: point(input, Side::Local, "funding_pubkey")?,
        remote_funding_pubkey: point(input, Side::Remote, "funding_pubkey")?,
        channel_type,
        opener: f.opener.unwrap_or(Side::Local),
    })
}

/// The channel fields every step reads, `channel_type` required.
pub fn read_channel(input: &Input) -> Result<Channel, CliError> {
    read_channel_with(input, None)
}

/// The basepoints `holder`'s commitment derives its keys from.
pub fn basepoints(
    input: &Input,
    holder: Side,
) -> Result<(HolderBasepoints, CounterpartyBasepoints), CliError> {
    let other = holder.other();
    Ok((
        HolderBasepoints {
            delayed_payment: DelayedPaymentBasepoint(point(
                input,
                holder,
                "delayed_payment_basepoint",
            )?),
            htlc: HtlcBasepoint(point(input, holder, "htlc_basepoint")?),
        },
        CounterpartyBasepoints {
            revocation: RevocationBasepoint(point(input, other, "revocation_basepoint")?),
            payment: PaymentBasepoint(point(input, other, "payment_basepoint")?),
            htlc: HtlcBasepoint(point(input, other, "htlc_basepoint")?),
        },
    ))
}

/// The obscuring factor: SHA256 of the opener's then the accepter's payment basepoint.
pub fn obscuring(input: &Input, opener: Side) -> Result<u64, CliError> {
    let o = point(input, opener, "payment_basepoint")?;
    let a = point(input, opener.other(), "payment_basepoint")?;
    Ok(obscuring_factor(&o, &a))
}

/// The holder's point for commitment `n`: `per_commitment_point`,
/// `per_commitment_secret`, or generated from the holder's `shachain_seed`.
pub fn per_commitment(
    input: &Input,
    n: CommitmentNumber,
) -> Result<(PerCommitmentPoint, Option<PerCommitmentSecret>), CliError> {
    let secp = Secp256k1::signing_only();
    let p: PerCommitmentIn = input.typed()?;
    let secret = match p.per_commitment_secret.map(|k| PerCommitmentSecret(k.0)) {
        Some(s) => Some(s),
        None => match p.shachain_seed.map(|s| s.0) {
            Some(seed) => {
                let index = Index::from_commitment_number(n).expect("checked by the parser");
                let bytes = shachain::generate_from_seed(&seed, index);
                Some(PerCommitmentSecret(SecretKey::from_slice(&bytes).map_err(
                    |_| CliError::failure("the generated per_commitment_secret is not a valid key"),
                )?))
            }
            None => None,
        },
    };
    let given = p.per_commitment_point.map(|k| PerCommitmentPoint(k.0));
    match (given, secret) {
        (Some(p), Some(s)) if s.point(&secp) != p => Err(input.error(
            "per_commitment_point",
            "does not match per_commitment_secret (or the shachain_seed's secret for this commitment)",
        )),
        (Some(p), s) => Ok((p, s)),
        (None, Some(s)) => Ok((s.point(&secp), Some(s))),
        (None, None) => Err(input.error(
            "per_commitment_point",
            "missing required field (or give per_commitment_secret or shachain_seed)",
        )),
    }
}

/// The holder's commitment keys.
pub fn commitment_keys(
    input: &Input,
    holder: Side,
    point: &PerCommitmentPoint,
    channel_type: ChannelType,
) -> Result<CommitmentKeys, CliError> {
    let (h, c) = basepoints(input, holder)?;
    CommitmentKeys::derive(&Secp256k1::verification_only(), point, &h, &c, channel_type)
        .map_err(|e| CliError::failure(format!("key derivation: {e}")))
}

/// An HTLC with the preimage, when known.
pub type HtlcEntry = (Htlc, Option<PaymentPreimage>);

/// `htlcs`: each `{direction, amount_msat, payment_hash | payment_preimage, cltv_expiry}`.
pub fn htlcs(input: &Input) -> Result<Vec<HtlcEntry>, CliError> {
    let typed = input.typed::<HtlcsIn>()?.htlcs.unwrap_or_default();
    // Each HTLC's hash is checked against its preimage with its own path.
    let items = if typed.is_empty() {
        vec![]
    } else {
        input.objects("htlcs")?
    };
    typed
        .into_iter()
        .zip(&items)
        .map(|(h, item)| {
            Ok((
                Htlc {
                    direction: h.direction,
                    amount: Msat(h.amount_msat.0),
                    payment_hash: super::htlc_script::payment_hash(item)?,
                    cltv_expiry: CltvExpiry(h.cltv_expiry.0),
                },
                h.payment_preimage.map(|p| PaymentPreimage(p.0)),
            ))
        })
        .collect()
}
