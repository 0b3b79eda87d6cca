//! `lnkit walkthrough --factory`: a channel factory's life on an embedded
//! regtest chain — four parties, three channels, a reallocation, then the
//! chain forks: on one branch Dave exits alone through the timelocks, on the
//! other everyone closes together. Every step is a subcommand run on the
//! JSON a pipeline would carry, and every transaction goes through Bitcoin
//! Core's interpreter and the chain's mempool rules.

use bitcoin::OutPoint;
use serde_json::json;

use super::factory_walk::{
    copy_dir, failed, height, offer, open, payouts_unspent, space_row, wallet_script, Scratch,
};
use super::walkthrough::{self as w0, merged, point, tx_of, Walk, WalkthroughOut};
use super::{
    build_commitment, close, factory, penalty, shachain, CliError, Explain, Input, StepResult,
};
use crate::chain::{ChainSource, Regtest, RejectKind};
use crate::factory::space;

/// The four parties' demo keys (factory keys, and their wallets' keys).
pub(super) const KEYS: [&str; 4] = [
    "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
    "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2",
    "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3",
    "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4",
];
const NAMES: [&str; 4] = ["alice", "bob", "carol", "dave"];
/// Makes the MuSig2 nonces, and so the whole output, the same on every run.
const NONCE_SEED: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
/// The layer: allocations 6 blocks apart, 3 updates.
const STEP_BLOCKS: u32 = 6;
const STEPS: u32 = 3;

/// Run the factory walkthrough.
pub fn run(_input: &Input, ex: &mut Explain) -> StepResult {
    let root =
        Scratch(std::env::temp_dir().join(format!("lnkit-factory-walk-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&root.0);
    let (main_dir, fork_dir) = (root.0.join("chain"), root.0.join("fork"));
    let mut w = Walk {
        steps: vec![],
        checks: vec![],
        ex,
    };
    let miner = wallet_script(0).0;

    // Each party's coin: the coinbase of block i + 1, matured by 100 more blocks.
    let chain = open(&main_dir)?;
    let mut parties = vec![];
    for (i, name) in NAMES.iter().enumerate() {
        let (script, address) = wallet_script(i);
        let hash = chain.mine(1, &script).map_err(failed("mining"))?[0];
        let coinbase = chain.block(&hash).map_err(failed("a block"))?.txdata[0].clone();
        parties.push(json!({
            "name": name, "pubkey": point(KEYS[i]), "amount_sat": 1_000_000, "payout_address": address,
            "inputs": [{"txid": coinbase.compute_txid().to_string(), "vout": 0,
                        "amount_sat": coinbase.output[0].value.to_sat(), "privkey": KEYS[i]}],
        }));
    }
    chain.mine(100, &miner).map_err(failed("mining"))?;
    let privkeys = json!({"privkeys": KEYS, "nonce_seed": NONCE_SEED});

    let created = w.step(
        "lnkit factory create",
        "alice, bob, carol and dave each put 1,000,000 sat into one Taproot output whose key is the MuSig2 aggregate of their four keys; the kickoff that will spend it is built, unsigned",
        json!({"network": "regtest", "parties": parties, "feerate_sat_per_vb": 2,
               "step_blocks": STEP_BLOCKS, "steps": STEPS}),
        factory::create,
    )?;
    let hook = tx_of(&created, "hook_tx_hex")?;
    let first = w.step(
        "lnkit factory allocate",
        "before the hook is broadcast, all four sign the kickoff and allocation 0: channels alice–bob, bob–carol and carol–dave, each a BOLT 3 2-of-2 output; it waits 18 blocks after the kickoff",
        merged(&created, merged(&privkeys, json!({"channels": [
            {"parties": [0, 1], "amounts_sat": [400_000, 300_000]},
            {"parties": [1, 2], "amounts_sat": [200_000, 200_000]},
            {"parties": [2, 3], "amounts_sat": [500_000, 0]},
        ]}))),
        factory::allocate,
    )?;
    let old_allocation = tx_of(&first["allocation"], "tx_hex")?;
    let kickoff = tx_of(&first["kickoff"], "tx_hex")?;
    offer(&mut w, &chain, &hook, "the hook enters the mempool", None)?;
    chain.mine(1, &miner).map_err(failed("mining"))?;
    let hook_height = height(&chain)?;

    let second = w.step(
        "lnkit factory update",
        "off chain: alice paid bob 50,000 sat and carol paid dave 200,000; they reallocate: alice–bob closes into alice–carol, carol–dave stays; allocation 1 waits 6 blocks less than allocation 0",
        merged(&first, merged(&privkeys, json!({
            "balances": [[350_000, 350_000], null, [300_000, 200_000]],
            "channels": [
                {"parties": [0, 2], "amounts_sat": [300_000, 0]},
                {"parties": [1, 2], "amounts_sat": [200_000, 200_000]},
                {"parties": [2, 3], "amounts_sat": [300_000, 200_000]},
            ]}))),
        factory::update,
    )?;
    let new_allocation = tx_of(&second["allocation"], "tx_hex")?;

    // The chain forks here: the same chain, twice.
    drop(chain);
    copy_dir(&main_dir, &fork_dir)
        .map_err(|e| CliError::failure(format!("walkthrough: copying the chain: {e}")))?;
    let chain = open(&main_dir)?;

    // Branch 1: dave stops hearing from the others and exits alone.
    let plan = w.step(
        "lnkit factory exit",
        "branch 1: dave exits alone. The kickoff first; the newest allocation becomes valid 12 blocks after it, the older one 18",
        merged(&second, json!({"hook_height": hook_height})),
        factory::exit_plan,
    )?;
    offer(
        &mut w,
        &chain,
        &kickoff,
        "the kickoff enters the mempool",
        None,
    )?;
    chain.mine(1, &miner).map_err(failed("mining"))?;
    let kickoff_height = height(&chain)?;
    let valid_from = kickoff_height + STEP_BLOCKS * (STEPS - 1);
    offer(
        &mut w,
        &chain,
        &new_allocation,
        "allocation 1 right after the kickoff is refused: its timelock has not passed",
        Some(RejectKind::NonBip68Final),
    )?;
    chain
        .mine(valid_from - kickoff_height - 1, &miner)
        .map_err(failed("mining"))?;
    offer(
        &mut w,
        &chain,
        &old_allocation,
        &format!(
            "at height {}, the older allocation 0 is still refused",
            height(&chain)? + 1
        ),
        Some(RejectKind::NonBip68Final),
    )?;
    offer(
        &mut w,
        &chain,
        &new_allocation,
        &format!("at height {valid_from}, allocation 1 is accepted"),
        None,
    )?;
    chain.mine(1, &miner).map_err(failed("mining"))?;
    chain.mine(STEP_BLOCKS, &miner).map_err(failed("mining"))?;
    offer(&mut w, &chain, &old_allocation, "once its timelock has passed, allocation 0 spends a spent output: the older allocation lost the race", Some(RejectKind::MissingOrSpentInputs))?;

    // The carol–dave channel is an ordinary channel on an allocation output:
    // dave broadcasts its commitment 0, which he has revoked since.
    let channel = &second["channels"][2];
    let keyed = |local: usize, remote: usize, ch: &serde_json::Value| {
        json!({"network": "regtest", "channel_type": "anchors_zero_fee_htlc_tx",
            "funding_txid": ch["funding_txid"], "funding_output_index": ch["funding_output_index"],
            "funding_amount_sat": ch["funding_amount_sat"], "opener": "local",
            "local_funding_privkey": KEYS[local], "remote_funding_privkey": KEYS[remote],
            "local_payment_basepoint_secret": w0::LOCAL_PAYMENT_BASEPOINT_SECRET,
            "local_htlc_basepoint_secret": w0::LOCAL_PAYMENT_BASEPOINT_SECRET,
            "local_delayed_payment_basepoint_secret": w0::LOCAL_DELAYED_PAYMENT_BASEPOINT_SECRET,
            "local_revocation_basepoint_secret": w0::LOCAL_REVOCATION_BASEPOINT_SECRET,
            "remote_payment_basepoint_secret": w0::REMOTE_PAYMENT_BASEPOINT_SECRET,
            "remote_htlc_basepoint_secret": w0::REMOTE_PAYMENT_BASEPOINT_SECRET,
            "remote_delayed_payment_basepoint_secret": w0::REMOTE_DELAYED_PAYMENT_BASEPOINT_SECRET,
            "remote_revocation_basepoint_secret": w0::REMOTE_REVOCATION_BASEPOINT_SECRET,
            "to_self_delay": 144, "dust_limit_satoshis": 546, "feerate_per_kw": 2500})
    };
    let carol_dave = keyed(2, 3, channel);
    let commitment = w.step(
        "lnkit build-commitment --holder remote",
        "dave's commitment 0 of the carol–dave channel (carol 300,000, dave 200,000), spending allocation output 2 exactly as it would spend a funding transaction's output; since then carol paid dave more, and dave revoked it",
        merged(&carol_dave, json!({"holder": "remote", "commitment_number": 0, "shachain_seed": w0::REMOTE_SHACHAIN_SEED,
            "to_local_msat": 300_000_000u64, "to_remote_msat": 200_000_000u64, "htlcs": [], "verify": true})),
        build_commitment::build,
    )?;
    let commit = tx_of(&commitment, "signed_tx_hex")?;
    offer(
        &mut w,
        &chain,
        &commit,
        "dave broadcasts his revoked commitment: it spends the allocation's channel output",
        None,
    )?;
    chain.mine(1, &miner).map_err(failed("mining"))?;
    let secret = w.step(
        "lnkit shachain derive",
        "the secret dave gave carol when he revoked commitment 0",
        json!({"seed": w0::REMOTE_SHACHAIN_SEED, "commitment_number": 0}),
        shachain::derive,
    )?;
    let justice = w.step(
        "lnkit penalty",
        "carol's justice transaction takes dave's to_local at once with the revocation key, as in any channel",
        merged(&merged(&carol_dave, commitment.clone()), json!({
            "revoked_tx_hex": commitment["signed_tx_hex"], "per_commitment_secret": secret["secret"],
            "revocation_basepoint_secret": w0::LOCAL_REVOCATION_BASEPOINT_SECRET,
            "destination": wallet_script(2).1, "feerate_per_kw": 2500, "verify": true})),
        penalty::penalty,
    )?;
    let justice_tx = tx_of(&justice["penalty_txs"][0], "tx_hex")?;
    offer(
        &mut w,
        &chain,
        &justice_tx,
        "carol's justice transaction enters the mempool",
        None,
    )?;
    // alice–carol: an ordinary mutual close of a channel the allocation funded.
    let closing = w.step(
        "lnkit close --mutual",
        "alice and carol close their channel of allocation 1 cooperatively (alice 300,000, carol 0)",
        merged(&keyed(0, 2, &second["channels"][0]), json!({
            "to_local_msat": 300_000_000u64, "to_remote_msat": 0, "local_address": wallet_script(0).1,
            "remote_address": wallet_script(2).1, "verify": true})),
        close::mutual,
    )?;
    let closing_tx = tx_of(&closing, "signed_tx_hex")?;
    offer(
        &mut w,
        &chain,
        &closing_tx,
        "alice and carol's mutual close enters the mempool",
        None,
    )?;
    chain.mine(1, &miner).map_err(failed("mining"))?;
    let confirmed = [&justice_tx, &closing_tx].iter().all(|tx| {
        matches!(
            chain.utxo(&OutPoint::new(tx.compute_txid(), 0)),
            Ok(Some(_))
        )
    });
    w.check(
        "the justice transaction and the mutual close are confirmed",
        confirmed,
    )?;
    drop(chain);

    // Branch 2: the same moment, but everyone cooperates.
    let chain = open(&fork_dir)?;
    let closed = w.step(
        "lnkit factory close",
        "branch 2: all four sign one transaction spending the hook, paying each what it owns after the payments; kickoff and allocations are never broadcast",
        merged(&second, privkeys.clone()),
        factory::close,
    )?;
    let close_tx = tx_of(&closed, "tx_hex")?;
    offer(
        &mut w,
        &chain,
        &close_tx,
        "the cooperative close enters the mempool",
        None,
    )?;
    chain.mine(1, &miner).map_err(failed("mining"))?;
    offer(
        &mut w,
        &chain,
        &kickoff,
        "after the close, the kickoff spends a spent output",
        Some(RejectKind::MissingOrSpentInputs),
    )?;
    let paid = payouts_unspent(&chain, &close_tx, &closed);
    w.check(
        "each party's payout is an unspent output of the confirmed close",
        paid,
    )?;
    drop(chain);

    let here = space::compare(4, 3);
    let paper = space::compare(20, 100);
    let real = hook.vsize() as u64 + close_tx.vsize() as u64;
    w.check(
        &format!(
            "this run's hook and close ({real} vB) are no larger than predicted ({} vB)",
            here.factory_cooperative_vbytes
        ),
        real <= here.factory_cooperative_vbytes,
    )?;
    w.ex.line(format!(
        "chain space, 20 users and 100 channels: opening {:.1}% less than one by one, over the channels' life {:.1}% less (cooperative), {:.1}% less if exited unilaterally",
        paper.open_saving_percent(), paper.cooperative_saving_percent(), paper.unilateral_saving_percent()));
    let space = json!({
        "note": "virtual bytes as the builders predict them (maximum-size signatures); one by one = a funding transaction and a mutual close per channel; the paper (Burchert, Decker & Wattenhofer 2018) gives 90% for opening 100 channels among 20 users, 96% with signature aggregation",
        "this_walkthrough": space_row(&here),
        "paper": space_row(&paper),
    });
    WalkthroughOut {
        exit: Some(plan),
        chain_space: Some(space),
        ..WalkthroughOut::new("a channel factory on an embedded regtest chain: four parties, three channels, a reallocation, then one branch where dave exits alone and one where everyone closes together", json!({"note": "fixed demo secrets; never use them for real funds", "parties": NAMES, "privkeys": KEYS, "nonce_seed": NONCE_SEED}), w)
    }
    .result()
}
