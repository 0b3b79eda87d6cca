//! `lnkit swap lockup`: pay the swap's address from wallet inputs, the
//! transaction checked by Bitcoin Core's interpreter before it is shown.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::TxOut;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::super::field::{Sat, Uint};
use super::super::{build_funding, hex, CliError, Explain, Input, StepResult};
use super::terms::{contract, destination, feerate, params};
use crate::cli::respond;
use crate::tx::funding::{self, PaymentRequest};
use crate::verify::verify_transaction;

/// `swap lockup`'s own fields.
#[derive(Deserialize, JsonSchema)]
pub struct LockupIn {
    /// The amount to lock.
    amount_sat: Sat,
    /// The wallet's inputs.
    inputs: Vec<build_funding::WalletInputIn>,
    /// Where the change goes (or change_script_pubkey).
    change_address: Option<String>,
    /// The change's scriptPubKey, as hex.
    change_script_pubkey: Option<String>,
    /// The feerate (or feerate_per_kw).
    feerate_sat_per_vb: Option<Uint>,
    /// The feerate in sat per 1000 weight units (BOLT 2's unit).
    feerate_per_kw: Option<Uint>,
}

/// What `swap lockup` writes: the swap it read (without the wallet's
/// inputs), and the lockup transaction.
#[derive(Serialize, JsonSchema)]
pub struct LockupOut {
    /// The swap's fields, carried forward for the next step.
    #[serde(flatten)]
    swap: Map<String, Value>,
    lockup_txid: String,
    lockup_vout: u32,
    lockup_tx_hex: String,
    lockup_fee_sat: u64,
    /// Whether every input was signed.
    lockup_complete: bool,
    /// Whether Bitcoin Core's interpreter accepted it (only when complete).
    lockup_verified: bool,
    /// The PSBT, when an input was left for another signer.
    lockup_psbt: Option<String>,
}

/// `lnkit swap lockup` on an input object.
pub(crate) fn lockup(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let c = contract(input)?;
    let params = params(input)?;
    let l: LockupIn = input.typed()?;
    let items = input.objects("inputs")?;
    let inputs = l.inputs.iter().map(|i| i.funding_input()).collect();
    let (change_field, change) = match (&l.change_address, &l.change_script_pubkey) {
        (Some(a), _) => ("change_address", a),
        (None, Some(s)) => ("change_script_pubkey", s),
        (None, None) => return Err(input.error("change_script_pubkey", "missing required field")),
    };
    let change_script = destination(input, change_field, change, params)?;
    let feerate = feerate(input, &l.feerate_sat_per_vb, &l.feerate_per_kw)?;
    let amount = l.amount_sat.0;
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
        .map_err(|e| build_funding::funding_error(input, &items, "amount_sat", e))?;
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
    let mut swap = match input.to_value() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    // The wallet's inputs (and their keys) are not carried forward.
    swap.remove("inputs");
    let out = LockupOut {
        swap,
        lockup_txid: paid.tx.compute_txid().to_string(),
        lockup_vout: 0,
        lockup_tx_hex: serialize_hex(&paid.tx),
        lockup_fee_sat: paid.fee.to_sat(),
        lockup_complete: complete,
        lockup_verified: complete,
        lockup_psbt: paid.psbt.map(|p| p.to_string()),
    };
    respond(out)
}
