//! `lnkit walkthrough --swap`: a reverse swap (Lightning → chain, Taproot),
//! a submarine swap (chain → Lightning, P2WSH), and a submarine swap the
//! service abandons, refunded after its timeout — each step a real
//! subcommand on the JSON the previous steps made, every transaction checked
//! by Bitcoin Core's script interpreter against the output it spends.

use serde_json::json;

pub(crate) use super::swap_walk::p2wpkh;
use super::swap_walk::{hash_of, invoice_step, lockup_verified, verified, wallet};
use super::walkthrough::{merged, point, tx_of, Walk, WalkthroughOut};
use super::{swap, Explain, Input, StepResult};

/// The user's swap key (claims the reverse swap, refunds the submarine ones).
const USER_KEY: &str = "7171717171717171717171717171717171717171717171717171717171717171";
/// The swap service's key (refunds the reverse swap, claims the submarine ones).
const SERVICE_KEY: &str = "7272727272727272727272727272727272727272727272727272727272727272";
/// The keys of the wallet coins that fund the lockups.
const SERVICE_WALLET_KEY: &str = "7373737373737373737373737373737373737373737373737373737373737373";
const USER_WALLET_KEY: &str = "7474747474747474747474747474747474747474747474747474747474747474";
/// Lightning node keys that sign the invoices.
const SERVICE_NODE_KEY: &str = "9191919191919191919191919191919191919191919191919191919191919191";
const USER_NODE_KEY: &str = "9292929292929292929292929292929292929292929292929292929292929292";
/// The user's preimages: the reverse swap's, the submarine swap's, the abandoned one's.
const REVERSE_PREIMAGE: &str = "8181818181818181818181818181818181818181818181818181818181818181";
const SUBMARINE_PREIMAGE: &str = "8282828282828282828282828282828282828282828282828282828282828282";
const ABANDONED_PREIMAGE: &str = "8383838383838383838383838383838383838383838383838383838383838383";
/// Fixed MuSig2 nonce seeds, so the walk is reproducible (real signers draw them fresh).
const USER_NONCE_SEED: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const SERVICE_NONCE_SEED: &str = "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2";

const HEIGHT: u32 = 800_000;
pub(super) const TIME: u64 = 1_700_000_000;

/// Run the swap walkthrough.
pub fn run(_input: &Input, ex: &mut Explain) -> StepResult {
    let mut w = Walk {
        steps: vec![],
        checks: vec![],
        ex,
    };
    let (user, service) = (point(USER_KEY), point(SERVICE_KEY));
    let (_, user_address) = p2wpkh(USER_KEY);
    let (_, service_address) = p2wpkh(SERVICE_KEY);

    // ---- A reverse swap: the user pays Lightning, receives on chain (Taproot).
    let reverse_hash = hash_of(REVERSE_PREIMAGE);
    let hold = invoice_step(
        &mut w,
        "reverse swap: the user picks a preimage and sends only its hash; the service makes a hold invoice for that hash (it cannot settle it until the preimage appears on chain); min_final_cltv_expiry_delta 200 outlasts the lock",
        SERVICE_NODE_KEY,
        &reverse_hash,
        250_000,
        200,
    )?;
    let reverse = w.step(
        "lnkit swap create",
        "the service locks 249,000 sat on chain to the hash: claim leaf for the user's key with the preimage, refund leaf for the service after 144 blocks, and a MuSig2 key path for both",
        json!({"kind": "reverse", "output_type": "p2tr", "network": "regtest", "invoice": hold,
               "claim_pubkey": user, "refund_pubkey": service, "current_height": HEIGHT, "timeout_blocks": 144,
               "amount_sat": 249_000, "current_time": TIME + 60}),
        swap::create,
    )?;
    let checked = w.step(
        "lnkit swap verify",
        "before paying the hold invoice, the user rebuilds the lock from its own preimage and key: hashlock, keys, timeout, MuSig2 internal key, address, and the invoice's hash and CLTV",
        json!({"kind": "reverse", "network": "regtest", "preimage": REVERSE_PREIMAGE, "invoice": hold,
               "claim_pubkey": user, "refund_pubkey": service, "tree": reverse["tree"], "address": reverse["address"],
               "timeout_block_height": reverse["timeout_block_height"], "current_height": HEIGHT, "current_time": TIME + 60}),
        swap::verify,
    )?;
    w.check(
        "reverse: swap verify passes every check",
        checked["ok"] == true,
    )?;
    let (service_wallet, service_coin) = wallet(SERVICE_WALLET_KEY, "aa", 1_000_000);
    let reverse_lock = w.step(
        "lnkit swap lockup",
        "the user has paid the hold invoice (the HTLC is pending at the service); the service pays the swap address from its wallet",
        merged(&reverse, service_wallet),
        swap::lockup,
    )?;
    lockup_verified(
        &mut w,
        "reverse: the service's lockup passes Bitcoin Core's interpreter",
        &reverse_lock,
        service_coin,
    )?;
    let spend = json!({"destination": user_address, "feerate_sat_per_vb": 2});
    let claim = w.step(
        "lnkit swap claim",
        "the user claims through the claim leaf, revealing the preimage on chain (the script path works without the service)",
        merged(&reverse_lock, merged(&spend, json!({"preimage": REVERSE_PREIMAGE, "claim_privkey": USER_KEY}))),
        swap::claim,
    )?;
    verified(
        &mut w,
        "reverse: the claim leaf spend passes Bitcoin Core's interpreter",
        &claim,
        &reverse_lock,
    )?;
    let revealed = claim["witness"][1].as_str().unwrap_or_default();
    w.check(
        "reverse: the preimage in the claim's witness hashes to the hold invoice's payment hash, so the service can settle it",
        hash_of(revealed) == reverse_hash,
    )?;
    // The cheaper alternative to the claim above: both sign the key path.
    let coop = merged(&reverse_lock, spend.clone());
    let user_nonce = w.step(
        "lnkit swap nonce",
        "or, cooperatively: the user's MuSig2 nonce for the key-path claim",
        merged(
            &coop,
            json!({"privkey": USER_KEY, "nonce_seed": USER_NONCE_SEED}),
        ),
        swap::nonce,
    )?;
    let service_nonce = w.step(
        "lnkit swap nonce",
        "the service's nonce for the same transaction",
        merged(
            &coop,
            json!({"privkey": SERVICE_KEY, "nonce_seed": SERVICE_NONCE_SEED}),
        ),
        swap::nonce,
    )?;
    let nonces = json!({"claim": user_nonce["pub_nonce"], "refund": service_nonce["pub_nonce"]});
    let user_partial = w.step(
        "lnkit swap sign-partial",
        "the user's partial signature",
        merged(&coop, json!({"privkey": USER_KEY, "sec_nonce": user_nonce["sec_nonce"], "pub_nonces": nonces})),
        swap::sign_partial,
    )?;
    let service_partial = w.step(
        "lnkit swap sign-partial",
        "the service's partial signature (it signs once the user has shown the preimage off chain)",
        merged(&coop, json!({"privkey": SERVICE_KEY, "sec_nonce": service_nonce["sec_nonce"], "pub_nonces": nonces})),
        swap::sign_partial,
    )?;
    let coop_claim = w.step(
        "lnkit swap claim --cooperative",
        "one aggregated signature on the key path: a smaller transaction that looks like any Taproot payment",
        merged(
            &coop,
            json!({"pub_nonces": nonces, "partial_signatures": {"claim": user_partial["partial_signature"], "refund": service_partial["partial_signature"]}}),
        ),
        swap::claim_cooperative,
    )?;
    let coop_tx = verified(
        &mut w,
        "reverse: the MuSig2 key-path claim passes Bitcoin Core's interpreter",
        &coop_claim,
        &reverse_lock,
    )?;
    w.check(
        "reverse: the key-path claim is smaller than the script-path claim",
        coop_tx.vsize() < tx_of(&claim, "tx_hex")?.vsize(),
    )?;

    // ---- A submarine swap: the user pays on chain, receives on Lightning (P2WSH).
    let submarine_hash = hash_of(SUBMARINE_PREIMAGE);
    let user_invoice = invoice_step(
        &mut w,
        "submarine swap: the user makes an invoice for 100,000 sat; only the user knows its preimage",
        USER_NODE_KEY,
        &submarine_hash,
        100_000,
        40,
    )?;
    let submarine = w.step(
        "lnkit swap create",
        "the lock the user will fund: the service claims with the invoice's preimage (which it learns by paying the invoice), the user refunds after 144 blocks",
        json!({"kind": "submarine", "output_type": "p2wsh", "network": "regtest", "invoice": user_invoice,
               "claim_pubkey": service, "refund_pubkey": user, "current_height": HEIGHT, "timeout_blocks": 144,
               "amount_sat": 100_500, "current_time": TIME + 60}),
        swap::create,
    )?;
    let checked = w.step(
        "lnkit swap verify",
        "the user checks the service's script before funding it",
        json!({"kind": "submarine", "network": "regtest", "invoice": user_invoice, "claim_pubkey": service,
               "refund_pubkey": user, "redeem_script": submarine["redeem_script"], "address": submarine["address"],
               "timeout_block_height": submarine["timeout_block_height"], "current_height": HEIGHT, "current_time": TIME + 60}),
        swap::verify,
    )?;
    w.check(
        "submarine: swap verify passes every check",
        checked["ok"] == true,
    )?;
    let (user_wallet, user_coin) = wallet(USER_WALLET_KEY, "bb", 500_000);
    let submarine_lock = w.step(
        "lnkit swap lockup",
        "the user pays the swap address",
        merged(&submarine, user_wallet),
        swap::lockup,
    )?;
    lockup_verified(
        &mut w,
        "submarine: the user's lockup passes Bitcoin Core's interpreter",
        &submarine_lock,
        user_coin,
    )?;
    let claim = w.step(
        "lnkit swap claim",
        "the service pays the invoice, learns the preimage from the payment, and claims the lockup with it",
        merged(
            &submarine_lock,
            json!({"preimage": SUBMARINE_PREIMAGE, "claim_privkey": SERVICE_KEY, "destination": service_address, "feerate_sat_per_vb": 2}),
        ),
        swap::claim,
    )?;
    verified(
        &mut w,
        "submarine: the service's claim passes Bitcoin Core's interpreter",
        &claim,
        &submarine_lock,
    )?;

    // ---- A submarine swap the service never pays: the user takes the coins back.
    let abandoned_hash = hash_of(ABANDONED_PREIMAGE);
    let unpaid = invoice_step(
        &mut w,
        "another submarine swap: a new invoice, which the service will never pay",
        USER_NODE_KEY,
        &abandoned_hash,
        50_000,
        40,
    )?;
    let abandoned = w.step(
        "lnkit swap create",
        "a Taproot lock this time, with a 72-block timeout (the invoice's CLTV 40 plus the 6-block margin fit)",
        json!({"kind": "submarine", "output_type": "p2tr", "network": "regtest", "invoice": unpaid,
               "claim_pubkey": service, "refund_pubkey": user, "current_height": HEIGHT, "timeout_blocks": 72,
               "amount_sat": 50_500, "current_time": TIME + 60}),
        swap::create,
    )?;
    let (user_wallet, user_coin) = wallet(USER_WALLET_KEY, "cc", 300_000);
    let abandoned_lock = w.step(
        "lnkit swap lockup",
        "the user pays the swap address; the service goes silent",
        merged(&abandoned, user_wallet),
        swap::lockup,
    )?;
    lockup_verified(
        &mut w,
        "abandoned: the lockup passes Bitcoin Core's interpreter",
        &abandoned_lock,
        user_coin,
    )?;
    let refund_in = merged(
        &abandoned_lock,
        json!({"refund_privkey": USER_KEY, "destination": user_address, "feerate_sat_per_vb": 2, "current_height": HEIGHT + 10}),
    );
    let early = swap::refund(&Input::from_value(refund_in.clone()), w.ex);
    w.check(
        "abandoned: a refund 62 blocks before the timeout is refused, saying when it becomes valid",
        matches!(&early, Err(e) if e.exit_code() == 2 && e.message().contains("becomes valid when the chain reaches block 800072")),
    )?;
    let refund = w.step(
        "lnkit swap refund",
        "at block 800,072 the refund leaf opens: the user signs with nLockTime 800072",
        merged(&refund_in, json!({"current_height": HEIGHT + 72})),
        swap::refund,
    )?;
    let refund_tx = verified(
        &mut w,
        "abandoned: the refund passes Bitcoin Core's interpreter",
        &refund,
        &abandoned_lock,
    )?;
    w.check(
        "abandoned: the refund's nLockTime is the swap's timeout",
        refund_tx.lock_time.to_consensus_u32() == HEIGHT + 72,
    )?;

    // The steps' own results, without the channel fields they carry forward.
    WalkthroughOut::new("swaps between Lightning and the chain, one step at a time: a reverse swap (claimed by the script path, or cooperatively by MuSig2), a submarine swap, and an abandoned submarine swap refunded after its timeout; each step is a subcommand you can run yourself on its input", json!({
            "note": "fixed demo secrets; never use them for real funds",
            "user_key": USER_KEY,
            "service_key": SERVICE_KEY,
            "service_wallet_key": SERVICE_WALLET_KEY,
            "user_wallet_key": USER_WALLET_KEY,
            "reverse_preimage": REVERSE_PREIMAGE,
            "submarine_preimage": SUBMARINE_PREIMAGE,
            "abandoned_preimage": ABANDONED_PREIMAGE,
        }), w)
        .own_results()
        .result()
}
