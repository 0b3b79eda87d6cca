//! `lnkit swap create`: the lock (or, `--kind chain`, the two locks) of a
//! swap, with its timeouts checked against the Lightning side or each other.
//! Also the swap's terms as every later step reads them back.

use bitcoin::secp256k1::Secp256k1;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::field::{BlockHeight, Net, Pubkey, Sat, Uint, Uint32};
use super::super::{CliError, Explain, Input, StepResult};
use super::chain::{create_chain, ChainOut};
use super::lock::{checklist, explain_lock, lock_out, BuiltLock, LockOut};
use super::terms::{chain_params, LightningIn};
use super::HashIn;
use crate::amount::Msat;
use crate::cli::respond;
use crate::payment::PaymentHash;
use crate::swap::chain::Chain;
use crate::swap::contract::{Contract, OutputType, SwapTerms};
use crate::swap::musig::KeyOrder;
use crate::swap::terms;
use crate::swap::timeout;
use crate::swap::SwapKind;

/// `swap create`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct CreateIn {
    /// submarine, reverse or chain (--kind).
    kind: SwapKind,
    /// p2wsh or p2tr (--output-type; default p2wsh).
    pub(super) output_type: Option<OutputType>,
    /// The MuSig2 key order of a p2tr lock (default sorted, BIP 327 KeySort).
    musig_key_order: Option<KeyOrder>,
    /// --kind chain: the two locks, each with the fields of one lock.
    pub(super) legs: Option<Legs>,
    /// --kind chain: how much longer leg a must last than leg b (default 86400).
    pub(super) min_margin_seconds: Option<Uint>,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    network: Option<Net>,
}

/// The two legs of a cross-chain swap.
#[derive(Deserialize, JsonSchema)]
pub struct Legs {
    /// The initiator's lock (it locks first, and its lock lasts longer).
    pub(super) a: LockIn,
    /// The participant's lock.
    pub(super) b: LockIn,
}

/// One lock's fields (at the top, or in legs.a and legs.b).
#[derive(Deserialize, JsonSchema)]
pub struct LockIn {
    /// The key that claims with the preimage.
    claim_pubkey: Pubkey,
    /// The key that takes the coins back after the timeout.
    refund_pubkey: Pubkey,
    /// The amount locked.
    amount_sat: Sat,
    /// The chain's height now.
    current_height: BlockHeight,
    /// The refund's height (or give timeout_blocks).
    timeout_block_height: Option<BlockHeight>,
    /// Blocks from current_height to the refund.
    timeout_blocks: Option<Uint32>,
    /// bitcoin or litecoin (default bitcoin).
    chain: Option<Chain>,
}

/// What `swap create` writes.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum CreateOut {
    /// A submarine or reverse swap: one lock.
    One(Box<OneOut>),
    /// A cross-chain swap: two locks.
    Chain(Box<ChainOut>),
}

/// A submarine or reverse swap.
#[derive(Serialize, JsonSchema)]
pub struct OneOut {
    kind: SwapKind,
    #[serde(flatten)]
    lock: LockOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    lightning: Option<LightningOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoice: Option<String>,
    checklist: Vec<String>,
}

/// The Lightning terms the lock was checked against.
#[derive(Serialize, JsonSchema)]
pub struct LightningOut {
    min_final_cltv_expiry_delta: u32,
    invoice_expires_at: Option<u64>,
    margin_blocks: u32,
}

pub(super) fn build_lock(
    l: &LockIn,
    at: &Input,
    top_at: &Input,
    top: &CreateIn,
    hash: PaymentHash,
) -> Result<BuiltLock, CliError> {
    let secp = Secp256k1::verification_only();
    let params = chain_params(l.chain, top.network.as_ref(), top_at)?;
    let current = l.current_height.0;
    let timeout = terms::timeout_height(
        current,
        l.timeout_block_height.as_ref().map(|h| h.0),
        l.timeout_blocks.as_ref().map(|n| n.0),
    )
    .map_err(|e| match e {
        terms::TimeoutHeightError::Missing => at.error("timeout_block_height", e),
        _ => at.error("timeout_blocks", e),
    })?;
    let blocks =
        timeout::blocks_left(timeout, current).map_err(|e| at.error("timeout_block_height", e))?;
    let terms = SwapTerms {
        payment_hash: hash,
        claim_pubkey: l.claim_pubkey.0,
        refund_pubkey: l.refund_pubkey.0,
        timeout,
    };
    if terms.claim_pubkey == terms.refund_pubkey {
        return Err(at.error(
            "refund_pubkey",
            "is the claim_pubkey too: the two sides of a swap need their own keys",
        ));
    }
    let amount = l.amount_sat.0;
    let contract = Contract::new(
        &secp,
        terms,
        top.output_type.unwrap_or(OutputType::P2wsh),
        top.musig_key_order.unwrap_or(KeyOrder::Sorted),
    );
    let dust = contract.script_pubkey().minimal_non_dust();
    if amount < dust {
        return Err(at.error(
            "amount_sat",
            format!(
                "{} sat is below the dust limit of the swap output ({} sat)",
                amount.to_sat(),
                dust.to_sat()
            ),
        ));
    }
    Ok(BuiltLock {
        contract,
        params,
        amount,
        current,
        blocks,
    })
}

/// The cross-chain margin by default: 24 hours, as in the classic atomic
/// swap protocol (initiator 48 h, participant 24 h).
pub(super) const DEFAULT_MIN_MARGIN_SECS: u64 = 86_400;

/// `lnkit swap create` on an input object.
pub(crate) fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let top: CreateIn = input.typed()?;
    let h: HashIn = input.typed()?;
    let inv = h.invoice(input)?;
    let hash = h.hash(input, inv.as_ref())?;
    let out = if top.kind == SwapKind::Chain {
        CreateOut::Chain(Box::new(create_chain(input, &top, hash, ex)?))
    } else {
        CreateOut::One(Box::new(create_one(input, &top, &h, hash, ex)?))
    };
    respond(out)
}

fn create_one(
    input: &Input,
    top: &CreateIn,
    h: &HashIn,
    hash: PaymentHash,
    ex: &mut Explain,
) -> Result<OneOut, CliError> {
    let kind = top.kind;
    let l: LockIn = input.typed()?;
    let lightning: LightningIn = input.typed()?;
    let inv = h.invoice(input)?;
    let lock = build_lock(&l, input, input, top, hash)?;
    let margin = lightning.margin();
    let ln = lightning.terms(inv.as_ref().map(|i| i.ln));
    if let Some(ln) = &ln {
        let interval = lock.params.chain.block_interval_secs();
        let field = if l.timeout_blocks.is_some() {
            "timeout_blocks"
        } else {
            "timeout_block_height"
        };
        timeout::check_lightning(kind, lock.blocks, ln, margin, interval, lightning.now())
            .map_err(|e| input.error(field, e))?;
    }
    if let (Some(msat), SwapKind::Submarine) = (inv.as_ref().and_then(|i| i.amount_msat), kind) {
        crate::swap::check_submarine_amount(lock.amount, Msat(msat))
            .map_err(|e| input.error("amount_sat", e))?;
    }
    explain_lock(ex, kind.name(), &lock.contract);
    Ok(OneOut {
        kind,
        lock: lock_out(&lock.contract, lock.params, lock.amount, lock.current)?,
        lightning: ln.map(|ln| LightningOut {
            min_final_cltv_expiry_delta: ln.min_final_cltv_expiry_delta,
            invoice_expires_at: ln.expires_at,
            margin_blocks: margin,
        }),
        invoice: h.invoice.clone(),
        checklist: checklist(kind, &lock, ln.as_ref(), margin),
    })
}
