//! `lnkit htlc-script --kind offered|received|swap`: BOLT 3 HTLC output
//! scripts and the swap contract, with their P2WSH output and address.

use bitcoin::Address;
use clap::Args;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::field::{BlockHeight, Flag, Hex32, Net, Pubkey, Uint32};
use super::input::Input;
use super::{flag, hex, CliError, Explain, StepResult};
use crate::cli::respond;
use crate::keys::{HtlcPubkey, RevocationPubkey};
use crate::payment::{CltvExpiry, PaymentHash, PaymentPreimage};
use crate::script::{self, HtlcKeys};
use crate::swap::contract::{self as swap_contract, SwapTerms};

/// Flags of `lnkit htlc-script`.
#[derive(Args, Debug)]
pub struct HtlcScriptArgs {
    /// offered, received or swap (field `kind`).
    #[arg(long)]
    kind: Option<String>,
    /// The option_anchors variant of an HTLC script (field `anchors`).
    #[arg(long)]
    anchors: bool,
}

/// Run `lnkit htlc-script`.
pub fn run(args: HtlcScriptArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    flag(input, "kind", args.kind);
    if args.anchors {
        input.set("anchors", Value::Bool(true));
    }
    htlc_script(input, ex)
}

/// An HTLC's hash: given, or from its preimage (they must agree).
#[derive(Deserialize, JsonSchema)]
pub struct HashIn {
    /// The payment hash (or payment_preimage).
    payment_hash: Option<Hex32>,
    /// The preimage: its SHA256 is the payment hash.
    payment_preimage: Option<Hex32>,
}

/// The payment hash from `payment_hash`, or computed from `payment_preimage`.
pub fn payment_hash(input: &Input) -> Result<PaymentHash, CliError> {
    let h: HashIn = input.typed()?;
    let hash = h.payment_hash.map(|h| PaymentHash(h.0));
    let from_preimage = h
        .payment_preimage
        .map(|p| PaymentPreimage(p.0).payment_hash());
    match (hash, from_preimage) {
        (Some(h), Some(p)) if h != p => Err(input.error(
            "payment_preimage",
            format!("its SHA256 is {p}, not payment_hash {h}"),
        )),
        (Some(h), _) | (None, Some(h)) => Ok(h),
        (None, None) => Err(input.error(
            "payment_hash",
            "missing required field (or give payment_preimage)",
        )),
    }
}

/// The kinds of script.
#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScriptKind {
    /// BOLT 3 offered HTLC output.
    Offered,
    /// BOLT 3 received HTLC output.
    Received,
    /// The swap contract (P2WSH).
    Swap,
}

/// `htlc-script`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct HtlcScriptIn {
    /// offered, received or swap (--kind).
    kind: ScriptKind,
    /// The option_anchors variant (--anchors).
    anchors: Option<Flag>,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    network: Option<Net>,
    /// offered, received: the revocation key of the commitment.
    revocationpubkey: Option<Pubkey>,
    /// offered, received: the holder's HTLC key.
    local_htlcpubkey: Option<Pubkey>,
    /// offered, received: the counterparty's HTLC key.
    remote_htlcpubkey: Option<Pubkey>,
    /// received: the HTLC's CLTV expiry.
    cltv_expiry: Option<Uint32>,
    /// swap: the refund's height.
    timeout_block_height: Option<BlockHeight>,
    /// swap: the key that claims with the preimage.
    claim_pubkey: Option<Pubkey>,
    /// swap: the key that refunds.
    refund_pubkey: Option<Pubkey>,
}

/// The script, its P2WSH output and its witnesses.
#[derive(Serialize, JsonSchema)]
pub struct HtlcScriptOut {
    kind: ScriptKind,
    anchors: bool,
    payment_hash: String,
    script_hex: String,
    asm: String,
    script_pubkey: String,
    address: String,
    network: String,
    /// Each way to spend it, as a witness stack.
    witness_templates: Map<String, Value>,
}

fn req<T: Clone>(input: &Input, field: &str, v: &Option<T>) -> Result<T, CliError> {
    v.clone()
        .ok_or_else(|| input.error(field, "missing required field"))
}

/// `lnkit htlc-script` on an input object.
pub fn htlc_script(input: &Input, ex: &mut Explain) -> StepResult {
    let h: HtlcScriptIn = input.typed()?;
    let kind = h.kind;
    let anchors = h.anchors.as_ref().is_some_and(|a| a.0);
    let network = h
        .network
        .as_ref()
        .map_or(bitcoin::Network::Bitcoin, |n| n.0);
    let hash = payment_hash(input)?;
    let (witness_script, templates) = match kind {
        ScriptKind::Swap => {
            let timeout = req(input, "timeout_block_height", &h.timeout_block_height)?.0;
            let terms = SwapTerms {
                payment_hash: hash,
                claim_pubkey: req(input, "claim_pubkey", &h.claim_pubkey)?.0,
                refund_pubkey: req(input, "refund_pubkey", &h.refund_pubkey)?.0,
                timeout,
            };
            let templates = json!({
                "claim": "<claim_sig> <payment_preimage>",
                "refund": format!("<refund_sig> <> (nLockTime >= {timeout}, nSequence < 0xffffffff)"),
            });
            (swap_contract::p2wsh_script(&terms), templates)
        }
        _ => {
            let keys = HtlcKeys {
                revocation: RevocationPubkey(
                    req(input, "revocationpubkey", &h.revocationpubkey)?.0,
                ),
                local_htlc: HtlcPubkey(req(input, "local_htlcpubkey", &h.local_htlcpubkey)?.0),
                remote_htlc: HtlcPubkey(req(input, "remote_htlcpubkey", &h.remote_htlcpubkey)?.0),
            };
            let csv = if anchors { " (nSequence 1)" } else { "" };
            if kind == ScriptKind::Offered {
                let templates = json!({
                    "revocation": "<revocation_sig> <revocationpubkey>",
                    "remote_preimage": format!("<remotehtlcsig> <payment_preimage>{csv}"),
                    "local_timeout": "0 <remotehtlcsig> <localhtlcsig> <> (the HTLC-timeout transaction)",
                });
                (script::offered_htlc(&keys, &hash, anchors), templates)
            } else {
                let cltv = CltvExpiry(req(input, "cltv_expiry", &h.cltv_expiry)?.0);
                let templates = json!({
                    "revocation": "<revocation_sig> <revocationpubkey>",
                    "local_success": "0 <remotehtlcsig> <localhtlcsig> <payment_preimage> (the HTLC-success transaction)",
                    "remote_timeout": format!("<remotehtlcsig> <> (nLockTime >= {}){csv}", cltv.0),
                });
                (
                    script::received_htlc(&keys, &hash, cltv, anchors),
                    templates,
                )
            }
        }
    };
    let script_pubkey = witness_script.to_p2wsh();
    let address = Address::from_script(&script_pubkey, network)
        .map_err(|e| CliError::failure(format!("address: {e}")))?;
    ex.line(format!(
        "witness script ({} bytes): {}",
        witness_script.len(),
        witness_script.to_asm_string()
    ));
    ex.line(format!(
        "P2WSH output: OP_0 <SHA256(witness script)> = {}",
        hex(script_pubkey.as_bytes())
    ));
    let out = HtlcScriptOut {
        kind,
        anchors: anchors && kind != ScriptKind::Swap,
        payment_hash: hash.to_string(),
        script_hex: hex(witness_script.as_bytes()),
        asm: witness_script.to_asm_string(),
        script_pubkey: hex(script_pubkey.as_bytes()),
        address: address.to_string(),
        network: network.to_string(),
        witness_templates: match templates {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    };
    respond(out)
}
