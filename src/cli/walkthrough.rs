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
use clap::Args;
use serde_json::json;

pub(crate) use super::walk::{field, merged, point, tx_of, Walk, WalkthroughOut};
use super::walkthrough_commitments::commitments;
use super::{build_funding, close, keys, penalty, revoke, shachain, Explain, Input, StepResult};
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
pub(crate) const LOCAL_PAYMENT_BASEPOINT_SECRET: &str =
    "1111111111111111111111111111111111111111111111111111111111111111";
pub(crate) const REMOTE_REVOCATION_BASEPOINT_SECRET: &str =
    "2222222222222222222222222222222222222222222222222222222222222222";
pub(crate) const LOCAL_DELAYED_PAYMENT_BASEPOINT_SECRET: &str =
    "3333333333333333333333333333333333333333333333333333333333333333";
pub(crate) const REMOTE_PAYMENT_BASEPOINT_SECRET: &str =
    "4444444444444444444444444444444444444444444444444444444444444444";
/// Appendix D: the seed of its "correct sequence" storage test, used as local's shachain seed.
pub(crate) const LOCAL_SHACHAIN_SEED: &str =
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
/// Appendix D's other seed, used as remote's.
pub(crate) const REMOTE_SHACHAIN_SEED: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";
/// Demo secrets the appendices do not give (local's revocation basepoint, remote's delayed one).
pub(crate) const LOCAL_REVOCATION_BASEPOINT_SECRET: &str =
    "5555555555555555555555555555555555555555555555555555555555555555";
pub(crate) const REMOTE_DELAYED_PAYMENT_BASEPOINT_SECRET: &str =
    "6666666666666666666666666666666666666666666666666666666666666666";
/// Appendix C: the preimage of HTLC #2, an HTLC local offers.
pub(super) const DEMO_PAYMENT_PREIMAGE: &str =
    "0202020202020202020202020202020202020202020202020202020202020202";

/// Flags of `lnkit walkthrough`.
#[derive(Args, Debug)]
pub struct WalkthroughArgs {
    /// Walk through a reverse and a submarine swap instead (and an abandoned one, refunded).
    #[arg(long, conflicts_with = "factory")]
    pub swap: bool,
    /// Walk through a channel factory instead: 4 parties, 3 channels, a reallocation, a unilateral exit and a cooperative close, on an embedded regtest chain.
    #[arg(long)]
    pub factory: bool,
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
    let mut w = Walk {
        steps: vec![],
        checks: vec![],
        ex,
    };

    // 1. Open: the funder builds and signs the funding transaction.
    let funding = w.step(
        "lnkit build-funding",
        "local (the opener) pays 10,000,000 sat into the 2-of-2 of both funding_pubkeys (BOLT 3 Appendix B, byte for byte)",
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
    let funding_tx = tx_of(&funding, "tx_hex")?;
    w.check(
        "the funding transaction passes Bitcoin Core's script interpreter against the coinbase output it spends",
        verify::verify_transaction(&funding_tx, &[coinbase_out]).is_ok(),
    )?;
    w.check(
        "its txid is Appendix B's funding txid 8984484a…",
        field(&funding, "funding_txid")
            == "8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be",
    )?;

    // The channel as both sides know it after open_channel / accept_channel / funding_created.
    let channel = json!({
        "network": "regtest",
        "channel_type": "anchors_zero_fee_htlc_tx",
        "funding_txid": field(&funding, "funding_txid"),
        "funding_output_index": field(&funding, "funding_output_index"),
        "funding_amount_sat": field(&funding, "funding_amount_sat"),
        "opener": "local",
        "local_funding_privkey": LOCAL_FUNDING_PRIVKEY,
        "remote_funding_privkey": REMOTE_FUNDING_PRIVKEY,
        "local_payment_basepoint_secret": LOCAL_PAYMENT_BASEPOINT_SECRET,
        "local_htlc_basepoint_secret": LOCAL_PAYMENT_BASEPOINT_SECRET,
        "local_delayed_payment_basepoint_secret": LOCAL_DELAYED_PAYMENT_BASEPOINT_SECRET,
        "local_revocation_basepoint_secret": LOCAL_REVOCATION_BASEPOINT_SECRET,
        "remote_payment_basepoint_secret": REMOTE_PAYMENT_BASEPOINT_SECRET,
        "remote_htlc_basepoint_secret": REMOTE_PAYMENT_BASEPOINT_SECRET,
        "remote_delayed_payment_basepoint_secret": REMOTE_DELAYED_PAYMENT_BASEPOINT_SECRET,
        "remote_revocation_basepoint_secret": REMOTE_REVOCATION_BASEPOINT_SECRET,
        "to_self_delay": 144,
        "dust_limit_satoshis": 546,
        "feerate_per_kw": 2500,
    });
    let funding_out = funding_tx.output[0].clone();

    // 2. The keys of local's commitment 0, step by step.
    let secret0 = w.step(
        "lnkit shachain derive",
        "local's per_commitment_secret for commitment 0 (shachain index 2^48-1); its point goes to remote in channel_ready",
        json!({ "seed": LOCAL_SHACHAIN_SEED, "commitment_number": 0 }),
        shachain::derive,
    )?;
    let delayed = w.step(
        "lnkit keys derive",
        "local_delayedpubkey (to_local's key) and revocationpubkey of local's commitment 0",
        json!({
            "basepoint": point(LOCAL_DELAYED_PAYMENT_BASEPOINT_SECRET),
            "per_commitment_point": field(&secret0, "per_commitment_point"),
            "revocation_basepoint": point(REMOTE_REVOCATION_BASEPOINT_SECRET),
        }),
        keys::derive,
    )?;

    // 3. Commitment 0 for both sides, and commitment 1 with an HTLC local offers.
    let commitments = commitments(&mut w, &channel)?;
    let commitment = |n: u64, holder: &str| {
        commitments
            .iter()
            .find(|((m, h), _)| *m == n && *h == holder)
            .map(|(_, c)| c.clone())
            .expect("built above")
    };
    let c0 = commitment(0, "local");
    w.check(
        "local's commitment 0 uses the revocationpubkey derived step by step above",
        c0["keys"]["revocationpubkey"] == delayed["revocationpubkey"],
    )?;
    w.check(
        "every commitment passes Bitcoin Core's interpreter against the funding output",
        commitments.iter().all(|(_, c)| {
            tx_of(c, "signed_tx_hex").is_ok_and(|t| {
                verify::verify_transaction(&t, std::slice::from_ref(&funding_out)).is_ok()
            })
        }),
    )?;

    // 4. Revocations: local revokes commitments 0 and 1; remote stores the secrets.
    let mut store = json!({"entries": []});
    for n in [0u64, 1] {
        let revoked = w.step(
            "lnkit revoke",
            &format!("local revokes its commitment {n} in revoke_and_ack: the secret, and the point of commitment {}", n + 2),
            json!({ "shachain_seed": LOCAL_SHACHAIN_SEED, "commitment_number": n, "revocation_basepoint": point(REMOTE_REVOCATION_BASEPOINT_SECRET) }),
            revoke::revoke,
        )?;
        w.check(
            &format!(
                "the secret of commitment {n} matches the point its commitment was built with"
            ),
            field(&revoked, "per_commitment_point")
                == &commitment(n, "local")["per_commitment_point"],
        )?;
        let stored = w.step(
            "lnkit shachain insert",
            "remote adds the secret to its compact store (checked against every earlier secret)",
            json!({ "store": store, "index": field(&revoked, "index"), "per_commitment_secret": field(&revoked, "per_commitment_secret") }),
            shachain::insert,
        )?;
        store = field(&stored, "store").clone();
    }

    // 5. Local cheats: it broadcasts its revoked commitment 0. Remote punishes.
    let secret = w.step(
        "lnkit shachain lookup",
        "local broadcast its revoked commitment 0: remote finds that commitment's secret in its store",
        json!({ "store": store, "commitment_number": 0 }),
        shachain::lookup,
    )?;
    let cheat = tx_of(&c0, "signed_tx_hex")?;
    let justice = w.step(
        "lnkit penalty",
        "remote's justice transaction: the revocation key takes local's whole to_local at once",
        merged(
            &c0,
            json!({
                "revoked_tx_hex": field(&c0, "signed_tx_hex"),
                "per_commitment_secret": field(&secret, "secret"),
                "revocation_basepoint_secret": REMOTE_REVOCATION_BASEPOINT_SECRET,
                "destination": remote_address(),
                "feerate_per_kw": 2500,
                "verify": true,
            }),
        ),
        penalty::penalty,
    )?;
    let justice_tx = tx_of(&justice["penalty_txs"][0], "tx_hex")?;
    let spent: Vec<TxOut> = justice_tx
        .input
        .iter()
        .map(|i| cheat.output[i.previous_output.vout as usize].clone())
        .collect();
    w.check(
        "the justice transaction passes Bitcoin Core's interpreter against the revoked outputs it spends",
        verify::verify_transaction(&justice_tx, &spent).is_ok(),
    )?;

    // 6. The honest path instead: both agree to close on commitment 2's balances.
    let closing = w.step(
        "lnkit close --mutual",
        "the honest end: shutdown, then closing_signed at commitment 2's balances; the opener pays the fee",
        merged(&channel, json!({
            "to_local_msat": 8_000_000_000u64, "to_remote_msat": 2_000_000_000u64,
            "local_address": change_address.to_string(), "remote_address": remote_address(),
            "network": "regtest", "verify": true,
        })),
        close::mutual,
    )?;
    let closing_tx = tx_of(&closing, "signed_tx_hex")?;
    w.check(
        "the closing transaction passes Bitcoin Core's interpreter against the funding output",
        verify::verify_transaction(&closing_tx, std::slice::from_ref(&funding_out)).is_ok(),
    )?;

    // The steps' own results, without the channel fields they carry forward.
    WalkthroughOut::new("a Lightning channel's life, one protocol step at a time; each step is a subcommand you can run yourself on its input (outputs below show each step's own results; build-commitment also carries its input forward)", json!({
            "note": "fixed demo secrets, from BOLT 3 Appendices B, C and D where the spec has them; never use them for real funds; each side's htlc_basepoint is its payment_basepoint, as in Appendix C",
            "coinbase_privkey": COINBASE_PRIVKEY,
            "local_funding_privkey": LOCAL_FUNDING_PRIVKEY,
            "remote_funding_privkey": REMOTE_FUNDING_PRIVKEY,
            "local_payment_basepoint_secret": LOCAL_PAYMENT_BASEPOINT_SECRET,
            "local_delayed_payment_basepoint_secret": LOCAL_DELAYED_PAYMENT_BASEPOINT_SECRET,
            "local_revocation_basepoint_secret": LOCAL_REVOCATION_BASEPOINT_SECRET,
            "remote_payment_basepoint_secret": REMOTE_PAYMENT_BASEPOINT_SECRET,
            "remote_delayed_payment_basepoint_secret": REMOTE_DELAYED_PAYMENT_BASEPOINT_SECRET,
            "remote_revocation_basepoint_secret": REMOTE_REVOCATION_BASEPOINT_SECRET,
            "local_shachain_seed": LOCAL_SHACHAIN_SEED,
            "remote_shachain_seed": REMOTE_SHACHAIN_SEED,
            "payment_preimage": DEMO_PAYMENT_PREIMAGE,
        }), w)
        .own_results()
        .result()
}

/// Where remote's money goes: P2WPKH of its payment basepoint, on regtest.
fn remote_address() -> String {
    let secret = SecretKey::from_slice(
        &hex::decode(REMOTE_PAYMENT_BASEPOINT_SECRET).expect("demo constant"),
    )
    .expect("demo constant");
    let key = CompressedPublicKey(PublicKey::from_secret_key(
        &Secp256k1::signing_only(),
        &secret,
    ));
    Address::p2wpkh(&key, Network::Regtest).to_string()
}
