//! `lnkit htlc-script --kind offered|received|swap`: BOLT 3 HTLC output
//! scripts and the swap contract, with their P2WSH output and address.

use bitcoin::Address;
use clap::Args;
use serde_json::{json, Value};

use super::input::{self, Input};
use super::{flag, hex, CliError, Explain, StepResult};
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

/// The payment hash from `payment_hash`, or computed from `payment_preimage`.
pub fn payment_hash(input: &Input) -> Result<PaymentHash, CliError> {
    let hash = input.opt("payment_hash", input::bytes32)?.map(PaymentHash);
    let from_preimage = input
        .opt("payment_preimage", input::bytes32)?
        .map(|p| PaymentPreimage(p).payment_hash());
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

/// `lnkit htlc-script` on an input object.
pub fn htlc_script(input: &Input, ex: &mut Explain) -> StepResult {
    let kind = input.req("kind", input::one_of(&["offered", "received", "swap"]))?;
    let anchors = input.opt("anchors", input::boolean)?.unwrap_or(false);
    let network = input.network()?;
    let hash = payment_hash(input)?;
    let (witness_script, templates) = match kind {
        "swap" => {
            let timeout = input.req("timeout_block_height", input::block_height)?;
            let terms = SwapTerms {
                payment_hash: hash,
                claim_pubkey: input.req("claim_pubkey", input::pubkey)?,
                refund_pubkey: input.req("refund_pubkey", input::pubkey)?,
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
                revocation: RevocationPubkey(input.req("revocationpubkey", input::pubkey)?),
                local_htlc: HtlcPubkey(input.req("local_htlcpubkey", input::pubkey)?),
                remote_htlc: HtlcPubkey(input.req("remote_htlcpubkey", input::pubkey)?),
            };
            let csv = if anchors { " (nSequence 1)" } else { "" };
            if kind == "offered" {
                let templates = json!({
                    "revocation": "<revocation_sig> <revocationpubkey>",
                    "remote_preimage": format!("<remotehtlcsig> <payment_preimage>{csv}"),
                    "local_timeout": "0 <remotehtlcsig> <localhtlcsig> <> (the HTLC-timeout transaction)",
                });
                (script::offered_htlc(&keys, &hash, anchors), templates)
            } else {
                let cltv = CltvExpiry(input.req("cltv_expiry", input::uint32)?);
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
    Ok(json!({
        "kind": kind,
        "anchors": anchors && kind != "swap",
        "payment_hash": hash.to_string(),
        "script_hex": hex(witness_script.as_bytes()),
        "asm": witness_script.to_asm_string(),
        "script_pubkey": hex(script_pubkey.as_bytes()),
        "address": address.to_string(),
        "network": network.to_string(),
        "witness_templates": templates,
    }))
}
