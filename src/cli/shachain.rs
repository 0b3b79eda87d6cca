//! `lnkit shachain derive | insert | lookup`: BOLT 3 per-commitment secrets.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use clap::{Args, Subcommand};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::field::{field_type, CommitmentNum, Hex32, ShachainIndex};
use super::input::{self, Input};
use super::{flag, hex, CliError, Explain, StepResult};
use crate::cli::respond;
use crate::shachain::{self, Index, Store};

/// `lnkit shachain ...`
#[derive(Subcommand, Debug)]
pub enum ShachainCommand {
    /// generate_from_seed: `seed` + `index` (or `commitment_number`) -> `secret`.
    Derive(IndexArgs),
    /// Add a received secret to the compact store: `store` + `index` + `secret` -> new `store`.
    Insert(IndexArgs),
    /// Derive an earlier secret from the store: `store` + `index` -> `secret`.
    Lookup(IndexArgs),
}

/// The flags every shachain step shares (each sets the input field of its name).
#[derive(Args, Debug)]
pub struct IndexArgs {
    /// The 48-bit index, counting down from 2^48-1 (field `index`).
    #[arg(long)]
    index: Option<u64>,
    /// The commitment number instead of the index (field `commitment_number`).
    #[arg(long)]
    commitment_number: Option<u64>,
    /// The seed (field `seed`), for `derive`.
    #[arg(long)]
    seed: Option<String>,
    /// The secret (field `secret`), for `insert`.
    #[arg(long)]
    secret: Option<String>,
    /// Read field `store` from FILE: a store, or an earlier `insert`'s output.
    #[arg(long, value_name = "FILE")]
    store: Option<std::path::PathBuf>,
}

/// The store from a file holding a store or any step output with a `store` field.
fn store_from_file(path: &std::path::Path) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::bad(format!("--store: cannot read {}: {e}", path.display())))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::bad(format!("--store: {} is not JSON ({e})", path.display())))?;
    Ok(match v.get("store") {
        Some(inner) => inner.clone(),
        None => v,
    })
}

/// Run `lnkit shachain ...`.
pub fn run(cmd: ShachainCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let (ShachainCommand::Derive(args)
    | ShachainCommand::Insert(args)
    | ShachainCommand::Lookup(args)) = &cmd;
    flag(input, "index", args.index);
    flag(input, "commitment_number", args.commitment_number);
    flag(input, "seed", args.seed.clone());
    flag(input, "secret", args.secret.clone());
    if let Some(path) = &args.store {
        input.set("store", store_from_file(path)?);
    }
    match cmd {
        ShachainCommand::Derive(_) => derive(input, ex),
        ShachainCommand::Insert(_) => insert(input, ex),
        ShachainCommand::Lookup(_) => lookup(input, ex),
    }
}

/// The index a shachain step works at.
#[derive(Deserialize, JsonSchema)]
pub struct IndexIn {
    /// The 48-bit index, counting down from 2^48-1 (or commitment_number).
    index: Option<ShachainIndex>,
    /// The commitment number, counting up from 0.
    commitment_number: Option<CommitmentNum>,
}

/// `shachain derive`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct DeriveIn {
    /// The seed (or shachain_seed).
    seed: Option<Hex32>,
    /// The seed, as `revoke` names it.
    shachain_seed: Option<Hex32>,
}

/// `shachain insert`'s and `lookup`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct StoreIn {
    /// The compact store (default: empty).
    store: Option<StoreField>,
    /// insert: the secret received (or per_commitment_secret).
    secret: Option<Hex32>,
    /// The secret, as `revoke` names it.
    per_commitment_secret: Option<Hex32>,
}

/// A secret at an index.
#[derive(Serialize, JsonSchema)]
pub struct SecretOut {
    index: u64,
    commitment_number: u64,
    secret: String,
    /// Its point, when the secret is a valid key.
    per_commitment_point: Option<String>,
}

/// The store with one more secret.
#[derive(Serialize, JsonSchema)]
pub struct InsertOut {
    index: u64,
    commitment_number: u64,
    /// The store's slot the secret went in.
    slot: usize,
    store: StoreField,
}

fn store(v: &Value) -> input::Parsed<Store> {
    serde_json::from_value(v.clone()).map_err(|e| {
        format!(
            "expected a shachain store {{\"entries\": [{{\"slot\", \"index\", \"secret\"}}]}}: {e}"
        )
    })
}

field_type! {
    /// The receiver's compact store: at most 49 entries of slot, index and secret.
    StoreField(Store), store, |s| serde_json::to_value(s).expect("a Store always serializes"),
    {"type": "object", "format": "shachain-store", "properties": {"entries": {"type": "array"}}}
}

/// The index from `index` or `commitment_number` (which must agree when both are given).
pub fn read_index(input: &Input) -> Result<Index, CliError> {
    let r: IndexIn = input.typed()?;
    match (r.index.map(|i| i.0), r.commitment_number.map(|n| n.0)) {
        (Some(i), Some(n)) => {
            if i.commitment_number() != n {
                return Err(input.error(
                    "index",
                    format!(
                        "index {i} is commitment number {}, but commitment_number is {}",
                        i.commitment_number().0,
                        n.0
                    ),
                ));
            }
            Ok(i)
        }
        (Some(i), None) => Ok(i),
        (None, Some(n)) => Ok(Index::from_commitment_number(n).expect("checked by the parser")),
        (None, None) => Err(input.error(
            "index",
            "missing required field (or give commitment_number)",
        )),
    }
}

/// A secret with its index, commitment number and point.
fn secret_out(index: Index, secret: &shachain::Secret) -> StepResult {
    // The point of a secret, when the secret is a valid key (a SHA256 output almost always is).
    let point = SecretKey::from_slice(secret)
        .ok()
        .map(|k| PublicKey::from_secret_key(&Secp256k1::signing_only(), &k).to_string());
    let out = SecretOut {
        index: index.value(),
        commitment_number: index.commitment_number().0,
        secret: hex(secret),
        per_commitment_point: point,
    };
    respond(out)
}

/// `lnkit shachain derive`.
pub fn derive(input: &Input, ex: &mut Explain) -> StepResult {
    let d: DeriveIn = input.typed()?;
    let seed = d.seed.or(d.shachain_seed).map(|s| s.0).ok_or_else(|| {
        input.error(
            "seed",
            "missing required field (also accepted as: shachain_seed)",
        )
    })?;
    let index = read_index(input)?;
    let secret = shachain::generate_from_seed(&seed, index);
    ex.line(format!(
        "generate_from_seed: start from the seed; for each bit B from 47 down to 0 set in I = {index} ({:048b}), flip bit B and hash with SHA256",
        index.value()
    ));
    ex.line(format!("secret = {}", hex(secret)));
    secret_out(index, &secret)
}

fn read_store(input: &Input) -> Result<Store, CliError> {
    let r: StoreIn = input.typed()?;
    Ok(r.store.map(|s| s.0).unwrap_or_default())
}

/// `lnkit shachain insert`.
pub fn insert(input: &Input, ex: &mut Explain) -> StepResult {
    let mut store = read_store(input)?;
    let index = read_index(input)?;
    let r: StoreIn = input.typed()?;
    let secret = r
        .secret
        .or(r.per_commitment_secret)
        .map(|s| s.0)
        .ok_or_else(|| {
            input.error(
                "secret",
                "missing required field (also accepted as: per_commitment_secret)",
            )
        })?;
    let slot = index.slot();
    ex.line(format!(
        "index {index} has {slot} trailing zero bits: it goes in slot {slot}, after checking it derives the secrets in slots 0..{slot}"
    ));
    store
        .insert(index, secret)
        .map_err(|e| input.error("secret", format!("{e}; the store is unchanged")))?;
    let out = InsertOut {
        index: index.value(),
        commitment_number: index.commitment_number().0,
        slot,
        store: StoreField(store),
    };
    respond(out)
}

/// `lnkit shachain lookup`.
pub fn lookup(input: &Input, ex: &mut Explain) -> StepResult {
    let store = read_store(input)?;
    let index = read_index(input)?;
    let secret = store.lookup(index).map_err(|e| input.error("index", e))?;
    ex.line(format!(
        "found the stored entry whose index is a prefix of {index} and walked down its remaining bits"
    ));
    secret_out(index, &secret)
}
