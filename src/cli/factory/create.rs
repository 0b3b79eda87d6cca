//! `lnkit factory create`: the parties' hook transaction and the factory object.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::Secp256k1;
use serde_json::Value;

use super::super::build_funding::fee_rate;
use super::super::field::{Uint32, Whole};
use super::super::input::{self, Input};
use super::super::wallet_input::WalletInputIn;
use super::super::{hex, CliError, Explain, StepResult};
use super::*;
use crate::factory::build::{self, HookRequest};
use crate::factory::{Layer, Party};

/// `lnkit factory create`.
pub fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let c: CreateIn = input.typed()?;
    let network = c
        .network
        .as_ref()
        .map_or(bitcoin::Network::Bitcoin, |n| n.0);
    let mut parties = Vec::with_capacity(c.parties.len());
    let mut coins = Vec::with_capacity(c.parties.len());
    for (i, p) in c.parties.into_iter().enumerate() {
        let payout_script = match (&p.payout_address, p.payout_script_pubkey) {
            (Some(a), _) => input::address(network)(&Value::String(a.clone()))
                .map_err(|e| input.error(&format!("parties[{i}].payout_address"), e))?
                .script_pubkey(),
            (None, Some(s)) => s.0,
            (None, None) => {
                return Err(input.error(
                    &format!("parties[{i}].payout_script_pubkey"),
                    "missing required field",
                ))
            }
        };
        parties.push(Party {
            name: p.name.unwrap_or_else(|| format!("party {i}")),
            pubkey: p.pubkey.0,
            amount: p.amount_sat.0,
            payout_script,
        });
        coins.push(
            p.inputs
                .iter()
                .flatten()
                .map(WalletInputIn::funding_input)
                .collect::<Vec<_>>(),
        );
    }
    let blocks = |field: &str, v: Option<Uint32>, default: u16| -> Result<u16, CliError> {
        match v {
            None => Ok(default),
            Some(v) => u16::try_from(v.0)
                .map_err(|_| input.error(field, format!("{}: at most 65535 blocks (BIP 68)", v.0))),
        }
    };
    let layer = Layer::new(
        blocks("step_blocks", c.step_blocks, 144)?,
        blocks("steps", c.steps, 10)?,
    )
    .map_err(|e| error(input, e))?;
    let req = HookRequest {
        parties,
        inputs: coins,
        feerate: fee_rate(
            input,
            c.feerate_sat_per_vb.map(|r| r.0),
            c.feerate_per_kw.map(|r| r.0),
        )?,
        layer,
    };
    let hook = build::create(&secp, &req).map_err(|e| error(input, e))?;
    if let Some(spent) = hook
        .spent_outputs
        .iter()
        .cloned()
        .collect::<Option<Vec<_>>>()
    {
        if hook.signed.iter().all(|s| *s) {
            verified(&hook.tx, &spent, "the hook")?;
        }
    }
    let f = &hook.factory;
    let group = build::group(&f.keys()).map_err(|e| error(input, e))?;
    ex.line(format!(
        "hook: {} parties, {} sat into one Taproot output whose key is the MuSig2 aggregate of all their keys (BIP 327 KeySort, BIP 86 tweak): {}",
        f.parties.len(), f.hook_amount.to_sat(), group.output_key().x_only_public_key().0));
    ex.line(format!(
        "invalidation layer: allocation n waits ({} - n) × {} blocks after the kickoff confirms; the first waits {}",
        f.layer.steps, f.layer.step_blocks, u32::from(f.layer.steps) * u32::from(f.layer.step_blocks)));
    let kickoff = build::kickoff_unsigned(f).map_err(|e| error(input, e))?;
    respond(CreateOut {
        factory: Whole(f.clone()),
        hook_txid: f.hook_txid.to_string(),
        hook_tx_hex: serialize_hex(&hook.tx),
        hook_fee_sat: hook.fee.to_sat(),
        hook_vsize: hook.tx.vsize(),
        internal_key: group.internal_key().to_string(),
        output_key: hex(group.output_key().x_only_public_key().0.serialize()),
        changes_sat: hook.changes.iter().map(|c| c.map(|a| a.to_sat())).collect(),
        kickoff_fee_sat: (f.hook_amount - kickoff.output[0].value).to_sat(),
        signed: hook.signed.clone(),
        next: "sign the kickoff and the first allocation (factory allocate) before broadcasting the hook",
    })
}
