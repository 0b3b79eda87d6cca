//! Fees paid from a wallet for what an anchors channel leaves unpaid (BOLT 3
//! `option_anchors`, "Fee Payment"): a zero-fee HTLC transaction takes fee
//! inputs and change, and a commitment gets a child through its anchor
//! (child pays for parent, CPFP), sent with it as a package.
//!
//! The node does both with its BDK wallet; these are the same transactions
//! from wallet coins the caller names, for the toolkit.

use bitcoin::secp256k1::{Secp256k1, SecretKey, Signing};
use bitcoin::{
    Amount, CompressedPublicKey, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction,
    TxOut,
};

use super::commitment::FeeratePerKw;
use super::sweep::{build_spend_paying, SpendError, SpendInput, WitnessTemplate};
use crate::payment::PaymentPreimage;

/// A zero-fee HTLC transaction as the counterparty signed it, and what the
/// holder needs to sign it again with fee inputs.
#[derive(Clone, Debug)]
pub struct ZeroFeeHtlcTx {
    /// The HTLC-success or HTLC-timeout transaction: one input, one output.
    pub tx: Transaction,
    /// The commitment's HTLC output it spends.
    pub prevout: TxOut,
    /// That output's witness script.
    pub witness_script: ScriptBuf,
    /// The counterparty's signature (`htlc_signature` of `commitment_signed`).
    pub counterparty_sig: bitcoin::ecdsa::Signature,
    /// The preimage, for HTLC-success.
    pub preimage: Option<PaymentPreimage>,
    /// The holder's `htlcpubkey` secret for this commitment.
    pub holder_key: SecretKey,
}

/// Why a fee could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BumpError {
    /// An HTLC transaction has one input and one output (BOLT 3).
    #[error(
        "an HTLC transaction has one input and one output; this one has {inputs} and {outputs}"
    )]
    NotHtlcTx {
        /// Its inputs.
        inputs: usize,
        /// Its outputs.
        outputs: usize,
    },
    /// Only SIGHASH_SINGLE|ANYONECANPAY lets inputs and outputs join.
    #[error("the counterparty signed with {found}, not SIGHASH_SINGLE|ANYONECANPAY: the transaction pays its own fee (a channel without anchors) and takes no fee inputs")]
    NotZeroFee {
        /// The sighash type it signed with.
        found: EcdsaSighashType,
    },
    /// The coins do not cover the fee.
    #[error(transparent)]
    Spend(#[from] SpendError),
}

/// A transaction with the wallet's coins and change joined.
#[derive(Clone, Debug)]
pub struct Funded {
    /// Signed, every input.
    pub tx: Transaction,
    /// What it pays: its inputs less its outputs.
    pub fee: Amount,
    /// The change, if any (below its dust threshold it goes to the fee).
    pub change: Option<Amount>,
    /// The outputs its inputs spend, in input order.
    pub spent: Vec<TxOut>,
}

/// A wallet coin: a P2WPKH output of `key`. Its nSequence signals
/// replacement and sets no relative lock.
pub fn wallet_coin<C: Signing>(
    secp: &Secp256k1<C>,
    outpoint: OutPoint,
    amount: Amount,
    key: SecretKey,
) -> SpendInput {
    let pubkey = CompressedPublicKey(key.public_key(secp));
    SpendInput {
        outpoint,
        prevout: TxOut {
            value: amount,
            script_pubkey: ScriptBuf::new_p2wpkh(&pubkey.wpubkey_hash()),
        },
        template: WitnessTemplate::P2wpkh,
        key,
        sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
        lock_time: None,
    }
}

fn funded(tx: Transaction, change: Option<Amount>, inputs: &[SpendInput]) -> Funded {
    let spent: Vec<TxOut> = inputs.iter().map(|i| i.prevout.clone()).collect();
    let fee = spent.iter().map(|o| o.value).sum::<Amount>()
        - tx.output.iter().map(|o| o.value).sum::<Amount>();
    Funded {
        tx,
        fee,
        change,
        spent,
    }
}

/// `h` with `wallet`'s coins after its input and change after its output, at
/// `feerate` for the whole transaction. Input 0 and output 0 keep their
/// places, which the counterparty's SIGHASH_SINGLE|ANYONECANPAY signature
/// commits to; the holder signs again with SIGHASH_ALL, now over every input.
pub fn fund_htlc_tx<C: Signing>(
    secp: &Secp256k1<C>,
    h: &ZeroFeeHtlcTx,
    wallet: &[SpendInput],
    change: &ScriptBuf,
    feerate: FeeratePerKw,
) -> Result<Funded, BumpError> {
    if h.tx.input.len() != 1 || h.tx.output.len() != 1 {
        return Err(BumpError::NotHtlcTx {
            inputs: h.tx.input.len(),
            outputs: h.tx.output.len(),
        });
    }
    if h.counterparty_sig.sighash_type != EcdsaSighashType::SinglePlusAnyoneCanPay {
        return Err(BumpError::NotZeroFee {
            found: h.counterparty_sig.sighash_type,
        });
    }
    let lock = h.tx.lock_time;
    let mut inputs = vec![SpendInput {
        outpoint: h.tx.input[0].previous_output,
        prevout: h.prevout.clone(),
        template: WitnessTemplate::ZeroFeeHtlc {
            witness_script: h.witness_script.clone(),
            counterparty_sig: h.counterparty_sig.to_vec(),
            preimage: h.preimage.map(|p| p.0),
        },
        key: h.holder_key,
        // `1 OP_CHECKSEQUENCEVERIFY` under anchors: as the counterparty signed it.
        sequence: h.tx.input[0].sequence,
        // HTLC-timeout's nLockTime is the HTLC's cltv_expiry.
        lock_time: (lock != bitcoin::absolute::LockTime::ZERO).then_some(lock),
    }];
    inputs.extend_from_slice(wallet);
    let (tx, change) = build_spend_paying(secp, &inputs, &h.tx.output, change, |w| feerate.fee(w))?;
    Ok(funded(tx, change, &inputs))
}

/// A child of `parent` (which pays `parent_fee`) spending `anchor` and
/// `wallet`'s coins to `change`, whose fee brings parent and child together
/// to `feerate` (the package feerate Core's `submitpackage` judges), and
/// at least pays for the child itself at that rate.
pub fn cpfp_child<C: Signing>(
    secp: &Secp256k1<C>,
    parent: &Transaction,
    parent_fee: Amount,
    anchor: SpendInput,
    wallet: &[SpendInput],
    change: &ScriptBuf,
    feerate: FeeratePerKw,
) -> Result<Funded, BumpError> {
    let parent_weight = parent.weight().to_wu();
    let mut inputs = vec![anchor];
    inputs.extend_from_slice(wallet);
    let fee = |child_weight: u64| {
        let package = feerate.fee(parent_weight + child_weight);
        package
            .checked_sub(parent_fee)
            .unwrap_or(Amount::ZERO)
            .max(feerate.fee(child_weight))
    };
    let (tx, change) = build_spend_paying(secp, &inputs, &[], change, fee)?;
    Ok(funded(tx, change, &inputs))
}
