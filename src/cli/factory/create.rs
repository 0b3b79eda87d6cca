//! `lnkit factory create`: the parties' hook transaction and the factory object.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::Secp256k1;
use serde_json::json;

use super::super::build_funding::{feerate, read_input};
use super::super::input::{self, Input};
use super::super::{hex, CliError, Explain, StepResult};
use super::*;
use crate::factory::build::{self, HookRequest};
use crate::factory::{Layer, Party};

/// `lnkit factory create`.
pub fn create(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let network = input.network()?;
    let items = input.objects("parties")?;
    let mut parties = Vec::with_capacity(items.len());
    let mut coins = Vec::with_capacity(items.len());
    for (i, p) in items.iter().enumerate() {
        let payout_script = match p.opt("payout_address", input::address(network))? {
            Some(a) => a.script_pubkey(),
            None => p.req("payout_script_pubkey", input::script_hex)?,
        };
        parties.push(Party {
            name: p
                .opt("name", |v| {
                    v.as_str()
                        .map(String::from)
                        .ok_or("expected a string".into())
                })?
                .unwrap_or_else(|| format!("party {i}")),
            pubkey: p.req("pubkey", input::pubkey)?,
            amount: p.req("amount_sat", input::amount_sat)?,
            payout_script,
        });
        coins.push(
            p.objects("inputs")?
                .iter()
                .map(read_input)
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let blocks = |field: &str, default: u16| -> Result<u16, CliError> {
        match input.opt(field, input::uint32)? {
            None => Ok(default),
            Some(v) => u16::try_from(v)
                .map_err(|_| input.error(field, format!("{v}: at most 65535 blocks (BIP 68)"))),
        }
    };
    let layer = Layer::new(blocks("step_blocks", 144)?, blocks("steps", 10)?)
        .map_err(|e| error(input, e))?;
    let req = HookRequest {
        parties,
        inputs: coins,
        feerate: feerate(input)?,
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
    Ok(json!({
        "factory": f,
        "hook_txid": f.hook_txid.to_string(),
        "hook_tx_hex": serialize_hex(&hook.tx),
        "hook_fee_sat": hook.fee.to_sat(),
        "hook_vsize": hook.tx.vsize(),
        "internal_key": group.internal_key().to_string(),
        "output_key": hex(group.output_key().x_only_public_key().0.serialize()),
        "changes_sat": hook.changes.iter().map(|c| c.map(|a| a.to_sat())).collect::<Vec<_>>(),
        "kickoff_fee_sat": (f.hook_amount - kickoff.output[0].value).to_sat(),
        "signed": hook.signed,
        "next": "sign the kickoff and the first allocation (factory allocate) before broadcasting the hook",
    }))
}
