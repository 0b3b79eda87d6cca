//! `lnkit factory create|allocate|update|close|exit`: a channel factory
//! (Burchert, Decker & Wattenhofer 2018), one step at a time. Each step reads
//! the `factory` object the step before it wrote, and writes it back updated.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::secp256k1::SecretKey;
use bitcoin::{Amount, Transaction, TxOut};
use clap::Subcommand;

use super::field::Uint;
use super::input::Input;
use super::{CliError, Explain, StepResult};
use crate::cli::respond;
use crate::factory::build::{self};
use crate::factory::{Channel, Factory, FactoryError};
use crate::verify;

mod create;
mod exit_step;
pub mod types;
mod update;

use types::*;

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

fn tx_json(tx: &Transaction) -> TxJson {
    TxJson {
        txid: tx.compute_txid().to_string(),
        tx_hex: serialize_hex(tx),
        vsize: tx.vsize(),
    }
}

/// The factory the step before wrote.
fn the_factory(input: &Input) -> Result<Factory, CliError> {
    Ok(input.typed::<FactoryIn>()?.factory.0)
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
        let s: SignersIn = input.typed()?;
        let keys = s.privkeys.ok_or_else(|| {
            input.error(
                "privkeys",
                "missing required field (every party's key: the factory is N-of-N)",
            )
        })?;
        Ok(Signers {
            keys: keys.into_iter().map(|k| k.0).collect(),
            seed: s.nonce_seed.map(|s| s.0),
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
    let a: AllocationIn = input.typed()?;
    let mut out = vec![];
    for (k, c) in a.channels.unwrap_or_default().into_iter().enumerate() {
        let pair = |field: &str, v: Vec<Uint>| -> Result<[u64; 2], CliError> {
            match v.as_slice() {
                [a, b] => Ok([a.0, b.0]),
                _ => Err(input.error(
                    &format!("channels[{k}].{field}"),
                    "expected two entries, one per side",
                )),
            }
        };
        let parties = pair("parties", c.parties)?;
        let amounts = pair("amounts_sat", c.amounts_sat)?;
        let key = |i: u64| f.parties.get(i as usize).map(|p| p.pubkey);
        let funding_pubkeys = match c.funding_pubkeys {
            Some([a, b]) => [a.0, b.0],
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
    let Some(balances) = input.typed::<BalancesIn>()?.balances else {
        return Ok(f);
    };
    let balances: Vec<_> = balances
        .iter()
        .map(|b| {
            b.as_ref()
                .map(|[x, y]| [Amount::from_sat(x.0), Amount::from_sat(y.0)])
        })
        .collect();
    build::settle(&f, &balances).map_err(|e| error(input, e))
}
