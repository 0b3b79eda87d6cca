//! Closing a channel: the mutual closing transaction both sides sign (BOLT 3
//! "Legacy Closing Transaction", BOLT 2 `closing_signed`), and, after a
//! unilateral close, the spends of what each side can take from the broadcast
//! commitment (BOLT 5 "Unilateral Close Handling").

use bitcoin::absolute::LockTime;
use bitcoin::secp256k1::SecretKey;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};

use super::commitment::{ChannelType, Side};
use super::sweep::{SpendInput, WitnessTemplate};
use crate::amount::Msat;
use crate::payment::{CltvExpiry, PaymentPreimage};

/// The terms of a mutual close.
#[derive(Clone, Debug)]
pub struct ClosingParams {
    /// The funding outpoint.
    pub funding_outpoint: OutPoint,
    /// `funding_satoshis`.
    pub funding_amount: Amount,
    /// Local's `scriptpubkey` from `shutdown`.
    pub local_script: ScriptBuf,
    /// Remote's `scriptpubkey` from `shutdown`.
    pub remote_script: ScriptBuf,
    /// Local's final balance.
    pub local_balance: Msat,
    /// Remote's final balance.
    pub remote_balance: Msat,
    /// `fee_satoshis` from `closing_signed`, paid by the opener.
    pub fee: Amount,
    /// Who opened the channel.
    pub opener: Side,
    /// The signer's `dust_limit_satoshis`: outputs below it are dropped.
    pub dust_limit: Amount,
}

/// A built closing transaction.
#[derive(Clone, Debug)]
pub struct ClosingTransaction {
    /// The unsigned transaction.
    pub tx: Transaction,
    /// Local's output: its index and value, unless dropped as dust.
    pub local_output: Option<(u32, Amount)>,
    /// Remote's output.
    pub remote_output: Option<(u32, Amount)>,
    /// Outputs dropped below the dust limit (their value goes to fees).
    pub dropped: Vec<(Side, Amount)>,
}

/// Why a closing transaction cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseError {
    /// The final balances must add up to the channel.
    #[error("final balances add up to {total} msat but the funding amount is {funding} msat")]
    BalanceMismatch {
        /// local + remote, msat.
        total: u64,
        /// funding, msat.
        funding: u64,
    },
    /// The opener cannot pay the fee.
    #[error("the opener's balance of {balance} sat cannot pay a fee of {fee} sat")]
    FeeTooHigh {
        /// The opener's balance, sat.
        balance: u64,
        /// The fee asked for.
        fee: u64,
    },
}

/// BOLT 3 "Legacy Closing Transaction": round each balance down, take the fee
/// from the opener, drop outputs below the dust limit, sort BIP 69.
pub fn build_closing(p: &ClosingParams) -> Result<ClosingTransaction, CloseError> {
    let total = p.local_balance.0.saturating_add(p.remote_balance.0);
    let funding = p.funding_amount.to_sat().saturating_mul(1000);
    if total != funding {
        return Err(CloseError::BalanceMismatch { total, funding });
    }
    let (mut local, mut remote) = (
        p.local_balance.to_sat_floor(),
        p.remote_balance.to_sat_floor(),
    );
    let opener = match p.opener {
        Side::Local => &mut local,
        Side::Remote => &mut remote,
    };
    *opener = opener.checked_sub(p.fee).ok_or(CloseError::FeeTooHigh {
        balance: opener.to_sat(),
        fee: p.fee.to_sat(),
    })?;
    let mut dropped = vec![];
    let mut outs = vec![];
    for (side, value, script) in [
        (Side::Local, local, &p.local_script),
        (Side::Remote, remote, &p.remote_script),
    ] {
        if value < p.dust_limit {
            if value > Amount::ZERO {
                dropped.push((side, value));
            }
        } else {
            outs.push((
                side,
                TxOut {
                    value,
                    script_pubkey: script.clone(),
                },
            ));
        }
    }
    outs.sort_by(|(_, a), (_, b)| {
        (a.value, a.script_pubkey.as_bytes()).cmp(&(b.value, b.script_pubkey.as_bytes()))
    });
    let find = |side| {
        outs.iter()
            .position(|(s, _)| *s == side)
            .map(|i| (i as u32, outs[i].1.value))
    };
    let (local_output, remote_output) = (find(Side::Local), find(Side::Remote));
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: p.funding_outpoint,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: outs.into_iter().map(|(_, o)| o).collect(),
    };
    Ok(ClosingTransaction {
        tx,
        local_output,
        remote_output,
        dropped,
    })
}

/// The holder's `to_local` (or an HTLC transaction's output) after
/// `to_self_delay`: witness `<local_delayedsig> <>`, nSequence = to_self_delay.
pub fn delayed_output_spend(
    outpoint: OutPoint,
    prevout: TxOut,
    witness_script: ScriptBuf,
    delayed_privkey: SecretKey,
    to_self_delay: u16,
) -> SpendInput {
    SpendInput {
        outpoint,
        prevout,
        template: WitnessTemplate::P2wsh {
            witness_script,
            after_sig: vec![vec![]],
        },
        key: delayed_privkey,
        sequence: Sequence::from_height(to_self_delay),
        lock_time: None,
    }
}

/// The counterparty's `to_remote`: P2WPKH `<sig> <pubkey>`, or with anchors
/// `<sig>` against `<remotepubkey> OP_CHECKSIGVERIFY 1 OP_CSV` with nSequence 1.
pub fn to_remote_spend(
    outpoint: OutPoint,
    prevout: TxOut,
    witness_script: Option<ScriptBuf>,
    payment_privkey: SecretKey,
    channel_type: ChannelType,
) -> SpendInput {
    let (template, sequence) = match (channel_type.has_anchors(), witness_script) {
        (true, Some(witness_script)) => (
            WitnessTemplate::P2wsh {
                witness_script,
                after_sig: vec![],
            },
            Sequence(1),
        ),
        _ => (WitnessTemplate::P2wpkh, Sequence::ENABLE_RBF_NO_LOCKTIME),
    };
    SpendInput {
        outpoint,
        prevout,
        template,
        key: payment_privkey,
        sequence,
        lock_time: None,
    }
}

/// An anchor, by its owner: `<sig>` with the funding key.
pub fn anchor_spend(
    outpoint: OutPoint,
    prevout: TxOut,
    witness_script: ScriptBuf,
    funding_privkey: SecretKey,
) -> SpendInput {
    SpendInput {
        outpoint,
        prevout,
        template: WitnessTemplate::P2wsh {
            witness_script,
            after_sig: vec![],
        },
        key: funding_privkey,
        sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
        lock_time: None,
    }
}

/// The counterparty's claim of an HTLC on the holder's commitment: an HTLC the
/// holder offered, with the preimage (`<remotehtlcsig> <payment_preimage>`), or one
/// the holder received, after its expiry (`<remotehtlcsig> <>`, nLockTime = cltv_expiry).
/// Under anchors both paths carry `1 OP_CSV`, so nSequence is 1.
pub fn counterparty_htlc_spend(
    outpoint: OutPoint,
    prevout: TxOut,
    witness_script: ScriptBuf,
    counterparty_htlc_privkey: SecretKey,
    claim: HtlcClaim,
    channel_type: ChannelType,
) -> SpendInput {
    let (after_sig, lock_time) = match claim {
        HtlcClaim::Preimage(p) => (vec![p.0.to_vec()], None),
        HtlcClaim::Timeout(expiry) => (vec![vec![]], Some(LockTime::from_consensus(expiry.0))),
    };
    let sequence = if channel_type.has_anchors() {
        Sequence(1)
    } else {
        // Not final, so that nLockTime is enforced.
        Sequence::ENABLE_RBF_NO_LOCKTIME
    };
    SpendInput {
        outpoint,
        prevout,
        template: WitnessTemplate::P2wsh {
            witness_script,
            after_sig,
        },
        key: counterparty_htlc_privkey,
        sequence,
        lock_time,
    }
}

/// How the counterparty claims an HTLC output of the holder's commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HtlcClaim {
    /// With the preimage (an HTLC the holder offered).
    Preimage(PaymentPreimage),
    /// After `cltv_expiry` (an HTLC the holder received).
    Timeout(CltvExpiry),
}
