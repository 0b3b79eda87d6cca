//! `lnkit factory create|allocate|update|close|exit`: a channel factory
//! (Burchert, Decker & Wattenhofer 2018), one step at a time. Each step reads
//! the `factory` object the step before it wrote, and writes it back updated.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Amount, OutPoint, Transaction, TxOut};
use clap::Subcommand;
use serde_json::{json, Value};

use super::build_funding::{feerate, read_input};
use super::input::{self, Input};
use super::{hex, CliError, Explain, StepResult};
use crate::factory::build::{self, AllocationRequest, HookRequest};
use crate::factory::{exit, Channel, Factory, FactoryError, Layer, Party};
use crate::verify;

/// `lnkit factory ...`
#[derive(Subcommand, Debug)]
pub enum FactoryCommand {
    /// The hook: N parties' coins into one MuSig2 N-of-N Taproot output (and the kickoff, unsigned).
    Create,
    /// The first allocation: channels (2-of-2 funding outputs) and shares, behind the kickoff's timelock; everyone signs.
    Allocate,
    /// A reallocation at the next lower timelock (after `balances`, the channels' payments).
    Update,
    /// The cooperative close: everyone's balance in one transaction spending the hook.
    Close,
    /// The unilateral path: kickoff and newest allocation, with the height each becomes valid at.
    Exit,
}

/// Run `lnkit factory ...`.
pub fn run(cmd: FactoryCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    match cmd {
        FactoryCommand::Create => create(input, ex),
        FactoryCommand::Allocate => allocate(input, ex),
        FactoryCommand::Update => update(input, ex),
        FactoryCommand::Close => close(input, ex),
        FactoryCommand::Exit => exit_plan(input, ex),
    }
}

fn error(input: &Input, e: FactoryError) -> CliError {
    match e {
        FactoryError::Signing(_) => CliError::bad(e.to_string()),
        FactoryError::Mismatch { .. } => input.error("shares_sat", e),
        FactoryError::OutOfSteps { .. } => input.error("factory.allocation", e),
        _ => CliError::bad(e.to_string()),
    }
}

/// A kernel check of a transaction against the outputs it spends.
fn verified(tx: &Transaction, spent: &[TxOut], what: &str) -> Result<(), CliError> {
    verify::verify_transaction(tx, spent).map_err(|e| {
        CliError::failure(format!(
            "{what}: Bitcoin Core's interpreter refused it: {e}"
        ))
    })
}

fn tx_json(tx: &Transaction) -> Value {
    json!({"txid": tx.compute_txid().to_string(), "tx_hex": serialize_hex(tx),
           "vsize": tx.vsize()})
}

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

/// The parties' secret keys, and the nonce seeds: from `nonce_seed` when
/// given (reproducible demos: BIP 327 mixes the key and message in, and
/// every member's nonce is fixed together, so a rerun signs identically),
/// else from the OS.
struct Signers {
    keys: Vec<SecretKey>,
    seed: Option<[u8; 32]>,
    count: u32,
}

impl Signers {
    fn read(input: &Input) -> Result<Self, CliError> {
        let keys = match input.raw("privkeys") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    input::secret_key(v).map_err(|m| input.error(&format!("privkeys[{i}]"), m))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(input.error("privkeys", "expected an array of secret keys in hex"))
            }
            None => {
                return Err(input.error(
                    "privkeys",
                    "missing required field (every party's key: the factory is N-of-N)",
                ))
            }
        };
        Ok(Signers {
            keys,
            seed: input.opt("nonce_seed", input::bytes32)?,
            count: 0,
        })
    }

    fn next_seed(&mut self, member: usize) -> [u8; 32] {
        self.count += 1;
        match self.seed {
            Some(seed) => {
                let mut e = sha256::Hash::engine();
                e.input(&seed);
                e.input(&self.count.to_be_bytes());
                e.input(&(member as u64).to_be_bytes());
                sha256::Hash::from_engine(e).to_byte_array()
            }
            None => bitcoin::secp256k1::rand::random(),
        }
    }
}

fn read_channels(input: &Input, f: &Factory) -> Result<Vec<Channel>, CliError> {
    let mut out = vec![];
    for (k, c) in input.objects("channels")?.iter().enumerate() {
        let pair = |field: &str| -> Result<Vec<u64>, CliError> {
            let v: Vec<u64> = c.req_typed(field)?;
            (v.len() == 2)
                .then_some(v)
                .ok_or_else(|| c.error(field, "expected two entries, one per side"))
        };
        let parties = pair("parties")?;
        let amounts = pair("amounts_sat")?;
        let key = |i: u64| f.parties.get(i as usize).map(|p| p.pubkey);
        let funding_pubkeys =
            match c.opt_typed::<[bitcoin::secp256k1::PublicKey; 2]>("funding_pubkeys")? {
                Some(keys) => keys,
                None => match (key(parties[0]), key(parties[1])) {
                    (Some(a), Some(b)) => [a, b],
                    _ => {
                        return Err(error(
                            input,
                            FactoryError::UnknownParty {
                                channel: k,
                                party: parties[0].max(parties[1]) as usize,
                                count: f.parties.len(),
                            },
                        ))
                    }
                },
            };
        out.push(Channel {
            parties: [parties[0] as usize, parties[1] as usize],
            amounts: [Amount::from_sat(amounts[0]), Amount::from_sat(amounts[1])],
            funding_pubkeys,
        });
    }
    Ok(out)
}

/// The factory after the payments `balances` gives (`[a, b]` per channel, `null` where unmoved).
fn settled(input: &Input, f: Factory) -> Result<Factory, CliError> {
    let Some(balances) = input.opt_typed::<Vec<Option<[u64; 2]>>>("balances")? else {
        return Ok(f);
    };
    let balances: Vec<_> = balances
        .iter()
        .map(|b| b.map(|[x, y]| [Amount::from_sat(x), Amount::from_sat(y)]))
        .collect();
    build::settle(&f, &balances).map_err(|e| error(input, e))
}

/// `lnkit factory allocate`: the first allocation.
pub fn allocate(input: &Input, ex: &mut Explain) -> StepResult {
    reallocate(input, ex, false)
}

/// `lnkit factory update`: each next one.
pub fn update(input: &Input, ex: &mut Explain) -> StepResult {
    reallocate(input, ex, true)
}

fn reallocate(input: &Input, ex: &mut Explain, update: bool) -> StepResult {
    let secp = Secp256k1::new();
    let f: Factory = input.req_typed("factory")?;
    match (&f.allocation, update) {
        (Some(a), false) => {
            return Err(input.error(
                "factory.allocation",
                format!(
                    "allocation {} exists already: use factory update to reallocate",
                    a.number
                ),
            ))
        }
        (None, true) => return Err(error(input, FactoryError::NoAllocation)),
        _ => {}
    }
    let f = settled(input, f)?;
    let channels = read_channels(input, &f)?;
    let shares = input
        .opt_typed::<Vec<u64>>("shares_sat")?
        .map(|s| s.into_iter().map(Amount::from_sat).collect());
    let mut signers = Signers::read(input)?;
    let next = build::allocate(
        &secp,
        &f,
        AllocationRequest { channels, shares },
        &signers.keys.clone(),
        &mut |i| signers.next_seed(i),
    )
    .map_err(|e| error(input, e))?;
    let kickoff = next.kickoff.as_ref().expect("allocate signs the kickoff");
    let alloc = next
        .allocation
        .as_ref()
        .expect("allocate sets the allocation");
    verified(
        kickoff,
        &[build::hook_output(&next).map_err(|e| error(input, e))?],
        "the kickoff",
    )?;
    verified(&alloc.tx, &[kickoff.output[0].clone()], "the allocation")?;
    let txid = alloc.tx.compute_txid();
    ex.line(format!(
        "allocation {}: nSequence = {} blocks after the kickoff; {} channel(s); {} update(s) left",
        alloc.number,
        alloc.delay_blocks,
        alloc.channels.len(),
        next.layer.left_after(alloc.number)
    ));
    let channels: Vec<Value> = alloc.channels.iter().enumerate().map(|(k, c)| json!({
        "channel": k,
        "parties": c.parties,
        "funding_txid": txid.to_string(),
        "funding_output_index": k,
        "funding_amount_sat": c.capacity().to_sat(),
        "funding_script": hex(c.funding_script().as_bytes()),
        "funding_pubkeys": c.funding_pubkeys.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    })).collect();
    Ok(json!({
        "factory": next,
        "kickoff": tx_json(kickoff),
        "allocation": merge(tx_json(&alloc.tx), json!({
            "number": alloc.number, "delay_blocks": alloc.delay_blocks,
            "steps_left": next.layer.left_after(alloc.number),
            "shares_sat": alloc.shares.iter().map(|a| a.to_sat()).collect::<Vec<_>>(),
            "fee_sat": (kickoff.output[0].value - alloc.tx.output.iter().map(|o| o.value).sum::<Amount>()).to_sat(),
        })),
        "channels": channels,
    }))
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}

/// `lnkit factory close`.
pub fn close(input: &Input, ex: &mut Explain) -> StepResult {
    let secp = Secp256k1::new();
    let f = settled(input, input.req_typed("factory")?)?;
    let mut signers = Signers::read(input)?;
    let closed = build::close(&secp, &f, &signers.keys.clone(), &mut |i| {
        signers.next_seed(i)
    })
    .map_err(|e| error(input, e))?;
    verified(
        &closed.tx,
        &[build::hook_output(&f).map_err(|e| error(input, e))?],
        "the close",
    )?;
    ex.line(format!("close: spends the hook directly, {} outputs, fee {} sat; the kickoff and allocations are never broadcast",
        closed.tx.output.len(), closed.fee.to_sat()));
    Ok(merge(
        tx_json(&closed.tx),
        json!({
            "payouts_sat": closed.payouts.iter().map(|a| a.to_sat()).collect::<Vec<_>>(),
            "fee_sat": closed.fee.to_sat(),
            "spends": OutPoint::new(f.hook_txid, f.hook_vout).to_string(),
        }),
    ))
}

/// `lnkit factory exit`.
pub fn exit_plan(input: &Input, ex: &mut Explain) -> StepResult {
    let f: Factory = input.req_typed("factory")?;
    let hook_height = input.req("hook_height", input::uint32)?;
    let kickoff_height = input.opt("kickoff_height", input::uint32)?;
    let plan = exit::plan(&f, hook_height, kickoff_height).map_err(|e| error(input, e))?;
    ex.line(format!(
        "exit: broadcast the kickoff (valid from height {}); allocation {} becomes valid {} blocks after the kickoff confirms",
        plan.kickoff_valid_from, plan.number, plan.delay_blocks));
    if let Some(older) = plan.older_valid_from {
        ex.line(format!(
            "it must confirm below height {older}, where allocation {} becomes valid too",
            plan.number - 1
        ));
    }
    Ok(json!({
        "steps": [
            merge(tx_json(&plan.kickoff), json!({"name": "kickoff", "valid_from_height": plan.kickoff_valid_from})),
            merge(tx_json(&plan.allocation), json!({"name": "allocation", "number": plan.number,
                "delay_blocks": plan.delay_blocks, "valid_from_height": plan.allocation_valid_from,
                "confirm_below_height": plan.older_valid_from})),
        ],
        "then": "each channel is an output of the allocation: close it as any channel (close --mutual, or its commitment from build-commitment)",
    }))
}
