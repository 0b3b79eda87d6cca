//! `lnkit factory create|allocate|update|close|exit`: a channel factory
//! (Burchert, Decker & Wattenhofer 2018), one step at a time. Each step reads
//! the `factory` object the step before it wrote, and writes it back updated.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::secp256k1::SecretKey;
use bitcoin::{Amount, Transaction, TxOut};
use clap::Subcommand;
use serde_json::{json, Value};

use super::input::{self, Input};
use super::{CliError, Explain, StepResult};
use crate::factory::build::{self};
use crate::factory::{Channel, Factory, FactoryError};
use crate::verify;

mod create;
mod exit_step;
mod update;

pub use create::create;
pub use exit_step::exit_plan;
pub use update::{allocate, close, update};

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

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}
