//! `lnkit swap verify`: rebuild the lock a service describes from your own
//! hash, keys and timeout rules, and name every check that fails.

use bitcoin::secp256k1::{PublicKey, Secp256k1, XOnlyPublicKey};
use bitcoin::ScriptBuf;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::field::{field_type, BlockHeight, Net, Pubkey, Sat, Script, Tx};
use super::super::input::{self, Parsed};
use super::super::{hex, CliError, Explain, Input, StepResult};
use super::terms::{chain_params, LightningIn};
use super::HashIn;
use crate::cli::respond;
use crate::swap::chain::Chain;
use crate::swap::contract::hash160_of;
use crate::swap::verify::{self as swap_verify, Expectations, Offer, OfferedLock};
use crate::swap::SwapKind;

fn leaf_script(v: &Value) -> Parsed<ScriptBuf> {
    // A leaf as `swap create` writes it ({"script_hex": …}) or as bare hex.
    match v {
        Value::Object(m) => m
            .get("script_hex")
            .ok_or_else(|| "expected a script hex, or an object with script_hex".to_string())
            .and_then(input::script_hex),
        other => input::script_hex(other),
    }
}

fn xonly_key(v: &Value) -> Parsed<XOnlyPublicKey> {
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

field_type! {
    /// A tap leaf: its script hex, or an object with `script_hex` as `swap create` writes it.
    Leaf(ScriptBuf), leaf_script, |s| Value::String(hex(s.as_bytes())),
    {"type": ["string", "object"], "format": "leaf"}
}

field_type! {
    /// A 32-byte x-only key (a 33-byte key is taken by its x coordinate).
    XOnly(XOnlyPublicKey), xonly_key, |k| Value::String(k.to_string()),
    {"type": "string", "format": "xonly-pubkey"}
}

/// `swap verify`'s fields: what the service offers, and what is yours.
#[derive(Deserialize, JsonSchema)]
pub struct VerifyIn {
    /// submarine, reverse or chain: which key is yours (--kind).
    kind: SwapKind,
    /// The service's P2WSH script (or tree).
    redeem_script: Option<Script>,
    /// The service's P2TR tree: claim_leaf, refund_leaf, internal_key.
    tree: Option<TreeIn>,
    /// The address the service asks you to pay (or will pay).
    address: String,
    /// The refund's height.
    timeout_block_height: BlockHeight,
    /// The amount you expect locked.
    expected_amount_sat: Option<Sat>,
    /// The same, as swap create names it.
    amount_sat: Option<Sat>,
    /// The lockup, when it exists: its output is checked too.
    lockup_tx_hex: Option<Tx>,
    /// The claim key.
    claim_pubkey: Pubkey,
    /// The refund key.
    refund_pubkey: Pubkey,
    /// bitcoin or litecoin (default bitcoin).
    chain: Option<Chain>,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    network: Option<Net>,
    /// The chain's height now.
    current_height: BlockHeight,
}

/// A P2TR lock as offered.
#[derive(Deserialize, JsonSchema)]
pub struct TreeIn {
    claim_leaf: Leaf,
    refund_leaf: Leaf,
    internal_key: XOnly,
}

/// Every check passed.
#[derive(Serialize, JsonSchema)]
pub struct VerifyOut {
    ok: bool,
    kind: SwapKind,
    payment_hash: String,
    hash160: String,
    script_pubkey: String,
    checks: Vec<CheckOut>,
}

/// One check.
#[derive(Serialize, JsonSchema)]
pub struct CheckOut {
    name: String,
    ok: bool,
    detail: String,
}

/// `lnkit swap verify` on an input object.
pub(crate) fn verify(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::verification_only();
    let v: VerifyIn = input.typed()?;
    let h: HashIn = input.typed()?;
    let lightning: LightningIn = input.typed()?;
    let kind = v.kind;
    let inv = h.invoice(input)?;
    // A submarine swap's invoice is the user's own, so its hash is the
    // user's; a reverse swap's invoice comes from the service and is only
    // checked against the hash of the user's own preimage.
    let own_invoice = if kind == SwapKind::Submarine {
        inv.as_ref()
    } else {
        None
    };
    let hash = h.hash(input, own_invoice)?;
    let lock =
        match (v.redeem_script, v.tree) {
            (Some(redeem_script), None) => OfferedLock::P2wsh {
                redeem_script: redeem_script.0,
            },
            (None, Some(tree)) => OfferedLock::P2tr {
                claim_leaf: tree.claim_leaf.0,
                refund_leaf: tree.refund_leaf.0,
                internal_key: tree.internal_key.0,
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
    let offer = Offer {
        lock,
        address: v.address,
        timeout: v.timeout_block_height.0,
        expected_amount: v.expected_amount_sat.or(v.amount_sat).map(|a| a.0),
        lockup_tx: v.lockup_tx_hex.map(|t| t.0),
    };
    let exp = Expectations {
        kind,
        payment_hash: hash,
        claim_pubkey: v.claim_pubkey.0,
        refund_pubkey: v.refund_pubkey.0,
        chain: chain_params(v.chain, v.network.as_ref(), input)?,
        current_height: v.current_height.0,
        lightning: lightning.terms(inv.as_ref().map(|i| i.ln)),
        invoice_hash: inv.as_ref().map(|i| i.hash),
        margin_blocks: lightning.margin(),
        now: lightning.now(),
    };
    let report = swap_verify::verify(&secp, &offer, &exp);
    for c in &report.checks {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        ex.line(format!("{mark} {}: {}", c.name, c.detail));
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
    let out = VerifyOut {
        ok: true,
        kind,
        payment_hash: hash.to_string(),
        hash160: hex(hash160_of(&hash)),
        script_pubkey: hex(report.expected.script_pubkey().as_bytes()),
        checks: report
            .checks
            .iter()
            .map(|c| CheckOut {
                name: c.name.to_string(),
                ok: c.ok,
                detail: c.detail.clone(),
            })
            .collect(),
    };
    respond(out)
}
