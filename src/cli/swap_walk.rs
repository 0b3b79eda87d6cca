//! The swap walkthrough's helpers: demo wallets, invoices, and the checks
//! every lockup and spend goes through.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network, ScriptBuf, Transaction, TxOut};
use serde_json::{json, Value};

use super::swap_walkthrough::*;
use super::walkthrough::{tx_of, Walk};
use super::{invoice, CliError};
use crate::payment::PaymentPreimage;
use crate::verify;

pub(super) fn hash_of(preimage: &str) -> String {
    let bytes: [u8; 32] = hex::decode(preimage)
        .expect("demo constant")
        .try_into()
        .expect("demo constant");
    PaymentPreimage(bytes).payment_hash().to_string()
}

pub(crate) fn p2wpkh(secret_hex: &str) -> (ScriptBuf, String) {
    let secret = SecretKey::from_slice(&hex::decode(secret_hex).expect("demo constant"))
        .expect("demo constant");
    let key = CompressedPublicKey(PublicKey::from_secret_key(
        &Secp256k1::signing_only(),
        &secret,
    ));
    let address = Address::p2wpkh(&key, Network::Regtest);
    (address.script_pubkey(), address.to_string())
}

/// A wallet coin: a fake earlier transaction's output 0 paying `key`'s P2WPKH.
pub(super) fn wallet(key: &str, txid_byte: &str, sat: u64) -> (Value, TxOut) {
    let (script_pubkey, address) = p2wpkh(key);
    let input = json!({
        "inputs": [{"txid": txid_byte.repeat(32), "vout": 0, "amount_sat": sat, "privkey": key}],
        "change_address": address,
        "feerate_sat_per_vb": 2,
    });
    let spent = TxOut {
        value: bitcoin::Amount::from_sat(sat),
        script_pubkey,
    };
    (input, spent)
}

/// Bitcoin Core's interpreter on a spend of the lockup output.
pub(super) fn verified(
    w: &mut Walk,
    what: &str,
    spend: &Value,
    lockup: &Value,
) -> Result<Transaction, CliError> {
    let tx = tx_of(spend, "tx_hex")?;
    let lock = tx_of(lockup, "lockup_tx_hex")?;
    let prevout = tx
        .input
        .first()
        .and_then(|i| lock.output.get(i.previous_output.vout as usize))
        .cloned()
        .ok_or_else(|| CliError::failure("walkthrough: the spend does not spend the lockup"))?;
    let ok = verify::verify_transaction(&tx, &[prevout]).is_ok();
    w.check(what, ok)?;
    Ok(tx)
}

pub(super) fn lockup_verified(
    w: &mut Walk,
    what: &str,
    lockup: &Value,
    spent: TxOut,
) -> Result<(), CliError> {
    let tx = tx_of(lockup, "lockup_tx_hex")?;
    let ok = verify::verify_transaction(&tx, &[spent]).is_ok();
    w.check(what, ok)
}

pub(super) fn invoice_step(
    w: &mut Walk,
    who: &str,
    node_key: &str,
    hash: &str,
    sat: u64,
    cltv: u32,
) -> Result<String, CliError> {
    let out = w.step(
        "lnkit invoice create",
        who,
        json!({"network": "regtest", "node_privkey": node_key, "payment_hash": hash,
               "payment_secret": "23".repeat(32), "amount_msat": sat * 1000, "description": "swap",
               "timestamp": TIME, "expiry": 3600, "min_final_cltv_expiry_delta": cltv}),
        invoice::create,
    )?;
    Ok(out["invoice"].as_str().unwrap_or_default().to_string())
}
