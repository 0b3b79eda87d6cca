//! One swap lock as the toolkit shows it: its terms, script or tree,
//! address and witnesses, and the checklist a user reads before coins or a
//! payment go anywhere (the rules of [`super::timeout`] in words).

use bitcoin::absolute::Height;
use bitcoin::{Amount, ScriptBuf};
use schemars::JsonSchema;
use serde::Serialize;

use super::chain::{Chain, ChainParams};
use super::contract::{Contract, Lock, OutputType, TapTree};
use super::musig::KeyOrder;
use super::timeout::LightningTerms;
use super::SwapKind;

/// One lock: its terms, script or tree, and address.
#[derive(Serialize, JsonSchema)]
pub struct LockOut {
    output_type: OutputType,
    chain: Chain,
    network: String,
    payment_hash: String,
    /// RIPEMD160 of the payment hash: what the script checks.
    hash160: String,
    claim_pubkey: String,
    refund_pubkey: String,
    current_height: u32,
    timeout_block_height: u32,
    timeout_blocks: u32,
    /// The timeout in seconds at the chain's target block interval.
    timeout_estimate_secs: u64,
    amount_sat: u64,
    /// The P2WSH witness script (p2wsh only).
    #[serde(skip_serializing_if = "Option::is_none")]
    redeem_script: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redeem_script_asm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    musig_key_order: Option<KeyOrder>,
    /// The tap tree (p2tr only).
    #[serde(skip_serializing_if = "Option::is_none")]
    tree: Option<TreeOut>,
    witness_templates: WitnessTemplates,
    script_pubkey: String,
    address: String,
}

/// A P2TR lock's tree: two leaves under the MuSig2 key.
#[derive(Serialize, JsonSchema)]
pub struct TreeOut {
    claim_leaf: LeafOut,
    refund_leaf: LeafOut,
    internal_key: String,
    musig_key_order: KeyOrder,
    merkle_root: String,
    output_key: String,
}

/// One tap leaf.
#[derive(Serialize, JsonSchema)]
pub struct LeafOut {
    script_hex: String,
    asm: String,
    leaf_hash: String,
    control_block: String,
}

/// The witness of each way to spend the lock.
#[derive(Serialize, JsonSchema)]
pub struct WitnessTemplates {
    claim: String,
    refund: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cooperative: Option<String>,
}

fn leaf(tree: &TapTree, leaf: &ScriptBuf) -> LeafOut {
    LeafOut {
        script_hex: hex::encode(leaf.as_bytes()),
        asm: leaf.to_asm_string(),
        leaf_hash: TapTree::leaf_hash(leaf).to_string(),
        control_block: hex::encode(tree.control_block(leaf).serialize()),
    }
}

/// Seconds as hours, for the checklist.
pub fn hours(secs: u64) -> String {
    format!("{:.1} h", secs as f64 / 3600.0)
}

/// The output of one lock.
pub fn lock_out(
    c: &Contract,
    params: ChainParams,
    amount: Amount,
    current: Height,
) -> Result<LockOut, String> {
    let t = &c.terms;
    let spk = c.script_pubkey();
    let address = params.address(&spk).map_err(|e| e.to_string())?;
    let blocks = t.timeout.to_consensus_u32() - current.to_consensus_u32();
    let mut out = LockOut {
        output_type: c.output_type(),
        chain: params.chain,
        network: params.network.to_string(),
        payment_hash: t.payment_hash.to_string(),
        hash160: hex::encode(t.hash160()),
        claim_pubkey: t.claim_pubkey.to_string(),
        refund_pubkey: t.refund_pubkey.to_string(),
        current_height: current.to_consensus_u32(),
        timeout_block_height: t.timeout.to_consensus_u32(),
        timeout_blocks: blocks,
        timeout_estimate_secs: params.blocks_to_secs(blocks),
        amount_sat: amount.to_sat(),
        redeem_script: None,
        redeem_script_asm: None,
        musig_key_order: None,
        tree: None,
        witness_templates: WitnessTemplates {
            claim: String::new(),
            refund: String::new(),
            cooperative: None,
        },
        script_pubkey: hex::encode(spk.as_bytes()),
        address,
    };
    let refund_when = format!("(nLockTime >= {}, nSequence < 0xffffffff)", t.timeout);
    match &c.lock {
        Lock::P2wsh(script) => {
            out.redeem_script = Some(hex::encode(script.as_bytes()));
            out.redeem_script_asm = Some(script.to_asm_string());
            out.witness_templates.claim = "<claim_sig> <preimage> <redeem_script>".into();
            out.witness_templates.refund = format!("<refund_sig> <> <redeem_script> {refund_when}");
        }
        Lock::P2tr(tree) => {
            out.musig_key_order = Some(tree.key_order);
            out.tree = Some(TreeOut {
                claim_leaf: leaf(tree, &tree.claim_leaf),
                refund_leaf: leaf(tree, &tree.refund_leaf),
                internal_key: tree.internal_key.to_string(),
                musig_key_order: tree.key_order,
                merkle_root: hex::encode(tree.merkle_root()),
                output_key: tree
                    .spend_info
                    .output_key()
                    .to_x_only_public_key()
                    .to_string(),
            });
            out.witness_templates.claim =
                "<claim_sig> <preimage> <claim_leaf> <control_block>".into();
            out.witness_templates.refund =
                format!("<refund_sig> <refund_leaf> <control_block> {refund_when}");
            out.witness_templates.cooperative =
                Some("<MuSig2 signature of claim and refund keys> (key path)".into());
        }
    }
    Ok(out)
}

/// One lock of `swap create`, built and checked.
pub struct BuiltLock {
    pub contract: Contract,
    pub params: ChainParams,
    pub amount: Amount,
    pub current: Height,
    pub blocks: u32,
}

/// What to check before coins or a payment go anywhere, in words.
pub fn checklist(
    kind: SwapKind,
    lock: &BuiltLock,
    ln: Option<&LightningTerms>,
    margin: u32,
) -> Vec<String> {
    let t = &lock.contract.terms;
    let params = lock.params;
    let address = params
        .address(&lock.contract.script_pubkey())
        .unwrap_or_default();
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
