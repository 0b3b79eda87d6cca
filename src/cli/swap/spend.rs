//! `lnkit swap lockup|claim|refund`: pay the swap's address, and spend it by
//! the claim leaf, the refund leaf, or (`--cooperative`) the MuSig2 key path.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{FeeRate, ScriptBuf};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::field::{BlockHeight, Privkey, Sat, Tx, Uint};
use super::super::{hex, CliError, Explain, Input, StepResult};
use super::musig::{key_path, role_pair, RolePair};
use super::terms::{contract, destination, feerate, params};
use super::HashIn;
use crate::cli::respond;
use crate::swap::contract::{Contract, OutputType};
use crate::swap::musig;
use crate::swap::spend::{self, Path, Spend, SpendError, SpendRequest};
use crate::swap::timeout;
use crate::verify::verify_transaction;

/// What every spend of the lockup reads.
#[derive(Deserialize, JsonSchema)]
pub struct SpendIn {
    /// The lockup transaction.
    lockup_tx_hex: Tx,
    /// The amount expected in the lockup output.
    amount_sat: Option<Sat>,
    /// An address of the swap's chain, or a scriptPubKey hex.
    destination: String,
    /// The feerate (or feerate_per_kw).
    feerate_sat_per_vb: Option<Uint>,
    /// The feerate in sat per 1000 weight units.
    feerate_per_kw: Option<Uint>,
}

/// `swap claim`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct ClaimIn {
    /// The claim key (not for --cooperative).
    claim_privkey: Option<Privkey>,
}

/// `swap refund`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct RefundIn {
    /// The refund key (not for --cooperative).
    refund_privkey: Option<Privkey>,
    /// The chain's height now: the refund waits for the timeout.
    current_height: Option<BlockHeight>,
}

/// --cooperative: both rounds of MuSig2.
#[derive(Deserialize, JsonSchema)]
pub struct CooperativeIn {
    /// Both public nonces (swap nonce).
    pub_nonces: Option<RolePair>,
    /// Both partial signatures (swap sign-partial).
    partial_signatures: Option<RolePair>,
}

/// A spend of the lockup, checked by the interpreter.
#[derive(Serialize, JsonSchema)]
pub struct SpendOut {
    /// claim or refund.
    step: String,
    /// script, claim_leaf, refund_leaf or key.
    path: String,
    txid: String,
    tx_hex: String,
    /// The lockup outpoint.
    spends: String,
    spent_amount_sat: u64,
    amount_sat: u64,
    fee_sat: u64,
    vsize: usize,
    /// The size the fee was paid for (maximum-size signatures).
    fee_vsize: u64,
    feerate_sat_per_vb: u64,
    lock_time: u32,
    sequence: u32,
    sighash: String,
    witness: Vec<String>,
    verified: bool,
}

/// Claim or refund.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Claim,
    Refund,
}

/// The contract, lockup transaction, destination and feerate every spend shares.
pub(super) struct SpendInput {
    pub contract: Contract,
    pub feerate: FeeRate,
    spend: SpendIn,
    destination: ScriptBuf,
}

pub(super) fn spend_input(input: &Input) -> Result<SpendInput, CliError> {
    let contract = contract(input)?;
    let params = params(input)?;
    let spend: SpendIn = input.typed()?;
    Ok(SpendInput {
        destination: destination(input, "destination", &spend.destination, params)?,
        feerate: feerate(input, &spend.feerate_sat_per_vb, &spend.feerate_per_kw)?,
        spend,
        contract,
    })
}

pub(super) fn build_spend(input: &Input, s: &SpendInput, path: Path) -> Result<Spend, CliError> {
    let secp = Secp256k1::new();
    let req = SpendRequest {
        contract: &s.contract,
        lockup_tx: &s.spend.lockup_tx_hex.0,
        destination: s.destination.clone(),
        feerate: s.feerate,
        expected_amount: s.spend.amount_sat.as_ref().map(|a| a.0),
    };
    spend::build(&secp, &req, path).map_err(|e| match e {
        SpendError::NotPaid { .. } | SpendError::AmountMismatch { .. } => {
            input.error("lockup_tx_hex", e)
        }
        SpendError::WrongPreimage { .. } => input.error(
            if input.has("preimage") {
                "preimage"
            } else {
                "payment_preimage"
            },
            e,
        ),
        SpendError::WrongKey { role, .. } => input.error(&format!("{role}_privkey"), e),
        SpendError::TooSmall { .. } => input.error("feerate_sat_per_vb", e),
        SpendError::NoKeyPath => input.error(
            "output_type",
            "--cooperative needs a p2tr swap: a P2WSH swap has no key path",
        ),
    })
}

fn spend_out(step: &str, path: &str, s: &Spend, feerate: FeeRate) -> StepResult {
    // Bitcoin Core's interpreter checks the spend before it is shown.
    verify_transaction(&s.tx, std::slice::from_ref(&s.prevout))
        .map_err(|e| CliError::failure(format!("the {step} does not verify: {e}")))?;
    let input = &s.tx.input[0];
    let out = SpendOut {
        step: step.into(),
        path: path.into(),
        txid: s.tx.compute_txid().to_string(),
        tx_hex: serialize_hex(&s.tx),
        spends: input.previous_output.to_string(),
        spent_amount_sat: s.prevout.value.to_sat(),
        amount_sat: s.tx.output[0].value.to_sat(),
        fee_sat: s.fee.to_sat(),
        vsize: s.tx.vsize(),
        fee_vsize: s.vsize,
        feerate_sat_per_vb: feerate.to_sat_per_vb_ceil(),
        lock_time: s.tx.lock_time.to_consensus_u32(),
        sequence: input.sequence.0,
        sighash: hex(s.sighash),
        witness: input.witness.iter().map(hex).collect(),
        verified: true,
    };
    respond(out)
}

/// A claim or refund, by its leaf or script, or (`cooperative`) by the key path.
pub(crate) fn spend_step(
    input: &Input,
    step: Step,
    cooperative: bool,
    force: bool,
    ex: &mut Explain,
) -> StepResult {
    let s = spend_input(input)?;
    let name = if step == Step::Claim {
        "claim"
    } else {
        "refund"
    };
    if cooperative {
        let co: CooperativeIn = input.typed()?;
        let (mut built, session) = key_path(input, &s)?;
        let nonces = role_pair(input, "pub_nonces", &co.pub_nonces, musig::pub_nonce)?;
        let partials = role_pair(
            input,
            "partial_signatures",
            &co.partial_signatures,
            musig::partial_signature,
        )?;
        let sig = session.aggregate(&nonces, &partials).map_err(|e| match e {
            musig::MusigError::BadPartial { .. } => CliError::bad(e.to_string()),
            other => input.error("partial_signatures", other),
        })?;
        spend::finish_key_path(&mut built, sig);
        ex.line(format!(
            "cooperative {name}: both partial signatures verify; aggregated into one BIP 340 signature for output key {}",
            session.output_key().x_only_public_key().0
        ));
        return spend_out(name, "key", &built, s.feerate);
    }
    let t = s.contract.terms;
    let built = match step {
        Step::Claim => {
            let h: HashIn = input.typed()?;
            let (_, p) = h.preimage().ok_or_else(|| {
                input.error(
                    "preimage",
                    "missing required field (the 32-byte preimage of payment_hash)",
                )
            })?;
            let c: ClaimIn = input.typed()?;
            let key = c
                .claim_privkey
                .ok_or_else(|| input.error("claim_privkey", "missing required field"))?;
            let path = Path::Claim {
                preimage: &p,
                key: &key.0,
            };
            build_spend(input, &s, path)?
        }
        Step::Refund => {
            let r: RefundIn = input.typed()?;
            let key = r
                .refund_privkey
                .ok_or_else(|| input.error("refund_privkey", "missing required field"))?;
            let current = r
                .current_height
                .ok_or_else(|| input.error("current_height", "missing required field"))?;
            if !force {
                timeout::refund_open(t.timeout, current.0).map_err(|e| {
                    input.error(
                        "current_height",
                        format!("{e}. --force-unsafe builds it anyway"),
                    )
                })?;
            }
            let path = Path::Refund {
                key: &key.0,
                lock_time: t.timeout,
            };
            build_spend(input, &s, path)?
        }
    };
    let path = match (s.contract.output_type(), step) {
        (OutputType::P2wsh, _) => "script",
        (OutputType::P2tr, Step::Claim) => "claim_leaf",
        (OutputType::P2tr, Step::Refund) => "refund_leaf",
    };
    ex.line(format!(
        "{name}: spends {} ({} sat); fee {} sat for {} vB with maximum-size signatures; nLockTime {}",
        built.tx.input[0].previous_output,
        built.prevout.value.to_sat(),
        built.fee.to_sat(),
        built.vsize,
        built.tx.lock_time.to_consensus_u32()
    ));
    spend_out(name, path, &built, s.feerate)
}

/// `lnkit swap claim` on an input object.
pub(crate) fn claim(input: &Input, ex: &mut Explain) -> StepResult {
    spend_step(input, Step::Claim, false, false, ex)
}

/// `lnkit swap claim --cooperative` on an input object.
pub(crate) fn claim_cooperative(input: &Input, ex: &mut Explain) -> StepResult {
    spend_step(input, Step::Claim, true, false, ex)
}

/// `lnkit swap refund` on an input object.
pub(crate) fn refund(input: &Input, ex: &mut Explain) -> StepResult {
    spend_step(input, Step::Refund, false, false, ex)
}
