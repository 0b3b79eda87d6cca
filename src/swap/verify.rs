//! What a swap client must check of the lockup a service describes before
//! it pays an invoice (submarine: before locking its own coins to the
//! service's script; reverse: before paying the service's hold invoice).
//! Every check is named, and all of them run, so one report lists every
//! mistake at once.

use bitcoin::absolute::Height;
use bitcoin::secp256k1::{PublicKey, Secp256k1, Verification, XOnlyPublicKey};
use bitcoin::{Amount, ScriptBuf, Transaction};

use super::chain::ChainParams;
use super::contract::{self, hash160_of, Contract, OutputType, SwapTerms};
use super::musig::{self, KeyOrder};
use super::spend::find_lockup_output;
use super::timeout::{self, LightningTerms};
use super::SwapKind;
use crate::payment::PaymentHash;

/// How the service says the coins are locked.
#[derive(Clone, Debug)]
pub enum OfferedLock {
    /// A P2WSH witness script.
    P2wsh {
        /// The script.
        redeem_script: ScriptBuf,
    },
    /// A Taproot tree.
    P2tr {
        /// The claim leaf.
        claim_leaf: ScriptBuf,
        /// The refund leaf.
        refund_leaf: ScriptBuf,
        /// The internal key.
        internal_key: XOnlyPublicKey,
    },
}

/// The service's description of the lockup.
#[derive(Clone, Debug)]
pub struct Offer {
    /// The script or tree.
    pub lock: OfferedLock,
    /// The address the service says it pays (or asks to be paid).
    pub address: String,
    /// The timeout the service claims.
    pub timeout: Height,
    /// The amount the service says is locked.
    pub expected_amount: Option<Amount>,
    /// The lockup transaction, once there is one.
    pub lockup_tx: Option<Transaction>,
}

/// What the user knows for sure.
#[derive(Clone, Debug)]
pub struct Expectations {
    /// Submarine, reverse or chain.
    pub kind: SwapKind,
    /// The user's payment hash (of the user's invoice, or of the user's preimage).
    pub payment_hash: PaymentHash,
    /// The claim key (the user's own in a reverse swap).
    pub claim_pubkey: PublicKey,
    /// The refund key (the user's own in a submarine swap).
    pub refund_pubkey: PublicKey,
    /// The chain and network the lock is on.
    pub chain: ChainParams,
    /// The chain's height now.
    pub current_height: Height,
    /// The Lightning side's terms (from the invoice, or given), if known.
    pub lightning: Option<LightningTerms>,
    /// The payment hash of the invoice, if there is one: it must be the user's.
    pub invoice_hash: Option<PaymentHash>,
    /// Blocks of safety margin.
    pub margin_blocks: u32,
    /// UNIX seconds now.
    pub now: u64,
}

/// One named check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Its name.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was compared.
    pub detail: String,
}

/// The report: every check, and the contract rebuilt from the user's own
/// terms (what the service's lock must equal).
#[derive(Clone, Debug)]
pub struct Report {
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// The contract as the user's terms and the offered timeout make it.
    pub expected: Contract,
}

impl Report {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

fn check(checks: &mut Vec<Check>, name: &'static str, ok: bool, detail: impl Into<String>) {
    checks.push(Check {
        name,
        ok,
        detail: detail.into(),
    });
}

fn same(
    checks: &mut Vec<Check>,
    name: &'static str,
    what: &str,
    got: impl std::fmt::Display,
    want: impl std::fmt::Display,
) {
    let (got, want) = (got.to_string(), want.to_string());
    if got == want {
        check(checks, name, true, format!("{what} is {want}"));
    } else {
        check(
            checks,
            name,
            false,
            format!("{what} is {got}, expected {want}"),
        );
    }
}

/// Run every check of `offer` against `exp`.
pub fn verify<C: Verification>(secp: &Secp256k1<C>, offer: &Offer, exp: &Expectations) -> Report {
    let mut checks = Vec::new();
    let c = &mut checks;
    let want_hash160 = hex::encode(hash160_of(&exp.payment_hash));
    let xonly = |k: &PublicKey| k.x_only_public_key().0;

    // The script or tree, field by field.
    let key_order = match &offer.lock {
        OfferedLock::P2wsh { redeem_script } => {
            match contract::parse_p2wsh(redeem_script) {
                Ok(p) => {
                    check(
                        c,
                        "template",
                        true,
                        "the redeem_script is the swap's P2WSH template",
                    );
                    same(
                        c,
                        "hashlock",
                        "its HASH160 lock",
                        hex::encode(p.hash160),
                        &want_hash160,
                    );
                    same(
                        c,
                        "claim_key",
                        "its claim key",
                        p.claim_pubkey,
                        exp.claim_pubkey,
                    );
                    same(
                        c,
                        "refund_key",
                        "its refund key",
                        p.refund_pubkey,
                        exp.refund_pubkey,
                    );
                    same(c, "timeout", "its CLTV timeout", p.timeout, offer.timeout);
                }
                Err(e) => check(c, "template", false, format!("redeem_script: {e}")),
            }
            KeyOrder::Sorted
        }
        OfferedLock::P2tr {
            claim_leaf,
            refund_leaf,
            internal_key,
        } => {
            let claim = contract::parse_claim_leaf(claim_leaf);
            let refund = contract::parse_refund_leaf(refund_leaf);
            match (&claim, &refund) {
                (Ok(_), Ok(_)) => check(
                    c,
                    "template",
                    true,
                    "both leaves are the swap's Taproot templates",
                ),
                (Err(e), _) | (_, Err(e)) => check(c, "template", false, e.to_string()),
            }
            if let Ok((hash160, key)) = claim {
                same(
                    c,
                    "hashlock",
                    "the claim leaf's HASH160 lock",
                    hex::encode(hash160),
                    &want_hash160,
                );
                same(
                    c,
                    "claim_key",
                    "the claim leaf's key",
                    key,
                    xonly(&exp.claim_pubkey),
                );
            }
            if let Ok((key, t)) = refund {
                same(
                    c,
                    "refund_key",
                    "the refund leaf's key",
                    key,
                    xonly(&exp.refund_pubkey),
                );
                same(
                    c,
                    "timeout",
                    "the refund leaf's CLTV timeout",
                    t,
                    offer.timeout,
                );
            }
            match musig::find_order(&exp.claim_pubkey, &exp.refund_pubkey, internal_key) {
                Some(order) => {
                    check(
                        c,
                        "internal_key",
                        true,
                        format!("the internal key is the MuSig2 aggregate of the claim and refund keys ({} order)", order.name()),
                    );
                    order
                }
                None => {
                    check(
                        c,
                        "internal_key",
                        false,
                        format!(
                            "the internal key {internal_key} is not the MuSig2 aggregate of the claim and refund keys in any order (sorted: {})",
                            xonly(&musig::aggregate_key(&exp.claim_pubkey, &exp.refund_pubkey, KeyOrder::Sorted))
                        ),
                    );
                    KeyOrder::Sorted
                }
            }
        }
    };

    // The address must be the one the user's own terms make.
    let output_type = match offer.lock {
        OfferedLock::P2wsh { .. } => OutputType::P2wsh,
        OfferedLock::P2tr { .. } => OutputType::P2tr,
    };
    let terms = SwapTerms {
        payment_hash: exp.payment_hash,
        claim_pubkey: exp.claim_pubkey,
        refund_pubkey: exp.refund_pubkey,
        timeout: offer.timeout,
    };
    let expected = Contract::new(secp, terms, output_type, key_order);
    match exp.chain.address(&expected.script_pubkey()) {
        Ok(want) => same(c, "address", "the address", &offer.address, want),
        Err(e) => check(c, "address", false, e.to_string()),
    }

    // Timing.
    match timeout::blocks_left(offer.timeout, exp.current_height) {
        Ok(blocks) => {
            check(
                c,
                "timeout_in_future",
                true,
                format!("{blocks} blocks to the timeout"),
            );
            if let Some(ln) = &exp.lightning {
                let interval = exp.chain.chain.block_interval_secs();
                match timeout::check_lightning(exp.kind, blocks, ln, exp.margin_blocks, interval, exp.now) {
                    Ok(()) => check(
                        c,
                        "timeout_margin",
                        true,
                        format!(
                            "{blocks} blocks against the invoice's min_final_cltv_expiry_delta {} with a margin of {} blocks",
                            ln.min_final_cltv_expiry_delta, exp.margin_blocks
                        ),
                    ),
                    Err(e) => check(c, "timeout_margin", false, e.to_string()),
                }
            }
        }
        Err(e) => check(c, "timeout_in_future", false, e.to_string()),
    }
    if let Some(hash) = &exp.invoice_hash {
        same(
            c,
            "invoice_payment_hash",
            "the invoice's payment hash",
            hash,
            exp.payment_hash,
        );
    }

    // The lockup itself, once it exists.
    if let Some(tx) = &offer.lockup_tx {
        match find_lockup_output(&expected, tx) {
            Ok((outpoint, out)) => {
                check(
                    c,
                    "lockup_output",
                    true,
                    format!("{outpoint} pays the address"),
                );
                if let Some(want) = offer.expected_amount {
                    same(
                        c,
                        "amount",
                        "the locked amount (sat)",
                        out.value.to_sat(),
                        want.to_sat(),
                    );
                }
            }
            Err(e) => check(c, "lockup_output", false, e.to_string()),
        }
    }
    Report { checks, expected }
}
