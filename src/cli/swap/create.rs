//! `lnkit swap create`: the lock (or, `--kind chain`, the two locks) of a
//! swap, with its timeouts checked against the Lightning side or each other.
//! Also the swap's terms as every later step reads them back.

use bitcoin::secp256k1::Secp256k1;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::field::{BlockHeight, Net, Pubkey, Sat, Script, Uint, Uint32};
use super::super::{hex, CliError, Explain, Input, StepResult};
use super::lock::{checklist, explain_lock, hours, lock_out, BuiltLock, LockOut};
use super::HashIn;
use crate::amount::Msat;
use crate::payment::PaymentHash;
use crate::swap::chain::{Chain, ChainParams};
use crate::swap::contract::{Contract, OutputType, SwapTerms};
use crate::swap::musig::KeyOrder;
use crate::swap::terms;
use crate::swap::timeout::{self, LightningTerms};
use crate::swap::SwapKind;

/// `swap create`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct CreateIn {
    /// submarine, reverse or chain (--kind).
    kind: SwapKind,
    /// p2wsh or p2tr (--output-type; default p2wsh).
    output_type: Option<OutputType>,
    /// The MuSig2 key order of a p2tr lock (default sorted, BIP 327 KeySort).
    musig_key_order: Option<KeyOrder>,
    /// --kind chain: the two locks, each with the fields of one lock.
    legs: Option<Legs>,
    /// --kind chain: how much longer leg a must last than leg b (default 86400).
    min_margin_seconds: Option<Uint>,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    network: Option<Net>,
}

/// The two legs of a cross-chain swap.
#[derive(Deserialize, JsonSchema)]
pub struct Legs {
    /// The initiator's lock (it locks first, and its lock lasts longer).
    a: LockIn,
    /// The participant's lock.
    b: LockIn,
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

/// The Lightning side's terms and the clock (submarine and reverse).
#[derive(Deserialize, JsonSchema)]
pub struct LightningIn {
    /// Overrides the invoice's CLTV delta (or gives one without an invoice).
    min_final_cltv_expiry_delta: Option<Uint32>,
    /// Safety blocks between the lock and the Lightning CLTV (default 6).
    margin_blocks: Option<Uint32>,
    /// UNIX seconds now, for the invoice's expiry (default: the clock).
    current_time: Option<Uint>,
}

/// The swap's terms as `swap create` wrote them, read back by later steps.
#[derive(Deserialize, JsonSchema)]
pub struct TermsIn {
    /// p2wsh or p2tr (default p2wsh).
    output_type: Option<OutputType>,
    /// The MuSig2 key order of a p2tr lock (default sorted).
    musig_key_order: Option<KeyOrder>,
    /// The key that claims with the preimage.
    claim_pubkey: Pubkey,
    /// The key that refunds after the timeout.
    refund_pubkey: Pubkey,
    /// The refund's height.
    timeout_block_height: BlockHeight,
    /// The lock's scriptPubKey, when carried along: it must match the terms.
    script_pubkey: Option<Script>,
    /// bitcoin or litecoin (default bitcoin).
    pub(super) chain: Option<Chain>,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    pub(super) network: Option<Net>,
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

/// A cross-chain swap.
#[derive(Serialize, JsonSchema)]
pub struct ChainOut {
    kind: SwapKind,
    payment_hash: String,
    output_type: OutputType,
    legs: LegsOut,
    /// How much longer leg a lasts than leg b, in seconds.
    margin_secs: i64,
    min_margin_secs: u64,
    checklist: Vec<String>,
}

/// Both locks.
#[derive(Serialize, JsonSchema)]
pub struct LegsOut {
    a: LockOut,
    b: LockOut,
}

/// The chain of a lock and the network of the swap.
pub(super) fn chain_params(
    chain: Option<Chain>,
    network: Option<&Net>,
    at: &Input,
) -> Result<ChainParams, CliError> {
    let network = network.map_or(bitcoin::Network::Bitcoin, |n| n.0);
    ChainParams::new(chain.unwrap_or(Chain::Bitcoin), network).map_err(|e| at.error("network", e))
}

/// The swap's contract from its terms; a carried `script_pubkey` must match it.
pub(super) fn contract(input: &Input) -> Result<Contract, CliError> {
    let secp = Secp256k1::verification_only();
    let t: TermsIn = input.typed()?;
    let h: HashIn = input.typed()?;
    let inv = h.invoice(input)?;
    let terms = SwapTerms {
        payment_hash: h.hash(input, inv.as_ref())?,
        claim_pubkey: t.claim_pubkey.0,
        refund_pubkey: t.refund_pubkey.0,
        timeout: t.timeout_block_height.0,
    };
    let c = Contract::new(
        &secp,
        terms,
        t.output_type.unwrap_or(OutputType::P2wsh),
        t.musig_key_order.unwrap_or(KeyOrder::Sorted),
    );
    if let Some(spk) = &t.script_pubkey {
        if spk.0 != c.script_pubkey() {
            return Err(input.error(
                "script_pubkey",
                format!(
                    "the swap's terms make {}, not this (were the terms or the output_type changed?)",
                    hex(c.script_pubkey().as_bytes())
                ),
            ));
        }
    }
    Ok(c)
}

fn build_lock(
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

/// Blocks of safety margin against the Lightning side's CLTV (one hour of
/// Bitcoin blocks): time for a claim or an HTLC settlement to confirm.
pub(super) const DEFAULT_MARGIN_BLOCKS: u32 = 6;
/// The cross-chain margin by default: 24 hours, as in the classic atomic
/// swap protocol (initiator 48 h, participant 24 h).
const DEFAULT_MIN_MARGIN_SECS: u64 = 86_400;

impl LightningIn {
    /// The margin in blocks.
    pub(super) fn margin(&self) -> u32 {
        self.margin_blocks
            .as_ref()
            .map_or(DEFAULT_MARGIN_BLOCKS, |m| m.0)
    }

    /// UNIX seconds now: `current_time`, or the clock.
    pub(super) fn now(&self) -> u64 {
        self.current_time.as_ref().map_or_else(
            || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            },
            |t| t.0,
        )
    }

    /// The invoice's terms with the override.
    pub(super) fn terms(&self, invoice: Option<LightningTerms>) -> Option<LightningTerms> {
        terms::lightning_terms(
            invoice,
            self.min_final_cltv_expiry_delta.as_ref().map(|c| c.0),
        )
    }
}

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
    Ok(serde_json::to_value(out).expect("a response serializes"))
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

fn create_chain(
    input: &Input,
    top: &CreateIn,
    hash: PaymentHash,
    ex: &mut Explain,
) -> Result<ChainOut, CliError> {
    let legs = top.legs.as_ref().ok_or_else(|| {
        input.error(
            "legs",
            "missing required field: an object with legs a (initiator's lock) and b (participant's lock)",
        )
    })?;
    let legs_at = input.object("legs")?.unwrap_or_default();
    let at =
        |name: &str| -> Result<Input, CliError> { Ok(legs_at.object(name)?.unwrap_or_default()) };
    let a = build_lock(&legs.a, &at("a")?, input, top, hash)?;
    let b = build_lock(&legs.b, &at("b")?, input, top, hash)?;
    let min_margin = top
        .min_margin_seconds
        .as_ref()
        .map_or(DEFAULT_MIN_MARGIN_SECS, |m| m.0);
    let margin = timeout::check_cross_chain(a.params, a.blocks, b.params, b.blocks, min_margin)
        .map_err(|e| input.error("legs.a.timeout_block_height", e))?;
    explain_lock(ex, "leg a", &a.contract);
    explain_lock(ex, "leg b", &b.contract);
    ex.line(format!(
        "timeouts in time: leg a {} × {} s, leg b {} × {} s: margin {margin} s (at least {min_margin} s)",
        a.blocks,
        a.params.chain.block_interval_secs(),
        b.blocks,
        b.params.chain.block_interval_secs()
    ));
    let checklist = vec![
        format!(
            "Both legs lock to RIPEMD160({hash}); only the initiator knows the preimage. Check each address yourself (lnkit swap verify --kind chain)."
        ),
        format!(
            "Leg a ({}): the initiator locks {} sat first; the participant claims with claim_pubkey {} once the preimage appears on leg b; the initiator can refund from block {} (about {}).",
            a.params,
            a.amount.to_sat(),
            a.contract.terms.claim_pubkey,
            a.contract.terms.timeout,
            hours(a.params.blocks_to_secs(a.blocks))
        ),
        format!(
            "Leg b ({}): the participant locks {} sat only after leg a confirms with the right script; the initiator claims it with claim_pubkey {}, revealing the preimage; the participant can refund from block {} (about {}).",
            b.params,
            b.amount.to_sat(),
            b.contract.terms.claim_pubkey,
            b.contract.terms.timeout,
            hours(b.params.blocks_to_secs(b.blocks))
        ),
        format!(
            "Leg a outlasts leg b by about {} (at least {} asked): time for the participant to see the preimage on {} and claim on {}. Block times vary; the margin is an estimate at target intervals.",
            hours(margin.max(0) as u64),
            hours(min_margin),
            b.params.chain,
            a.params.chain
        ),
    ];
    Ok(ChainOut {
        kind: SwapKind::Chain,
        payment_hash: hash.to_string(),
        output_type: top.output_type.unwrap_or(OutputType::P2wsh),
        legs: LegsOut {
            a: lock_out(&a.contract, a.params, a.amount, a.current)?,
            b: lock_out(&b.contract, b.params, b.amount, b.current)?,
        },
        margin_secs: margin,
        min_margin_secs: min_margin,
        checklist,
    })
}
