//! `lnkit shachain derive | insert | lookup`: BOLT 3 per-commitment secrets.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::input::{self, Input};
use super::{flag, hex, CliError, Explain, StepResult};
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

/// The index from `index` or `commitment_number` (which must agree when both are given).
pub fn read_index(input: &Input) -> Result<Index, CliError> {
    let index = input.opt("index", input::shachain_index)?;
    let number = input.opt("commitment_number", input::commitment_number)?;
    match (index, number) {
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

fn index_json(index: Index) -> (Value, Value) {
    (json!(index.value()), json!(index.commitment_number().0))
}

/// A secret with its index, commitment number and point.
fn secret_json(index: Index, secret: &shachain::Secret) -> Value {
    let (i, n) = index_json(index);
    json!({
        "index": i,
        "commitment_number": n,
        "secret": hex(secret),
        "per_commitment_point": point_of(secret),
    })
}

/// The point of a secret, when the secret is a valid key (a SHA256 output almost always is).
fn point_of(secret: &shachain::Secret) -> Value {
    match SecretKey::from_slice(secret) {
        Ok(k) => json!(PublicKey::from_secret_key(&Secp256k1::signing_only(), &k).to_string()),
        Err(_) => Value::Null,
    }
}

/// `lnkit shachain derive`.
pub fn derive(input: &Input, ex: &mut Explain) -> StepResult {
    let seed = input.req_any(&["seed", "shachain_seed"], input::shachain_secret)?;
    let index = read_index(input)?;
    let secret = shachain::generate_from_seed(&seed, index);
    ex.line(format!(
        "generate_from_seed: start from the seed; for each bit B from 47 down to 0 set in I = {index} ({:048b}), flip bit B and hash with SHA256",
        index.value()
    ));
    ex.line(format!("secret = {}", hex(secret)));
    Ok(secret_json(index, &secret))
}

fn read_store(input: &Input) -> Result<Store, CliError> {
    match input.raw("store") {
        None => Ok(Store::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            input.error(
                "store",
                format!("expected a shachain store {{\"entries\": [{{\"slot\", \"index\", \"secret\"}}]}}: {e}"),
            )
        }),
    }
}

fn store_json(store: &Store) -> Value {
    serde_json::to_value(store).expect("a Store always serializes")
}

/// `lnkit shachain insert`.
pub fn insert(input: &Input, ex: &mut Explain) -> StepResult {
    let mut store = read_store(input)?;
    let index = read_index(input)?;
    let secret = input.req_any(&["secret", "per_commitment_secret"], input::shachain_secret)?;
    let slot = index.slot();
    ex.line(format!(
        "index {index} has {slot} trailing zero bits: it goes in slot {slot}, after checking it derives the secrets in slots 0..{slot}"
    ));
    store
        .insert(index, secret)
        .map_err(|e| input.error("secret", format!("{e}; the store is unchanged")))?;
    let (i, n) = index_json(index);
    Ok(json!({
        "index": i,
        "commitment_number": n,
        "slot": slot,
        "store": store_json(&store),
    }))
}

/// `lnkit shachain lookup`.
pub fn lookup(input: &Input, ex: &mut Explain) -> StepResult {
    let store = read_store(input)?;
    let index = read_index(input)?;
    let secret = store.lookup(index).map_err(|e| input.error("index", e))?;
    ex.line(format!(
        "found the stored entry whose index is a prefix of {index} and walked down its remaining bits"
    ));
    Ok(secret_json(index, &secret))
}
