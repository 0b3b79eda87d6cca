//! `lnkit swap create|lockup|claim|refund|nonce|sign-partial|verify`:
//! submarine, reverse and cross-chain swaps. Glue over [`crate::swap`]: each
//! step reads its typed request, calls the library, and writes its typed
//! response; the request and response types are the steps' JSON Schemas.

use bitcoin::secp256k1::Secp256k1;
use clap::{Args, Subcommand};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::field::{Hex32, Preimage};
use super::input::Input;
use super::{flag, CliError, Explain, StepResult};
use crate::invoice;
use crate::payment::{PaymentHash, PaymentPreimage};
use crate::swap::terms::HashError;
use crate::swap::timeout::LightningTerms;

mod chain;
pub mod create;
mod lock;
pub mod lockup;
pub mod musig;
pub mod spend;
pub mod terms;
pub mod verify;

pub(crate) use create::create;
pub(crate) use lockup::lockup;
pub(crate) use musig::{nonce, sign_partial};
pub(crate) use spend::{claim, claim_cooperative, refund};
pub(crate) use verify::verify;

/// `lnkit swap` subcommands.
#[derive(Subcommand, Debug)]
pub enum SwapCommand {
    /// The lock(s) of a swap: script or tap tree, address, timeouts, and the checklist.
    Create(CreateArgs),
    /// Pay a swap's address from wallet inputs (the lockup transaction).
    Lockup(LegArgs),
    /// Claim the lockup output with the preimage (or --cooperative, MuSig2 key path).
    Claim(SpendArgs),
    /// Take the lockup output back after the timeout (or --cooperative at any time).
    Refund(SpendArgs),
    /// MuSig2 round 1 for a cooperative spend: this signer's nonce.
    Nonce(LegArgs),
    /// MuSig2 round 2 for a cooperative spend: this signer's partial signature.
    SignPartial(LegArgs),
    /// Check a lockup a service describes against your own hash, keys and timeout rules.
    Verify(VerifyArgs),
}

/// Flags of `lnkit swap create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// submarine, reverse or chain (field `kind`).
    #[arg(long)]
    kind: Option<String>,
    /// p2wsh or p2tr (field `output_type`, default p2wsh).
    #[arg(long)]
    output_type: Option<String>,
    /// The chain of leg a, the initiator's lock (field `legs.a.chain`), for --kind chain.
    #[arg(long)]
    chain_a: Option<String>,
    /// The chain of leg b, the participant's lock (field `legs.b.chain`), for --kind chain.
    #[arg(long)]
    chain_b: Option<String>,
}

/// The leg of a cross-chain swap a step works on.
#[derive(Args, Debug)]
pub struct LegArgs {
    /// a or b: which leg of a `--kind chain` swap (its fields come from `legs.<leg>`).
    #[arg(long)]
    leg: Option<String>,
}

/// Flags of `lnkit swap claim` and `lnkit swap refund`.
#[derive(Args, Debug)]
pub struct SpendArgs {
    #[command(flatten)]
    leg: LegArgs,
    /// Spend by the MuSig2 key path with both partial signatures (P2TR only).
    #[arg(long)]
    cooperative: bool,
    /// Refund: build it even though the timeout has not been reached (it cannot be mined yet).
    #[arg(long)]
    force_unsafe: bool,
}

/// Flags of `lnkit swap verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// submarine, reverse or chain (field `kind`): which key is yours.
    #[arg(long)]
    kind: Option<String>,
}

/// Run `lnkit swap ...`.
pub fn run(cmd: SwapCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    match cmd {
        SwapCommand::Create(a) => {
            flag(input, "kind", a.kind);
            flag(input, "output_type", a.output_type);
            for (leg, chain) in [("a", a.chain_a), ("b", a.chain_b)] {
                if let Some(chain) = chain {
                    let mut legs = input.raw("legs").cloned().unwrap_or_else(|| json!({}));
                    if let Some(obj) = legs.as_object_mut() {
                        let entry = obj.entry(leg).or_insert_with(|| json!({}));
                        if let Some(e) = entry.as_object_mut() {
                            e.insert("chain".into(), json!(chain));
                        }
                    }
                    input.set("legs", legs);
                }
            }
            create(input, ex)
        }
        SwapCommand::Lockup(a) => lockup(&leg_input(input, a.leg)?, ex),
        SwapCommand::Claim(a) => spend::spend_step(
            &leg_input(input, a.leg.leg)?,
            spend::Step::Claim,
            a.cooperative,
            false,
            ex,
        ),
        SwapCommand::Refund(a) => spend::spend_step(
            &leg_input(input, a.leg.leg)?,
            spend::Step::Refund,
            a.cooperative,
            a.force_unsafe,
            ex,
        ),
        SwapCommand::Nonce(a) => nonce(&leg_input(input, a.leg)?, ex),
        SwapCommand::SignPartial(a) => sign_partial(&leg_input(input, a.leg)?, ex),
        SwapCommand::Verify(a) => {
            flag(input, "kind", a.kind);
            verify(input, ex)
        }
    }
}

/// The input with one leg's fields laid over the top level, for `--leg`.
fn leg_input(input: &Input, leg: Option<String>) -> Result<Input, CliError> {
    let Some(leg) = leg else {
        return Ok(input.clone());
    };
    if leg != "a" && leg != "b" {
        return Err(CliError::bad(format!(
            "--leg: expected a or b, got {leg:?}"
        )));
    }
    let legs = input.object("legs")?.ok_or_else(|| {
        input.error(
            "legs",
            "missing required field (--leg reads the legs of a --kind chain swap)",
        )
    })?;
    let fields = legs
        .object(&leg)?
        .ok_or_else(|| legs.error(&leg, "missing required field"))?;
    let mut merged = input.clone();
    merged.merge(fields);
    Ok(merged)
}

/// Where a swap's payment hash comes from: any of these, all agreeing.
#[derive(Deserialize, JsonSchema)]
pub struct HashIn {
    /// The hashlock's payment hash (or give preimage, or an invoice).
    payment_hash: Option<Hex32>,
    /// The 32-byte preimage of payment_hash.
    preimage: Option<Preimage>,
    /// The same as preimage, under BOLT 11's name.
    payment_preimage: Option<Preimage>,
    /// A BOLT 11 invoice: its payment hash (and its CLTV delta and expiry).
    invoice: Option<String>,
}

/// What an invoice contributes to a swap.
pub(crate) struct InvoiceTerms {
    pub hash: PaymentHash,
    pub ln: LightningTerms,
    pub amount_msat: Option<u64>,
}

impl HashIn {
    /// The preimage and the field that gave it.
    pub(crate) fn preimage(&self) -> Option<(&'static str, PaymentPreimage)> {
        match (&self.preimage, &self.payment_preimage) {
            (Some(p), _) => Some(("preimage", p.0)),
            (None, Some(p)) => Some(("payment_preimage", p.0)),
            (None, None) => None,
        }
    }

    /// The decoded invoice's terms.
    pub(crate) fn invoice(&self, at: &Input) -> Result<Option<InvoiceTerms>, CliError> {
        let Some(text) = &self.invoice else {
            return Ok(None);
        };
        let secp = Secp256k1::verification_only();
        let decoded = invoice::decode(&secp, text).map_err(|e| at.error("invoice", e))?;
        let inv = &decoded.invoice;
        let hash = inv
            .payment_hash()
            .map(PaymentHash)
            .ok_or_else(|| at.error("invoice", "it has no payment hash (p field)"))?;
        Ok(Some(InvoiceTerms {
            hash,
            ln: LightningTerms {
                min_final_cltv_expiry_delta: u32::try_from(inv.min_final_cltv_expiry_delta())
                    .unwrap_or(u32::MAX),
                expires_at: Some(inv.expires_at()),
            },
            amount_msat: inv.amount_msat,
        }))
    }

    /// The one payment hash (`invoice`: the invoice whose hash counts).
    pub(crate) fn hash(
        &self,
        at: &Input,
        invoice: Option<&InvoiceTerms>,
    ) -> Result<PaymentHash, CliError> {
        let preimage = self.preimage();
        crate::swap::terms::payment_hash(
            self.payment_hash.as_ref().map(|h| PaymentHash(h.0)),
            preimage.as_ref().map(|(_, p)| p),
            invoice.map(|i| i.hash),
        )
        .map_err(|e| match e {
            HashError::Preimage { .. } => at.error(preimage.map_or("preimage", |p| p.0), e),
            HashError::Invoice { .. } => at.error("invoice", e),
            HashError::Missing => at.error("payment_hash", e),
        })
    }
}
