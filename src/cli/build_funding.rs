//! `lnkit build-funding`: the 2-of-2 funding output and the funding
//! transaction (BOLT 3 "Funding Transaction Output", Appendix B).

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Address, FeeRate};
use clap::Args;
use serde_json::Value;

use super::field::{Flag, Net, Pubkey, Sat, Script, Uint};
use super::input::{self, Input};
pub use super::wallet_input::WalletInputIn;
use super::{hex, CliError, Explain, StepResult};
use crate::cli::respond;
use crate::tx::funding::{self, FundingError, FundingRequest};
use crate::verify;

/// Flags of `lnkit build-funding`.
#[derive(Args, Debug)]
pub struct BuildFundingArgs {
    /// Check every signed input with Bitcoin Core's script interpreter (field `verify`).
    #[arg(long)]
    verify: bool,
}

/// `build-funding`'s fields.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct BuildFundingIn {
    /// The wallet's inputs.
    inputs: Vec<WalletInputIn>,
    /// Where the change goes (or change_script_pubkey).
    change_address: Option<String>,
    /// The change's scriptPubKey, as hex.
    change_script_pubkey: Option<Script>,
    /// The opener's funding key.
    local_funding_pubkey: Pubkey,
    /// The other side's funding key.
    remote_funding_pubkey: Pubkey,
    /// The channel's capacity.
    funding_amount_sat: Sat,
    /// The feerate (or feerate_per_kw).
    feerate_sat_per_vb: Option<Uint>,
    /// The feerate in sat per 1000 weight units (BOLT 2's unit).
    feerate_per_kw: Option<Uint>,
    /// Check every signed input with Bitcoin Core's interpreter (--verify).
    verify: Option<Flag>,
    /// bitcoin, testnet, signet or regtest (--network; default bitcoin).
    network: Option<Net>,
}

/// The funding output and transaction.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct BuildFundingOut {
    funding_txid: String,
    funding_output_index: u32,
    funding_amount_sat: u64,
    local_funding_pubkey: String,
    remote_funding_pubkey: String,
    /// 2 <lesser key> <greater key> 2 OP_CHECKMULTISIG.
    funding_script: String,
    funding_script_asm: String,
    funding_script_pubkey: String,
    funding_address: Option<String>,
    network: String,
    txid: String,
    tx_hex: String,
    fee_sat: u64,
    change_sat: Option<u64>,
    /// Change below the dust limit goes to the fee.
    dust_change_dropped_sat: Option<u64>,
    feerate_per_kw: u64,
    /// The weight the fee was paid for (maximum-size signatures).
    predicted_weight: u64,
    weight: u64,
    /// Which inputs were signed (the others are left in the PSBT).
    signed_inputs: Vec<bool>,
    complete: bool,
    psbt: Option<String>,
    /// true when --verify passed; null without it.
    verified: Option<bool>,
}

/// Run `lnkit build-funding`.
pub fn run(args: BuildFundingArgs, input: &mut Input, ex: &mut Explain) -> StepResult {
    if args.verify {
        input.set("verify", Value::Bool(true));
    }
    build_funding(input, ex)
}

/// A `FundingError` as the field it is about: `inputs`, the paid amount
/// (`amount_field`), or one input's `privkey`.
pub(crate) fn funding_error(
    input: &Input,
    items: &[Input],
    amount_field: &str,
    e: FundingError,
) -> CliError {
    match e {
        FundingError::NoInputs | FundingError::InputOverflow => input.error("inputs", e),
        FundingError::Insufficient { .. } | FundingError::FundingDust { .. } => {
            input.error(amount_field, e)
        }
        FundingError::UncompressedKey { input: i }
        | FundingError::KeyScriptMismatch { input: i } => items[i].error("privkey", e),
        FundingError::Sighash { .. } => CliError::failure(e.to_string()),
    }
}

/// Where change goes: `change_address` (checked against `network`, which is
/// known here), or `change_script_pubkey`.
pub(crate) fn change_script(
    input: &Input,
    network: bitcoin::Network,
    has_address: bool,
    script: Option<&bitcoin::ScriptBuf>,
) -> Result<bitcoin::ScriptBuf, CliError> {
    match (has_address, script) {
        (true, _) => Ok(input
            .req("change_address", input::address(network))?
            .script_pubkey()),
        (false, Some(s)) => Ok(s.clone()),
        (false, None) => Err(input.error(
            "change_address",
            "missing required field (or give change_script_pubkey)",
        )),
    }
}

/// The feerate from `feerate_sat_per_vb` or `feerate_per_kw` (one of them).
pub(crate) fn fee_rate(
    input: &Input,
    per_vb: Option<u64>,
    per_kw: Option<u64>,
) -> Result<FeeRate, CliError> {
    match (per_vb, per_kw) {
        (Some(_), Some(_)) => Err(input.error(
            "feerate_sat_per_vb",
            "give feerate_sat_per_vb or feerate_per_kw, not both",
        )),
        (Some(vb), None) => FeeRate::from_sat_per_vb(vb)
            .ok_or_else(|| input.error("feerate_sat_per_vb", format!("{vb} sat/vB overflows"))),
        // feerate_per_kw is satoshis per 1000 weight units, as in BOLT 2.
        (None, Some(kw)) => Ok(FeeRate::from_sat_per_kwu(kw)),
        (None, None) => Err(input.error(
            "feerate_sat_per_vb",
            "missing required field (or give feerate_per_kw)",
        )),
    }
}

/// `lnkit build-funding` on an input object.
pub fn build_funding(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let b: BuildFundingIn = input.typed()?;
    let network = b
        .network
        .as_ref()
        .map_or(bitcoin::Network::Bitcoin, |n| n.0);
    let items = input.objects("inputs")?;
    let inputs = b.inputs.iter().map(|i| i.funding_input()).collect();
    let change_script = change_script(
        input,
        network,
        b.change_address.is_some(),
        b.change_script_pubkey.as_ref().map(|s| &s.0),
    )?;
    let req = FundingRequest {
        inputs,
        local_funding_pubkey: b.local_funding_pubkey.0,
        remote_funding_pubkey: b.remote_funding_pubkey.0,
        funding_amount: b.funding_amount_sat.0,
        change_script,
        feerate: fee_rate(
            input,
            b.feerate_sat_per_vb.map(|v| v.0),
            b.feerate_per_kw.map(|v| v.0),
        )?,
    };
    let want_verify = b.verify.is_some_and(|v| v.0);

    let built = funding::build_funding(&secp, &req)
        .map_err(|e| funding_error(input, &items, "funding_amount_sat", e))?;

    ex.line(format!(
        "funding script: 2 <lesser funding_pubkey> <greater funding_pubkey> 2 OP_CHECKMULTISIG = {}",
        built.funding_script.to_asm_string()
    ));
    ex.line(format!(
        "fee: {} sat/kw x {} weight (maximum-size signatures) = {} sat",
        req.feerate.to_sat_per_kwu(),
        built.payment.predicted_weight.to_wu(),
        built.payment.fee.to_sat()
    ));

    let verified = if want_verify {
        let spent: Option<Vec<_>> = built
            .payment
            .spent_outputs
            .iter()
            .zip(&built.payment.signed)
            .map(|(o, signed)| o.clone().filter(|_| *signed))
            .collect();
        let spent = spent.ok_or_else(|| {
            input.error(
                "verify",
                "every input needs a privkey for the transaction to be verified",
            )
        })?;
        verify::verify_transaction(&built.payment.tx, &spent)
            .map_err(|e| CliError::failure(format!("verification failed: {e}")))?;
        ex.line("verified: Bitcoin Core's script interpreter accepts every input");
        Some(true)
    } else {
        None
    };

    let funding_spk = &built.payment.tx.output[built.funding_output_index as usize].script_pubkey;
    let txid = built.payment.tx.compute_txid().to_string();
    let out = BuildFundingOut {
        funding_txid: txid.clone(),
        funding_output_index: built.funding_output_index,
        funding_amount_sat: req.funding_amount.to_sat(),
        local_funding_pubkey: req.local_funding_pubkey.to_string(),
        remote_funding_pubkey: req.remote_funding_pubkey.to_string(),
        funding_script: hex(built.funding_script.as_bytes()),
        funding_script_asm: built.funding_script.to_asm_string(),
        funding_script_pubkey: hex(funding_spk.as_bytes()),
        funding_address: Address::from_script(funding_spk, network)
            .map(|a| a.to_string())
            .ok(),
        network: network.to_string(),
        txid,
        tx_hex: serialize_hex(&built.payment.tx),
        fee_sat: built.payment.fee.to_sat(),
        change_sat: built.payment.change.map(|c| c.to_sat()),
        dust_change_dropped_sat: built.payment.dust_change_dropped.map(|c| c.to_sat()),
        feerate_per_kw: req.feerate.to_sat_per_kwu(),
        predicted_weight: built.payment.predicted_weight.to_wu(),
        weight: built.payment.tx.weight().to_wu(),
        signed_inputs: built.payment.signed,
        complete: built.payment.psbt.is_none(),
        psbt: built.payment.psbt.map(|p| p.to_string()),
        verified,
    };
    respond(out)
}
