//! `lnkit walkthrough`: a channel's life, step by step, with fixed demo keys.
//!
//! Each step is a real subcommand run on a JSON input built from the previous
//! steps' outputs — exactly what a shell pipeline would do — and every
//! transaction is verified by Bitcoin Core's script interpreter against the
//! output it spends. The demo keys are those of BOLT 3's appendices, so every
//! value can be checked against the spec.

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network, Transaction, TxOut};
use serde_json::{json, Value};

use super::{build_funding, htlc_script, keys, revoke, shachain};
use super::{CliError, Explain, Input, StepResult};
use crate::verify;

/// BOLT 3 Appendix B: the coinbase of block 1, whose output 0 funds the channel.
const COINBASE_TX_HEX: &str = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff03510101ffffffff0100f2052a010000001976a9143ca33c2e4446f4a305f23c80df8ad1afdcf652f988ac00000000";
/// Appendix B: the key of that coinbase output.
const COINBASE_PRIVKEY: &str = "6bd078650fcee8444e4e09825227b801a1ca928debb750eb36e6d56124bb20e8";
/// Appendix B/C: the funding private keys of local (the funder) and remote.
const LOCAL_FUNDING_PRIVKEY: &str =
    "30ff4956bbdd3222d44cc5e8a1261dab1e07957bdac5ae88fe3261ef321f3749";
const REMOTE_FUNDING_PRIVKEY: &str =
    "1552dfba4f6cf29a62a0af13c8d6981d36d0ef8d61ba10fb0fe90da7634d7e13";
/// Appendix C: basepoint secrets (its HTLC basepoints equal the payment basepoints).
const LOCAL_PAYMENT_BASEPOINT_SECRET: &str =
    "1111111111111111111111111111111111111111111111111111111111111111";
const REMOTE_REVOCATION_BASEPOINT_SECRET: &str =
    "2222222222222222222222222222222222222222222222222222222222222222";
const LOCAL_DELAYED_PAYMENT_BASEPOINT_SECRET: &str =
    "3333333333333333333333333333333333333333333333333333333333333333";
const REMOTE_PAYMENT_BASEPOINT_SECRET: &str =
    "4444444444444444444444444444444444444444444444444444444444444444";
/// Appendix D: the seed of its "correct sequence" storage test, used as local's shachain seed.
const LOCAL_SHACHAIN_SEED: &str =
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
/// Appendix C: the preimage of HTLC #2, an HTLC local offers.
const DEMO_PAYMENT_PREIMAGE: &str =
    "0202020202020202020202020202020202020202020202020202020202020202";

fn point(secret_hex: &str) -> String {
    let secret = SecretKey::from_slice(&hex::decode(secret_hex).expect("demo constant"))
        .expect("demo constant");
    PublicKey::from_secret_key(&Secp256k1::signing_only(), &secret).to_string()
}

struct Walk<'a> {
    steps: Vec<Value>,
    checks: Vec<Value>,
    ex: &'a mut Explain,
}

impl Walk<'_> {
    fn step(
        &mut self,
        command: &str,
        explanation: &str,
        input: Value,
        run: fn(&Input, &mut Explain) -> StepResult,
    ) -> StepResult {
        let n = self.steps.len() + 1;
        self.ex
            .line(format!("== step {n}: {command} — {explanation}"));
        let output = run(&Input::from_value(input.clone()), self.ex).map_err(|e| {
            CliError::failure(format!("walkthrough step {n} ({command}): {}", e.message()))
        })?;
        self.steps.push(json!({
            "step": n,
            "command": command,
            "explanation": explanation,
            "input": input,
            "output": output,
        }));
        Ok(output)
    }

    fn check(&mut self, what: &str, ok: bool) -> Result<(), CliError> {
        self.ex.line(format!(
            "check: {what}: {}",
            if ok { "ok" } else { "FAILED" }
        ));
        self.checks.push(json!({ "check": what, "ok": ok }));
        if ok {
            Ok(())
        } else {
            Err(CliError::failure(format!(
                "walkthrough check failed: {what}"
            )))
        }
    }
}

fn field<'v>(v: &'v Value, name: &str) -> &'v Value {
    &v[name]
}

/// Run the walkthrough.
pub fn run(_input: &Input, ex: &mut Explain) -> StepResult {
    let coinbase: Transaction = deserialize_hex(COINBASE_TX_HEX).expect("demo constant");
    let coinbase_out: TxOut = coinbase.output[0].clone();
    let secp = Secp256k1::signing_only();
    let coinbase_key =
        SecretKey::from_slice(&hex::decode(COINBASE_PRIVKEY).expect("demo constant"))
            .expect("demo constant");
    let change_address = Address::p2wpkh(
        &CompressedPublicKey(PublicKey::from_secret_key(&secp, &coinbase_key)),
        Network::Regtest,
    );
    let local_htlc_basepoint = point(LOCAL_PAYMENT_BASEPOINT_SECRET);
    let remote_htlc_basepoint = point(REMOTE_PAYMENT_BASEPOINT_SECRET);
    let remote_revocation_basepoint = point(REMOTE_REVOCATION_BASEPOINT_SECRET);

    let mut w = Walk {
        steps: vec![],
        checks: vec![],
        ex,
    };

    // 1. Open: the funder builds and signs the funding transaction.
    let funding = w.step(
        "lnkit build-funding --verify",
        "local (the funder) pays 10,000,000 sat into the 2-of-2 of both funding_pubkeys (BOLT 3 Appendix B)",
        json!({
            "network": "regtest",
            "inputs": [{
                "txid": coinbase.compute_txid().to_string(), "vout": 0,
                "amount_sat": coinbase_out.value.to_sat(), "type": "p2pkh",
                "privkey": COINBASE_PRIVKEY,
                "script_pubkey": hex::encode(coinbase_out.script_pubkey.as_bytes()),
            }],
            "local_funding_pubkey": point(LOCAL_FUNDING_PRIVKEY),
            "remote_funding_pubkey": point(REMOTE_FUNDING_PRIVKEY),
            "funding_amount_sat": 10_000_000,
            "change_address": change_address.to_string(),
            "feerate_per_kw": 15000,
            "verify": true,
        }),
        build_funding::build_funding,
    )?;
    let funding_tx: Transaction = field(&funding, "tx_hex")
        .as_str()
        .and_then(|h| deserialize_hex(h).ok())
        .ok_or_else(|| CliError::failure("walkthrough: build-funding gave no tx_hex"))?;
    let verified = verify::verify_transaction(&funding_tx, &[coinbase_out]);
    w.check(
        "the funding transaction passes Bitcoin Core's script interpreter against the coinbase output it spends",
        verified.is_ok(),
    )?;
    w.check(
        "its txid is Appendix B's funding txid 8984484a…",
        field(&funding, "funding_txid")
            == "8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be",
    )?;

    // 2. Commitment 0: local's per-commitment secret and point.
    let secret0 = w.step(
        "lnkit shachain derive",
        "local's per_commitment_secret for commitment 0 (shachain index 2^48-1) and its point, sent to remote in channel_ready",
        json!({ "seed": LOCAL_SHACHAIN_SEED, "commitment_number": 0 }),
        shachain::derive,
    )?;
    let point0 = field(&secret0, "per_commitment_point").clone();

    // 3. The keys of local's commitment 0.
    let delayed = w.step(
        "lnkit keys derive",
        "local_delayedpubkey (to_local output) and revocationpubkey for local's commitment 0",
        json!({
            "basepoint": point(LOCAL_DELAYED_PAYMENT_BASEPOINT_SECRET),
            "per_commitment_point": point0,
            "revocation_basepoint": remote_revocation_basepoint,
        }),
        keys::derive,
    )?;
    let revocationpubkey0 = field(&delayed, "revocationpubkey").clone();
    let local_htlc = w.step(
        "lnkit keys derive",
        "local_htlcpubkey for commitment 0, from local's htlc_basepoint",
        json!({ "basepoint": local_htlc_basepoint, "per_commitment_point": point0 }),
        keys::derive,
    )?;
    let remote_htlc = w.step(
        "lnkit keys derive",
        "remote_htlcpubkey for commitment 0: the same point tweaks remote's htlc_basepoint",
        json!({ "basepoint": remote_htlc_basepoint, "per_commitment_point": point0 }),
        keys::derive,
    )?;

    // 4. An HTLC local offers, as it would sit in commitment 0.
    w.step(
        "lnkit htlc-script --kind offered",
        "the script of an HTLC local offers: remote takes it with the preimage, local after timeout via HTLC-timeout, remote at once with the revocation key",
        json!({
            "kind": "offered",
            "network": "regtest",
            "revocationpubkey": revocationpubkey0,
            "local_htlcpubkey": field(&local_htlc, "pubkey"),
            "remote_htlcpubkey": field(&remote_htlc, "pubkey"),
            "payment_preimage": DEMO_PAYMENT_PREIMAGE,
        }),
        htlc_script::htlc_script,
    )?;

    // 5. Commitment 1 is signed; local revokes commitment 0.
    let revoked = w.step(
        "lnkit revoke",
        "after commitment 1 is signed, local revokes commitment 0 in revoke_and_ack: its secret, and the point of commitment 2",
        json!({
            "shachain_seed": LOCAL_SHACHAIN_SEED,
            "commitment_number": 0,
            "revocation_basepoint": remote_revocation_basepoint,
        }),
        revoke::revoke,
    )?;
    w.check(
        "the revealed secret's point is the per_commitment_point remote was given for commitment 0",
        field(&revoked, "per_commitment_point") == &point0,
    )?;
    w.check(
        "the revealed secret gives the same revocationpubkey as commitment 0's scripts",
        field(&revoked, "revocationpubkey") == &revocationpubkey0,
    )?;

    // 6. Remote stores the secret compactly, and can always get it back.
    let stored = w.step(
        "lnkit shachain insert",
        "remote adds the secret to its compact store (49 slots at most, checked against every earlier secret)",
        json!({
            "index": field(&revoked, "index"),
            "per_commitment_secret": field(&revoked, "per_commitment_secret"),
        }),
        shachain::insert,
    )?;
    let looked_up = w.step(
        "lnkit shachain lookup",
        "remote derives the secret of commitment 0 back from its store, as it would to punish a broadcast of commitment 0",
        json!({ "store": field(&stored, "store"), "commitment_number": 0 }),
        shachain::lookup,
    )?;
    w.check(
        "the store returns the revealed secret",
        field(&looked_up, "secret") == field(&revoked, "per_commitment_secret"),
    )?;

    Ok(json!({
        "walkthrough": "a Lightning channel's life, one protocol step at a time; each step is a subcommand you can run yourself with its input",
        "demo_keys": {
            "note": "fixed demo secrets from BOLT 3 Appendices B, C and D, so every value can be checked against the spec; never use them for real funds; as in Appendix C, each side's htlc_basepoint is its payment_basepoint",
            "coinbase_privkey": COINBASE_PRIVKEY,
            "local_funding_privkey": LOCAL_FUNDING_PRIVKEY,
            "remote_funding_privkey": REMOTE_FUNDING_PRIVKEY,
            "local_payment_basepoint_secret": LOCAL_PAYMENT_BASEPOINT_SECRET,
            "local_delayed_payment_basepoint_secret": LOCAL_DELAYED_PAYMENT_BASEPOINT_SECRET,
            "remote_payment_basepoint_secret": REMOTE_PAYMENT_BASEPOINT_SECRET,
            "remote_revocation_basepoint_secret": REMOTE_REVOCATION_BASEPOINT_SECRET,
            "local_shachain_seed": LOCAL_SHACHAIN_SEED,
            "payment_preimage": DEMO_PAYMENT_PREIMAGE,
        },
        "steps": w.steps,
        "checks": w.checks,
    }))
}
