//! Fees paid from a wallet for what an anchors channel leaves unpaid (BOLT 3
//! `option_anchors`, "Fee Payment"): a zero-fee HTLC transaction takes fee
//! inputs and change, and a commitment gets a child through its anchor
//! (child pays for parent, CPFP), sent with it as a package.
//!
//! The node does both with its BDK wallet; these are the same transactions
//! from wallet coins the caller names, for the toolkit.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, Signing};
use bitcoin::{
    Amount, CompressedPublicKey, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction,
    TxOut,
};

use super::close::anchor_spend;
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

impl ZeroFeeHtlcTx {
    /// An HTLC transaction as signed for broadcast at zero fee: its witness
    /// is `0 <remotehtlcsig> <localhtlcsig> <payment_preimage or empty>
    /// <witness_script>` (BOLT 3 "HTLC-Timeout and HTLC-Success
    /// Transactions"), where `remotehtlcsig` is the counterparty's. `amount`
    /// is the commitment's HTLC output; `holder_key` signs it again.
    pub fn from_signed(
        tx: Transaction,
        amount: Amount,
        holder_key: SecretKey,
    ) -> Result<Self, BumpError> {
        let witness: Vec<&[u8]> = tx
            .input
            .first()
            .map(|i| i.witness.iter().collect())
            .unwrap_or_default();
        let [_, counterparty_sig, _, preimage, witness_script] = witness[..] else {
            return Err(BumpError::NotSigned {
                items: witness.len(),
            });
        };
        let counterparty_sig = bitcoin::ecdsa::Signature::from_slice(counterparty_sig)
            .map_err(|e| BumpError::CounterpartySig(e.to_string()))?;
        let preimage = <[u8; 32]>::try_from(preimage).ok().map(PaymentPreimage);
        let witness_script = ScriptBuf::from_bytes(witness_script.to_vec());
        Ok(Self {
            prevout: TxOut {
                value: amount,
                script_pubkey: witness_script.to_p2wsh(),
            },
            witness_script,
            counterparty_sig,
            preimage,
            holder_key,
            tx,
        })
    }

    /// HTLC-success (it carries the preimage) or HTLC-timeout.
    pub fn kind(&self) -> &'static str {
        if self.preimage.is_some() {
            "HTLC-success"
        } else {
            "HTLC-timeout"
        }
    }
}

/// Why a fee could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BumpError {
    /// Not a signed HTLC transaction: its witness is not BOLT 3's five items.
    #[error("is not a signed HTLC transaction (its witness has {items} items, not 5)")]
    NotSigned {
        /// The items its first input's witness has.
        items: usize,
    },
    /// The counterparty's signature in the witness does not parse.
    #[error("the counterparty's signature: {0}")]
    CounterpartySig(String),
    /// The commitment has no anchor locked to the holder's funding key.
    #[error("the commitment has no anchor of this key (a channel without anchors, or the other side's commitment)")]
    NoAnchor,
    /// The funding amount is less than the commitment pays out.
    #[error("is less than the commitment's outputs ({} sat)", outputs.to_sat())]
    FundingBelowOutputs {
        /// What the commitment's outputs add up to.
        outputs: Amount,
    },
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

/// A commitment's child through the holder's anchor.
#[derive(Clone, Debug)]
pub struct AnchorCpfp {
    /// The child, signed.
    pub child: Funded,
    /// What the commitment pays by itself: the funding amount less its outputs.
    pub parent_fee: Amount,
    /// The commitment's weight.
    pub parent_weight: u64,
    /// The anchor's output index in the commitment.
    pub anchor_vout: u32,
}

impl AnchorCpfp {
    /// Parent and child together.
    pub fn package_weight(&self) -> u64 {
        self.parent_weight + self.child.tx.weight().to_wu()
    }

    /// What parent and child pay together.
    pub fn package_fee(&self) -> Amount {
        self.parent_fee + self.child.fee
    }
}

/// A child of the holder's commitment `parent` (of a channel funded with
/// `funding_amount`) that spends the holder's anchor, locked to
/// `funding_key` (BOLT 3 "to_local_anchor and to_remote_anchor Output"),
/// and `wallet`'s coins, so that parent and child pay `feerate` together.
pub fn anchor_cpfp<C: Signing>(
    secp: &Secp256k1<C>,
    parent: &Transaction,
    funding_amount: Amount,
    funding_key: SecretKey,
    wallet: &[SpendInput],
    change: &ScriptBuf,
    feerate: FeeratePerKw,
) -> Result<AnchorCpfp, BumpError> {
    let anchor_script = crate::script::anchor(&PublicKey::from_secret_key(secp, &funding_key));
    let spk = anchor_script.to_p2wsh();
    let vout = parent
        .output
        .iter()
        .position(|o| o.script_pubkey == spk)
        .ok_or(BumpError::NoAnchor)?;
    let outputs: Amount = parent.output.iter().map(|o| o.value).sum();
    let parent_fee = funding_amount
        .checked_sub(outputs)
        .ok_or(BumpError::FundingBelowOutputs { outputs })?;
    let anchor = anchor_spend(
        OutPoint {
            txid: parent.compute_txid(),
            vout: vout as u32,
        },
        parent.output[vout].clone(),
        anchor_script,
        funding_key,
    );
    let child = cpfp_child(secp, parent, parent_fee, anchor, wallet, change, feerate)?;
    Ok(AnchorCpfp {
        child,
        parent_fee,
        parent_weight: parent.weight().to_wu(),
        anchor_vout: vout as u32,
    })
}
