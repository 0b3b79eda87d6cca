//! `lnkit swap create|lockup|claim|refund|nonce|sign-partial|verify`:
//! submarine, reverse and cross-chain swaps. Glue over [`crate::swap`]: read
//! the fields, call the library, write the JSON.

use bitcoin::absolute::Height;
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, XOnlyPublicKey};
use bitcoin::{Amount, FeeRate, ScriptBuf, Transaction, TxOut};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::input::{self, Input};
use super::{flag, hex, CliError, Explain, StepResult};
use crate::amount::Msat;
use crate::invoice;
use crate::payment::{PaymentHash, PaymentPreimage};
use crate::swap::chain::{Chain, ChainParams};
use crate::swap::contract::{hash160_of, Contract, Lock, OutputType, SwapTerms, TapTree};
use crate::swap::musig::{self, KeyOrder, ROLES};
use crate::swap::spend::{self, Path, Spend, SpendError, SpendRequest};
use crate::swap::timeout::{self, LightningTerms, TimeoutError};
use crate::swap::verify::{self as swap_verify, Expectations, Offer, OfferedLock};
use crate::swap::SwapKind;
use crate::tx::funding::{self, PaymentRequest};
use crate::verify::verify_transaction;

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
        SwapCommand::Claim(a) => spend_step(
            &leg_input(input, a.leg.leg)?,
            Step::Claim,
            a.cooperative,
            false,
            ex,
        ),
        SwapCommand::Refund(a) => spend_step(
            &leg_input(input, a.leg.leg)?,
            Step::Refund,
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

// ---------------------------------------------------------------- reading

fn kind(input: &Input) -> Result<SwapKind, CliError> {
    Ok(
        match input.req("kind", input::one_of(&["submarine", "reverse", "chain"]))? {
            "submarine" => SwapKind::Submarine,
            "reverse" => SwapKind::Reverse,
            _ => SwapKind::Chain,
        },
    )
}

fn output_type(input: &Input) -> Result<OutputType, CliError> {
    Ok(
        match input.opt("output_type", input::one_of(&["p2wsh", "p2tr"]))? {
            Some("p2tr") => OutputType::P2tr,
            _ => OutputType::P2wsh,
        },
    )
}

fn key_order(input: &Input) -> Result<KeyOrder, CliError> {
    Ok(
        match input.opt(
            "musig_key_order",
            input::one_of(&["sorted", "claim_first", "refund_first"]),
        )? {
            Some("claim_first") => KeyOrder::ClaimFirst,
            Some("refund_first") => KeyOrder::RefundFirst,
            _ => KeyOrder::Sorted,
        },
    )
}

fn chain(v: &Value) -> input::Parsed<Chain> {
    match v {
        Value::String(s) => s.parse(),
        _ => Err(format!("expected {}", Chain::NAMES)),
    }
}

/// The chain (field `chain`, default bitcoin) and the network (`network`).
fn chain_params(input: &Input, top: &Input) -> Result<ChainParams, CliError> {
    let c = input.opt("chain", chain)?.unwrap_or(Chain::Bitcoin);
    let network = top.network()?;
    ChainParams::new(c, network).map_err(|e| top.error("network", e))
}

fn preimage(input: &Input) -> Result<Option<(&'static str, PaymentPreimage)>, CliError> {
    for field in ["preimage", "payment_preimage"] {
        if input.has(field) {
            let bytes = input.req(field, input::hex_bytes)?;
            let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                input.error(
                    field,
                    format!(
                        "expected a 32-byte preimage (a Lightning preimage is exactly 32 bytes), got {} bytes",
                        bytes.len()
                    ),
                )
            })?;
            return Ok(Some((field, PaymentPreimage(array))));
        }
    }
    Ok(None)
}

/// What an invoice contributes to a swap.
struct InvoiceTerms {
    hash: PaymentHash,
    ln: LightningTerms,
    amount_msat: Option<u64>,
}

fn invoice_terms(input: &Input) -> Result<Option<InvoiceTerms>, CliError> {
    let Some(text) = input.opt("invoice", |v| match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err("expected a BOLT 11 invoice string".to_string()),
    })?
    else {
        return Ok(None);
    };
    let secp = Secp256k1::verification_only();
    let decoded = invoice::decode(&secp, &text).map_err(|e| input.error("invoice", e))?;
    let inv = &decoded.invoice;
    let hash = inv
        .payment_hash()
        .map(PaymentHash)
        .ok_or_else(|| input.error("invoice", "it has no payment hash (p field)"))?;
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

/// The payment hash from `payment_hash`, the preimage, or the invoice; all
/// that are given must agree.
fn payment_hash(input: &Input, inv: Option<&InvoiceTerms>) -> Result<PaymentHash, CliError> {
    let given = input.opt("payment_hash", input::bytes32)?.map(PaymentHash);
    let from_preimage = preimage(input)?;
    let mut hash = given;
    if let Some((field, p)) = from_preimage {
        match hash {
            Some(h) if h != p.payment_hash() => {
                return Err(input.error(
                    field,
                    format!("its SHA256 is {}, not payment_hash {h}", p.payment_hash()),
                ))
            }
            _ => hash = Some(p.payment_hash()),
        }
    }
    if let Some(inv) = inv {
        match hash {
            Some(h) if h != inv.hash => {
                return Err(input.error(
                    "invoice",
                    format!(
                        "its payment hash is {}, not {h} (from payment_hash or the preimage)",
                        inv.hash
                    ),
                ))
            }
            _ => hash = Some(inv.hash),
        }
    }
    hash.ok_or_else(|| {
        input.error(
            "payment_hash",
            "missing required field (or give preimage, or an invoice)",
        )
    })
}

/// `(timeout, current height)`: `timeout_block_height`, or `timeout_blocks` after `current_height`.
fn timeout_and_height(input: &Input) -> Result<(Height, Height), CliError> {
    let current = input.req("current_height", input::block_height)?;
    let absolute = input.opt("timeout_block_height", input::block_height)?;
    let relative = input.opt("timeout_blocks", input::uint32)?;
    let t = match (absolute, relative) {
        (Some(t), None) => t,
        (None, Some(n)) => current
            .to_consensus_u32()
            .checked_add(n)
            .and_then(|h| Height::from_consensus(h).ok())
            .ok_or_else(|| input.error("timeout_blocks", "the timeout height overflows"))?,
        (Some(t), Some(n))
            if t.to_consensus_u32().checked_sub(current.to_consensus_u32()) == Some(n) =>
        {
            t
        }
        (Some(_), Some(_)) => {
            return Err(input.error(
                "timeout_blocks",
                "disagrees with timeout_block_height - current_height (give one of them)",
            ))
        }
        (None, None) => {
            return Err(input.error(
                "timeout_block_height",
                "missing required field (or give timeout_blocks)",
            ))
        }
    };
    Ok((t, current))
}

/// The swap's terms and contract as `swap create` wrote them; a
/// `script_pubkey` or `address` carried along must match what they make.
fn contract(input: &Input) -> Result<Contract, CliError> {
    let secp = Secp256k1::verification_only();
    let inv = invoice_terms(input)?;
    let terms = SwapTerms {
        payment_hash: payment_hash(input, inv.as_ref())?,
        claim_pubkey: input.req("claim_pubkey", input::pubkey)?,
        refund_pubkey: input.req("refund_pubkey", input::pubkey)?,
        timeout: input.req("timeout_block_height", input::block_height)?,
    };
    let c = Contract::new(&secp, terms, output_type(input)?, key_order(input)?);
    if let Some(spk) = input.opt("script_pubkey", input::script_hex)? {
        if spk != c.script_pubkey() {
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

// ---------------------------------------------------------------- create

fn leaf_json(tree: &TapTree, leaf: &ScriptBuf) -> Value {
    json!({
        "script_hex": hex(leaf.as_bytes()),
        "asm": leaf.to_asm_string(),
        "leaf_hash": TapTree::leaf_hash(leaf).to_string(),
        "control_block": hex(tree.control_block(leaf).serialize()),
    })
}

fn hours(secs: u64) -> String {
    format!("{:.1} h", secs as f64 / 3600.0)
}

/// The JSON of one lock.
fn lock_json(
    c: &Contract,
    params: ChainParams,
    amount: Amount,
    current: Height,
) -> Result<Map<String, Value>, CliError> {
    let t = &c.terms;
    let spk = c.script_pubkey();
    let address = params
        .address(&spk)
        .map_err(|e| CliError::failure(e.to_string()))?;
    let blocks = t.timeout.to_consensus_u32() - current.to_consensus_u32();
    let mut out = Map::new();
    out.insert("output_type".into(), json!(c.output_type().name()));
    out.insert("chain".into(), json!(params.chain.to_string()));
    out.insert("network".into(), json!(params.network.to_string()));
    out.insert("payment_hash".into(), json!(t.payment_hash.to_string()));
    out.insert("hash160".into(), json!(hex(t.hash160())));
    out.insert("claim_pubkey".into(), json!(t.claim_pubkey.to_string()));
    out.insert("refund_pubkey".into(), json!(t.refund_pubkey.to_string()));
    out.insert("current_height".into(), json!(current.to_consensus_u32()));
    out.insert(
        "timeout_block_height".into(),
        json!(t.timeout.to_consensus_u32()),
    );
    out.insert("timeout_blocks".into(), json!(blocks));
    out.insert(
        "timeout_estimate_secs".into(),
        json!(params.blocks_to_secs(blocks)),
    );
    out.insert("amount_sat".into(), json!(amount.to_sat()));
    match &c.lock {
        Lock::P2wsh(script) => {
            out.insert("redeem_script".into(), json!(hex(script.as_bytes())));
            out.insert("redeem_script_asm".into(), json!(script.to_asm_string()));
            out.insert(
                "witness_templates".into(),
                json!({
                    "claim": "<claim_sig> <preimage> <redeem_script>",
                    "refund": format!("<refund_sig> <> <redeem_script> (nLockTime >= {}, nSequence < 0xffffffff)", t.timeout),
                }),
            );
        }
        Lock::P2tr(tree) => {
            out.insert("musig_key_order".into(), json!(tree.key_order.name()));
            out.insert(
                "tree".into(),
                json!({
                    "claim_leaf": leaf_json(tree, &tree.claim_leaf),
                    "refund_leaf": leaf_json(tree, &tree.refund_leaf),
                    "internal_key": tree.internal_key.to_string(),
                    "musig_key_order": tree.key_order.name(),
                    "merkle_root": hex(tree.merkle_root()),
                    "output_key": tree.spend_info.output_key().to_x_only_public_key().to_string(),
                }),
            );
            out.insert(
                "witness_templates".into(),
                json!({
                    "claim": "<claim_sig> <preimage> <claim_leaf> <control_block>",
                    "refund": format!("<refund_sig> <refund_leaf> <control_block> (nLockTime >= {}, nSequence < 0xffffffff)", t.timeout),
                    "cooperative": "<MuSig2 signature of claim and refund keys> (key path)",
                }),
            );
        }
    }
    out.insert("script_pubkey".into(), json!(hex(spk.as_bytes())));
    out.insert("address".into(), json!(address));
    Ok(out)
}

fn explain_lock(ex: &mut Explain, name: &str, c: &Contract) {
    if !ex.enabled() {
        return;
    }
    let t = &c.terms;
    ex.line(format!(
        "{name}: hashlock HASH160(preimage) = RIPEMD160(payment_hash {}) = {}",
        t.payment_hash,
        hex(t.hash160())
    ));
    match &c.lock {
        Lock::P2wsh(s) => {
            ex.line(format!("{name}: redeem script: {}", s.to_asm_string()));
            ex.line(format!("{name}: P2WSH: OP_0 SHA256(redeem script)"));
        }
        Lock::P2tr(tree) => {
            ex.line(format!(
                "{name}: claim leaf: {}",
                tree.claim_leaf.to_asm_string()
            ));
            ex.line(format!(
                "{name}: refund leaf: {}",
                tree.refund_leaf.to_asm_string()
            ));
            ex.line(format!(
                "{name}: internal key = MuSig2 KeyAgg({} order) of claim and refund keys = {}",
                tree.key_order.name(),
                tree.internal_key
            ));
            ex.line(format!(
                "{name}: output key = internal key + TapTweak(internal key || merkle root {}) · G = {}",
                hex(tree.merkle_root()),
                tree.spend_info.output_key().to_x_only_public_key()
            ));
        }
    }
}

fn timeout_error(input: &Input, field: &str, e: TimeoutError) -> CliError {
    input.error(field, e)
}

/// One lock of `swap create`: read, check the timeout, build.
struct BuiltLock {
    contract: Contract,
    params: ChainParams,
    amount: Amount,
    current: Height,
    blocks: u32,
}

fn build_lock(
    item: &Input,
    top: &Input,
    hash: PaymentHash,
    output_type: OutputType,
    order: KeyOrder,
) -> Result<BuiltLock, CliError> {
    let secp = Secp256k1::verification_only();
    let params = chain_params(item, top)?;
    let (timeout, current) = timeout_and_height(item)?;
    let blocks = timeout::blocks_left(timeout, current)
        .map_err(|e| timeout_error(item, "timeout_block_height", e))?;
    let terms = SwapTerms {
        payment_hash: hash,
        claim_pubkey: item.req("claim_pubkey", input::pubkey)?,
        refund_pubkey: item.req("refund_pubkey", input::pubkey)?,
        timeout,
    };
    if terms.claim_pubkey == terms.refund_pubkey {
        return Err(item.error(
            "refund_pubkey",
            "is the claim_pubkey too: the two sides of a swap need their own keys",
        ));
    }
    let amount = item.req("amount_sat", input::amount_sat)?;
    let contract = Contract::new(&secp, terms, output_type, order);
    let dust = contract.script_pubkey().minimal_non_dust();
    if amount < dust {
        return Err(item.error(
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

fn margin_blocks(input: &Input) -> Result<u32, CliError> {
    Ok(input
        .opt("margin_blocks", input::uint32)?
        .unwrap_or(DEFAULT_MARGIN_BLOCKS))
}

/// Blocks of safety margin against the Lightning side's CLTV (one hour of
/// Bitcoin blocks): time for a claim or an HTLC settlement to confirm.
const DEFAULT_MARGIN_BLOCKS: u32 = 6;
/// The cross-chain margin by default: 24 hours, as in the classic atomic
/// swap protocol (initiator 48 h, participant 24 h).
const DEFAULT_MIN_MARGIN_SECS: u64 = 86_400;

/// UNIX seconds now: `current_time`, or the clock.
fn now(input: &Input) -> Result<u64, CliError> {
    match input.opt("current_time", input::uint)? {
        Some(t) => Ok(t),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)),
    }
}

/// The Lightning terms: the invoice's, with `min_final_cltv_expiry_delta` as an override.
fn lightning_terms(
    input: &Input,
    inv: Option<&InvoiceTerms>,
) -> Result<Option<LightningTerms>, CliError> {
    let cltv = input.opt("min_final_cltv_expiry_delta", input::uint32)?;
    Ok(match (inv, cltv) {
        (Some(i), Some(c)) => Some(LightningTerms {
            min_final_cltv_expiry_delta: c,
            ..i.ln
        }),
        (Some(i), None) => Some(i.ln),
        (None, Some(c)) => Some(LightningTerms {
            min_final_cltv_expiry_delta: c,
            expires_at: None,
        }),
        (None, None) => None,
    })
}

/// `lnkit swap create` on an input object.
pub(crate) fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let kind = kind(input)?;
    let output_type = output_type(input)?;
    let order = key_order(input)?;
    let inv = invoice_terms(input)?;
    let hash = payment_hash(input, inv.as_ref())?;
    if kind == SwapKind::Chain {
        return create_chain(input, hash, output_type, order, ex);
    }
    let lock = build_lock(input, input, hash, output_type, order)?;
    let margin = margin_blocks(input)?;
    let ln = lightning_terms(input, inv.as_ref())?;
    if let Some(ln) = &ln {
        let interval = lock.params.chain.block_interval_secs();
        let field = if input.has("timeout_blocks") {
            "timeout_blocks"
        } else {
            "timeout_block_height"
        };
        timeout::check_lightning(kind, lock.blocks, ln, margin, interval, now(input)?)
            .map_err(|e| timeout_error(input, field, e))?;
    }
    if let (Some(msat), SwapKind::Submarine) = (inv.as_ref().and_then(|i| i.amount_msat), kind) {
        crate::swap::check_submarine_amount(lock.amount, Msat(msat))
            .map_err(|e| input.error("amount_sat", e))?;
    }
    explain_lock(ex, kind.name(), &lock.contract);
    let mut out = Map::new();
    out.insert("kind".into(), json!(kind.name()));
    out.extend(lock_json(
        &lock.contract,
        lock.params,
        lock.amount,
        lock.current,
    )?);
    if let Some(ln) = &ln {
        out.insert(
            "lightning".into(),
            json!({
                "min_final_cltv_expiry_delta": ln.min_final_cltv_expiry_delta,
                "invoice_expires_at": ln.expires_at,
                "margin_blocks": margin,
            }),
        );
    }
    if let Some(text) = input.raw("invoice") {
        out.insert("invoice".into(), text.clone());
    }
    out.insert(
        "checklist".into(),
        json!(checklist(kind, &lock, ln.as_ref(), margin)),
    );
    Ok(Value::Object(out))
}

fn checklist(
    kind: SwapKind,
    lock: &BuiltLock,
    ln: Option<&LightningTerms>,
    margin: u32,
) -> Vec<String> {
    let t = &lock.contract.terms;
    let params = lock.params;
    let spk = lock.contract.script_pubkey();
    let address = params.address(&spk).unwrap_or_default();
    let wait = hours(params.blocks_to_secs(lock.blocks));
    let mut list = vec![format!(
        "The address {address} is the {} output of the terms above: rebuild it from your own hash and key (lnkit swap verify) before coins or a payment go anywhere.",
        lock.contract.output_type().name().to_uppercase()
    )];
    match kind {
        SwapKind::Submarine => {
            list.push(format!(
                "The hashlock is RIPEMD160({}) — the payment hash of YOUR invoice — so the service can only claim by paying it and learning the preimage.",
                t.payment_hash
            ));
            list.push(format!(
                "The refund key {} is yours and you hold its private key; the claim key {} is the service's.",
                t.refund_pubkey, t.claim_pubkey
            ));
            list.push(format!(
                "Lock exactly {} sat. If the invoice is not paid, `lnkit swap refund` takes the coins back from block {} ({} blocks, about {wait}).",
                lock.amount.to_sat(),
                t.timeout,
                lock.blocks
            ));
            if let Some(ln) = ln {
                list.push(format!(
                    "The lock outlasts the invoice's min_final_cltv_expiry_delta ({}) by at least {margin} blocks{}.",
                    ln.min_final_cltv_expiry_delta,
                    if ln.expires_at.is_some() { ", and the invoice expires before the refund opens" } else { "" }
                ));
            }
        }
        SwapKind::Reverse => {
            list.push(format!(
                "The hashlock is RIPEMD160({}) — the hash of YOUR preimage — and the service's hold invoice must carry exactly this payment hash.",
                t.payment_hash
            ));
            list.push(format!(
                "The claim key {} is yours; the refund key {} is the service's.",
                t.claim_pubkey, t.refund_pubkey
            ));
            list.push(format!(
                "Wait until the lockup of {} sat confirms, then claim with `lnkit swap claim` well before block {} ({} blocks, about {wait}): from then on the service can refund.",
                lock.amount.to_sat(),
                t.timeout,
                lock.blocks
            ));
            if let Some(ln) = ln {
                list.push(format!(
                    "The lock expires at least {margin} blocks before the HTLC you pay can (min_final_cltv_expiry_delta {}), so revealing the preimage on chain settles the invoice.",
                    ln.min_final_cltv_expiry_delta
                ));
            }
        }
        SwapKind::Chain => {}
    }
    if let Lock::P2tr(tree) = &lock.contract.lock {
        list.push(format!(
            "The internal key {} is the MuSig2 aggregate of both keys ({} order): a cooperative key-path spend needs both signers; the leaves are the fallback.",
            tree.internal_key,
            tree.key_order.name()
        ));
    }
    list
}

fn create_chain(
    input: &Input,
    hash: PaymentHash,
    output_type: OutputType,
    order: KeyOrder,
    ex: &mut Explain,
) -> StepResult {
    let legs = input
        .object("legs")?
        .ok_or_else(|| input.error("legs", "missing required field: an object with legs a (initiator's lock) and b (participant's lock)"))?;
    let read = |name: &str| -> Result<BuiltLock, CliError> {
        let item = legs
            .object(name)?
            .ok_or_else(|| legs.error(name, "missing required field"))?;
        build_lock(&item, input, hash, output_type, order)
    };
    let (a, b) = (read("a")?, read("b")?);
    let min_margin = input
        .opt("min_margin_seconds", input::uint)?
        .unwrap_or(DEFAULT_MIN_MARGIN_SECS);
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
    let mut legs_out = Map::new();
    for (name, lock) in [("a", &a), ("b", &b)] {
        legs_out.insert(
            name.into(),
            Value::Object(lock_json(
                &lock.contract,
                lock.params,
                lock.amount,
                lock.current,
            )?),
        );
    }
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
    Ok(json!({
        "kind": "chain",
        "payment_hash": hash.to_string(),
        "output_type": output_type.name(),
        "legs": legs_out,
        "margin_secs": margin,
        "min_margin_secs": min_margin,
        "checklist": checklist,
    }))
}

// ---------------------------------------------------------------- lockup

/// Where coins go: an address of the swap's chain, or a scriptPubKey hex.
fn destination(input: &Input, field: &str, params: ChainParams) -> Result<ScriptBuf, CliError> {
    let text = input.req(field, |v| match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err("expected an address or a scriptPubKey hex".to_string()),
    })?;
    if let Ok(spk) = params.script_pubkey(&text) {
        return Ok(spk);
    }
    if let Ok(a) = text.parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>() {
        if params.chain == Chain::Bitcoin {
            return a
                .require_network(params.network)
                .map(|a| a.script_pubkey())
                .map_err(|_| {
                    input.error(
                        field,
                        format!(
                            "{text:?} is not an address of {params} (set --network to its network)"
                        ),
                    )
                });
        }
    }
    match hex::decode(&text) {
        Ok(bytes) => Ok(ScriptBuf::from_bytes(bytes)),
        Err(_) => Err(input.error(
            field,
            format!("expected an address of {params} or a scriptPubKey hex, got {text:?}"),
        )),
    }
}

/// `lnkit swap lockup` on an input object.
pub(crate) fn lockup(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let c = contract(input)?;
    let params = chain_params(input, input)?;
    let amount = input.req("amount_sat", input::amount_sat)?;
    let items = input.objects("inputs")?;
    let inputs = items
        .iter()
        .map(super::build_funding::read_input)
        .collect::<Result<Vec<_>, _>>()?;
    let change_field = if input.has("change_address") {
        "change_address"
    } else {
        "change_script_pubkey"
    };
    let change_script = destination(input, change_field, params)?;
    let feerate = super::build_funding::feerate(input)?;
    let req = PaymentRequest {
        inputs,
        output: TxOut {
            value: amount,
            script_pubkey: c.script_pubkey(),
        },
        change_script,
        feerate,
    };
    let paid = funding::build_payment(&secp, &req)
        .map_err(|e| super::build_funding::funding_error(input, &items, "amount_sat", e))?;
    // Every input we signed is checked by the interpreter before the
    // transaction is shown: a lockup that does not verify loses nothing yet.
    let complete = paid.signed.iter().all(|s| *s);
    if complete {
        let spent: Vec<TxOut> = paid.spent_outputs.iter().flatten().cloned().collect();
        verify_transaction(&paid.tx, &spent)
            .map_err(|e| CliError::failure(format!("the lockup does not verify: {e}")))?;
    }
    ex.line(format!(
        "lockup: output 0 pays {} sat to {}; fee {} sat at {} sat/kw",
        amount.to_sat(),
        hex(c.script_pubkey().as_bytes()),
        paid.fee.to_sat(),
        feerate.to_sat_per_kwu()
    ));
    let mut out = match input.to_value() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    // The wallet's inputs (and their keys) are not carried forward.
    out.remove("inputs");
    out.insert(
        "lockup_txid".into(),
        json!(paid.tx.compute_txid().to_string()),
    );
    out.insert("lockup_vout".into(), json!(0));
    out.insert("lockup_tx_hex".into(), json!(serialize_hex(&paid.tx)));
    out.insert("lockup_fee_sat".into(), json!(paid.fee.to_sat()));
    out.insert("lockup_complete".into(), json!(complete));
    out.insert("lockup_verified".into(), json!(complete));
    out.insert(
        "lockup_psbt".into(),
        json!(paid.psbt.map(|p| p.to_string())),
    );
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------- spends

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Claim,
    Refund,
}

/// The contract, lockup transaction, destination and feerate every spend shares.
struct SpendInput {
    contract: Contract,
    expected_amount: Option<Amount>,
    lockup: Transaction,
    destination: ScriptBuf,
    feerate: FeeRate,
}

fn spend_input(input: &Input) -> Result<SpendInput, CliError> {
    let contract = contract(input)?;
    let params = chain_params(input, input)?;
    let lockup = input.req("lockup_tx_hex", input::transaction)?;
    Ok(SpendInput {
        expected_amount: input.opt("amount_sat", input::amount_sat)?,
        destination: destination(input, "destination", params)?,
        feerate: super::build_funding::feerate(input)?,
        lockup,
        contract,
    })
}

fn build_spend(input: &Input, s: &SpendInput, path: Path) -> Result<Spend, CliError> {
    let secp = Secp256k1::new();
    let req = SpendRequest {
        contract: &s.contract,
        lockup_tx: &s.lockup,
        destination: s.destination.clone(),
        feerate: s.feerate,
        expected_amount: s.expected_amount,
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

fn spend_json(step: &str, path: &str, s: &Spend, feerate: FeeRate) -> Result<Value, CliError> {
    // Bitcoin Core's interpreter checks the spend before it is shown.
    verify_transaction(&s.tx, std::slice::from_ref(&s.prevout))
        .map_err(|e| CliError::failure(format!("the {step} does not verify: {e}")))?;
    let input = &s.tx.input[0];
    Ok(json!({
        "step": step,
        "path": path,
        "txid": s.tx.compute_txid().to_string(),
        "tx_hex": serialize_hex(&s.tx),
        "spends": input.previous_output.to_string(),
        "spent_amount_sat": s.prevout.value.to_sat(),
        "amount_sat": s.tx.output[0].value.to_sat(),
        "fee_sat": s.fee.to_sat(),
        "vsize": s.tx.vsize(),
        "fee_vsize": s.vsize,
        "feerate_sat_per_vb": feerate.to_sat_per_vb_ceil(),
        "lock_time": s.tx.lock_time.to_consensus_u32(),
        "sequence": input.sequence.0,
        "sighash": hex(s.sighash),
        "witness": input.witness.iter().map(hex).collect::<Vec<_>>(),
        "verified": true,
    }))
}

fn spend_step(
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
        let (built, session) = key_path(input, &s)?;
        let nonces = role_pair(input, "pub_nonces", musig::pub_nonce)?;
        let partials = role_pair(input, "partial_signatures", musig::partial_signature)?;
        let sig = session.aggregate(&nonces, &partials).map_err(|e| match e {
            musig::MusigError::BadPartial { .. } => CliError::bad(e.to_string()),
            other => input.error("partial_signatures", other),
        })?;
        let mut built = built;
        spend::finish_key_path(&mut built, sig);
        ex.line(format!(
            "cooperative {name}: both partial signatures verify; aggregated into one BIP 340 signature for output key {}",
            session.output_key().x_only_public_key().0
        ));
        return spend_json(name, "key", &built, s.feerate);
    }
    let t = s.contract.terms;
    let built = match step {
        Step::Claim => {
            let (_, p) = preimage(input)?.ok_or_else(|| {
                input.error(
                    "preimage",
                    "missing required field (the 32-byte preimage of payment_hash)",
                )
            })?;
            let key = input.req("claim_privkey", input::secret_key)?;
            build_spend(
                input,
                &s,
                Path::Claim {
                    preimage: &p,
                    key: &key,
                },
            )?
        }
        Step::Refund => {
            let key = input.req("refund_privkey", input::secret_key)?;
            let current = input.req("current_height", input::block_height)?;
            if !force {
                timeout::refund_open(t.timeout, current).map_err(|e| {
                    input.error(
                        "current_height",
                        format!("{e}. --force-unsafe builds it anyway"),
                    )
                })?;
            }
            build_spend(
                input,
                &s,
                Path::Refund {
                    key: &key,
                    lock_time: t.timeout,
                },
            )?
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
    spend_json(name, path, &built, s.feerate)
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

/// The unsigned key-path spend and its MuSig2 session.
fn key_path(input: &Input, s: &SpendInput) -> Result<(Spend, musig::Session), CliError> {
    let built = build_spend(input, s, Path::KeyPath)?;
    let session = s
        .contract
        .musig_session(built.sighash)
        .ok_or_else(|| input.error("output_type", "--cooperative needs a p2tr swap"))?;
    Ok((built, session))
}

/// `{claim, refund}` → `[claim, refund]`.
fn role_pair<T>(
    input: &Input,
    field: &str,
    parse: fn(&[u8]) -> Result<T, String>,
) -> Result<[T; 2], CliError> {
    let obj = input.object(field)?.ok_or_else(|| {
        input.error(
            field,
            "missing required field: an object {\"claim\": hex, \"refund\": hex}",
        )
    })?;
    let read = |role: &str| obj.req(role, |v| input::hex_bytes(v).and_then(|b| parse(&b)));
    Ok([read(ROLES[0])?, read(ROLES[1])?])
}

/// The signer's key and which side it is.
fn signer(input: &Input, session: &musig::Session) -> Result<(SecretKey, &'static str), CliError> {
    let key = input.req("privkey", input::secret_key)?;
    let role = session
        .role(&Secp256k1::signing_only(), &key)
        .map_err(|_| {
            input.error(
                "privkey",
                "its public key is neither the swap's claim_pubkey nor its refund_pubkey",
            )
        })?;
    Ok((key, role))
}

/// `lnkit swap nonce` on an input object.
pub(crate) fn nonce(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let s = spend_input(input)?;
    let (built, session) = key_path(input, &s)?;
    let (key, role) = signer(input, &session)?;
    let seed = match input.opt("nonce_seed", input::bytes32)? {
        Some(seed) => seed,
        None => bitcoin::secp256k1::rand::random(),
    };
    let (sec, public) = session
        .nonce(&secp, &key, seed)
        .map_err(|e| input.error("privkey", e))?;
    ex.line(format!(
        "{role}: BIP 327 NonceGen(seed, key, aggregate key, sighash {}) → two secret scalars; the public nonce is their points",
        hex(built.sighash)
    ));
    Ok(json!({
        "role": role,
        "sighash": hex(built.sighash),
        "output_key": session.output_key().x_only_public_key().0.to_string(),
        "pub_nonce": hex(public.serialize()),
        "sec_nonce": hex(sec.serialize()),
        "warning": "sec_nonce is secret and single-use: sign once with it (swap sign-partial), then delete it",
    }))
}

/// `lnkit swap sign-partial` on an input object.
pub(crate) fn sign_partial(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let s = spend_input(input)?;
    let (built, session) = key_path(input, &s)?;
    let (key, role) = signer(input, &session)?;
    let sec = input.req("sec_nonce", |v| {
        input::hex_bytes(v).and_then(|b| musig::sec_nonce(&b))
    })?;
    let nonces = role_pair(input, "pub_nonces", musig::pub_nonce)?;
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
        .sign(&secp, &key, sec, &nonces)
        .map_err(|e| input.error("sec_nonce", e))?;
    ex.line(format!(
        "{role}: partial signature over the key-path sighash {}, checked against the {role} key and nonce",
        hex(built.sighash)
    ));
    Ok(json!({
        "role": role,
        "sighash": hex(built.sighash),
        "partial_signature": hex(partial.serialize()),
    }))
}

// ---------------------------------------------------------------- verify

fn script_field(v: &Value) -> input::Parsed<ScriptBuf> {
    // A leaf as `swap create` writes it ({"script_hex": …}) or as bare hex.
    match v {
        Value::Object(m) => m
            .get("script_hex")
            .ok_or_else(|| "expected a script hex, or an object with script_hex".to_string())
            .and_then(input::script_hex),
        other => input::script_hex(other),
    }
}

fn xonly_key(v: &Value) -> input::Parsed<XOnlyPublicKey> {
    let bytes = input::hex_bytes(v)?;
    match bytes.len() {
        32 => XOnlyPublicKey::from_slice(&bytes).map_err(|_| {
            "expected a 32-byte x-only key, got one that is not on the curve".to_string()
        }),
        33 => PublicKey::from_slice(&bytes)
            .map(|k| k.x_only_public_key().0)
            .map_err(|_| {
                "expected a 32-byte x-only key, got 33 bytes that are not a valid point".to_string()
            }),
        n => Err(format!("expected a 32-byte x-only key, got {n} bytes")),
    }
}

/// `lnkit swap verify` on an input object.
pub(crate) fn verify(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::verification_only();
    let kind = kind(input)?;
    let inv = invoice_terms(input)?;
    // A submarine swap's invoice is the user's own, so its hash is the
    // user's; a reverse swap's invoice comes from the service and is only
    // checked against the hash of the user's own preimage.
    let own_invoice = if kind == SwapKind::Submarine {
        inv.as_ref()
    } else {
        None
    };
    let hash = payment_hash(input, own_invoice)?;
    let lock =
        match (
            input.opt("redeem_script", input::script_hex)?,
            input.object("tree")?,
        ) {
            (Some(redeem_script), None) => OfferedLock::P2wsh { redeem_script },
            (None, Some(tree)) => OfferedLock::P2tr {
                claim_leaf: tree.req("claim_leaf", script_field)?,
                refund_leaf: tree.req("refund_leaf", script_field)?,
                internal_key: tree.req("internal_key", xonly_key)?,
            },
            (Some(_), Some(_)) => {
                return Err(input.error(
                    "tree",
                    "give redeem_script (p2wsh) or tree (p2tr), not both",
                ))
            }
            (None, None) => return Err(input.error(
                "redeem_script",
                "missing required field (or give tree: {claim_leaf, refund_leaf, internal_key})",
            )),
        };
    let address = input.req("address", |v| match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err("expected an address".to_string()),
    })?;
    let offer = Offer {
        lock,
        address,
        timeout: input.req("timeout_block_height", input::block_height)?,
        expected_amount: input
            .opt_any(&["expected_amount_sat", "amount_sat"], input::amount_sat)?,
        lockup_tx: input.opt("lockup_tx_hex", input::transaction)?,
    };
    let ln = lightning_terms(input, inv.as_ref())?;
    let exp = Expectations {
        kind,
        payment_hash: hash,
        claim_pubkey: input.req("claim_pubkey", input::pubkey)?,
        refund_pubkey: input.req("refund_pubkey", input::pubkey)?,
        chain: chain_params(input, input)?,
        current_height: input.req("current_height", input::block_height)?,
        lightning: ln,
        invoice_hash: inv.as_ref().map(|i| i.hash),
        margin_blocks: margin_blocks(input)?,
        now: now(input)?,
    };
    let report = swap_verify::verify(&secp, &offer, &exp);
    for c in &report.checks {
        ex.line(format!(
            "{} {}: {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.name,
            c.detail
        ));
    }
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.ok).collect();
    if !failed.is_empty() {
        // Every failed check, one per line, each named like a field.
        let lines: Vec<String> = failed
            .iter()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        return Err(CliError::bad(format!(
            "{}\n(swap verify: {} of {} checks failed; do not pay or lock anything for this swap)",
            lines.join("\nerror: "),
            failed.len(),
            report.checks.len()
        )));
    }
    Ok(json!({
        "ok": true,
        "kind": kind.name(),
        "payment_hash": hash.to_string(),
        "hash160": hex(hash160_of(&hash)),
        "script_pubkey": hex(report.expected.script_pubkey().as_bytes()),
        "checks": report.checks.iter().map(|c| json!({"name": c.name, "ok": c.ok, "detail": c.detail})).collect::<Vec<_>>(),
    }))
}
