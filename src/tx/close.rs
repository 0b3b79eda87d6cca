//! Closing a channel: the mutual closing transaction both sides sign (BOLT 3
//! "Legacy Closing Transaction", BOLT 2 `closing_signed`), and, after a
//! unilateral close, the spends of what each side can take from the broadcast
//! commitment (BOLT 5 "Unilateral Close Handling").

use bitcoin::absolute::LockTime;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, Signing};
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};

use super::commitment::{
    output_scripts, ChannelType, CommitmentKeys, Htlc, HtlcDirection, OutputKind, Side,
};
use super::sweep::{SpendInput, WitnessTemplate};
use crate::amount::Msat;
use crate::keys::{self, KeyError};
use crate::payment::{CltvExpiry, PaymentPreimage};
use crate::script;

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
/// from the opener, drop outputs below the dust limit (or below Bitcoin
/// Core's dust threshold for their script, BOLT 3 "Dust Limits"), sort BIP 69.
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
        // Below the dust limit (BOLT 3), or below Core's dust threshold
        // for the script (a P2PKH output under 546 sat is non-standard
        // above a 354 sat limit: the close would never relay).
        if value < p.dust_limit.max(script.minimal_non_dust()) {
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

/// Which outputs a `closing_complete` variant keeps (BOLT 2 `closing_tlvs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SimpleCloseVariant {
    /// `closer_output_only`.
    CloserOnly,
    /// `closee_output_only`.
    CloseeOnly,
    /// `closer_and_closee_outputs`.
    Both,
}

/// BOLT 3 "Closing Transaction" (`option_simple_close`): the closer pays
/// `fee` from its own output, an `OP_RETURN` output is worth 0, the omitted
/// output's balance goes to the miners; nSequence 0xFFFFFFFD, the closer's
/// `locktime`, outputs sorted BIP 69.
pub fn build_simple_closing(
    funding_outpoint: OutPoint,
    (closer_script, closer_balance): (&ScriptBuf, Msat),
    (closee_script, closee_balance): (&ScriptBuf, Msat),
    fee: Amount,
    locktime: u32,
    variant: SimpleCloseVariant,
) -> Result<Transaction, CloseError> {
    let closer = closer_balance
        .to_sat_floor()
        .checked_sub(fee)
        .ok_or(CloseError::FeeTooHigh {
            balance: closer_balance.to_sat_floor().to_sat(),
            fee: fee.to_sat(),
        })?;
    let out = |script: &ScriptBuf, value: Amount| TxOut {
        value: if script.is_op_return() {
            Amount::ZERO
        } else {
            value
        },
        script_pubkey: script.clone(),
    };
    let mut output = vec![];
    if variant != SimpleCloseVariant::CloseeOnly {
        output.push(out(closer_script, closer));
    }
    if variant != SimpleCloseVariant::CloserOnly {
        output.push(out(closee_script, closee_balance.to_sat_floor()));
    }
    output.sort_by(|a, b| {
        (a.value, a.script_pubkey.as_bytes()).cmp(&(b.value, b.script_pubkey.as_bytes()))
    });
    Ok(Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(locktime),
        input: vec![TxIn {
            previous_output: funding_outpoint,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output,
    })
}

/// The fee of a closing transaction at `feerate`: its weight with both
/// outputs and two 73-byte signatures (BOLT 3 "Fee Calculation" assumes the
/// maximum signature size), so a fee from it never under-pays.
pub fn fee_at_feerate(
    p: &ClosingParams,
    funding_pubkeys: (&PublicKey, &PublicKey),
    feerate: crate::tx::commitment::FeeratePerKw,
) -> Result<Amount, CloseError> {
    let mut probe = build_closing(&ClosingParams {
        fee: Amount::ZERO,
        dust_limit: Amount::ZERO,
        ..p.clone()
    })?
    .tx;
    let sig = bitcoin::secp256k1::ecdsa::Signature::from_compact(&[1; 64])
        .expect("a valid compact encoding");
    let script = crate::script::funding_script(funding_pubkeys.0, funding_pubkeys.1);
    probe.input[0].witness = crate::tx::funding::funding_witness(
        &script,
        (funding_pubkeys.0, &sig),
        (funding_pubkeys.1, &sig),
    );
    // Two DER signatures of 72 bytes instead of the probe's 71 (each at most 73 with the sighash byte).
    Ok(feerate.fee(probe.weight().to_wu() + 2))
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

/// Our secrets for sweeping a broadcast commitment. Basepoint secrets are
/// tweaked here with the commitment's `per_commitment_point`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SweepSecrets {
    /// For the holder's `to_local` and HTLC-transaction outputs.
    pub delayed_payment_basepoint_secret: Option<SecretKey>,
    /// For the counterparty's `to_remote` (used as is under `option_static_remotekey`).
    pub payment_basepoint_secret: Option<SecretKey>,
    /// For the counterparty's claims of HTLC outputs.
    pub htlc_basepoint_secret: Option<SecretKey>,
    /// For our anchor.
    pub funding_privkey: Option<SecretKey>,
}

/// A commitment seen on chain, and what we know of it.
#[derive(Clone, Copy, Debug)]
pub struct BroadcastCommitment<'a> {
    /// The commitment transaction.
    pub tx: &'a Transaction,
    /// Its keys.
    pub keys: &'a CommitmentKeys,
    /// The channel type.
    pub channel_type: ChannelType,
    /// The delay on the holder's outputs.
    pub to_self_delay: u16,
    /// The holder's funding pubkey (its anchor).
    pub holder_funding_pubkey: PublicKey,
    /// The counterparty's funding pubkey.
    pub counterparty_funding_pubkey: PublicKey,
    /// Its HTLCs, from the holder's view.
    pub htlcs: &'a [Htlc],
    /// The preimage of each HTLC, when known.
    pub preimages: &'a [Option<PaymentPreimage>],
    /// The holder's HTLC-timeout/success transactions already broadcast.
    pub second_stage: &'a [Transaction],
}

/// When the sweep is made: what the chain says, if known.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    /// Confirmations of the commitment.
    pub confirmations: Option<u64>,
    /// The current block height.
    pub current_height: Option<u32>,
}

/// An output of the broadcast commitment, recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoundOutput {
    /// Its index.
    pub vout: u32,
    /// What it is (from the holder's view).
    pub kind: OutputKind,
    /// Its value.
    pub amount: Amount,
    /// Whether it is ours to take.
    pub ours: bool,
}

/// Why one of our outputs cannot be swept yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// An HTLC the holder offered: we need its preimage.
    Preimage,
    /// An HTLC the holder received: it has not expired.
    Expiry(CltvExpiry),
    /// We were not given the secret for it.
    Key,
}

/// What can be swept now, and what waits.
#[derive(Clone, Debug)]
pub struct SweepPlan {
    /// Every recognised output of the commitment.
    pub found: Vec<FoundOutput>,
    /// The spends of what we can take now.
    pub spends: Vec<SpendInput>,
    /// Our outputs that wait, by output index.
    pub waiting: Vec<(u32, Waiting)>,
}

/// A sweep that must not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    /// `to_local` before `to_self_delay` confirmations: its spend would be invalid.
    #[error("to_local can be swept after {to_self_delay} confirmations (to_self_delay); the commitment has {confirmations}")]
    TooEarly {
        /// The delay.
        to_self_delay: u16,
        /// Confirmations so far.
        confirmations: u64,
    },
    /// A key could not be derived.
    #[error("key derivation: {0}")]
    Key(#[from] KeyError),
}

/// BOLT 5 "Unilateral Close Handling": which outputs of a broadcast commitment
/// are ours — as its holder (`to_local` after the delay, our anchor, our HTLC
/// transactions' outputs) or as the counterparty (`to_remote`, our anchor, the
/// HTLCs the holder offered by preimage and those it received after expiry) —
/// and how to spend each.
pub fn plan_sweep<C: Signing>(
    secp: &Secp256k1<C>,
    c: &BroadcastCommitment,
    we_are_holder: bool,
    secrets: &SweepSecrets,
    timing: Timing,
) -> Result<SweepPlan, SweepError> {
    let point = &c.keys.per_commitment_point;
    let derive = |base: Option<SecretKey>| -> Result<Option<SecretKey>, KeyError> {
        base.map(|b| keys::derive_privkey(secp, &b, point))
            .transpose()
    };
    let scripts = output_scripts(
        c.keys,
        c.channel_type,
        c.to_self_delay,
        &c.holder_funding_pubkey,
        &c.counterparty_funding_pubkey,
        c.htlcs,
    );
    let txid = c.tx.compute_txid();
    let mut plan = SweepPlan {
        found: vec![],
        spends: vec![],
        waiting: vec![],
    };
    for (vout, out) in c.tx.output.iter().enumerate() {
        let Some(s) = scripts
            .iter()
            .find(|s| s.script_pubkey == out.script_pubkey)
        else {
            continue;
        };
        let vout = vout as u32;
        let ours = match s.kind {
            OutputKind::ToLocal | OutputKind::AnchorLocal => we_are_holder,
            _ => !we_are_holder,
        };
        plan.found.push(FoundOutput {
            vout,
            kind: s.kind,
            amount: out.value,
            ours,
        });
        if !ours {
            continue;
        }
        let outpoint = OutPoint::new(txid, vout);
        let (prevout, ws) = (out.clone(), s.witness_script.clone());
        let spend = match s.kind {
            OutputKind::ToLocal => {
                if let Some(confirmations) = timing
                    .confirmations
                    .filter(|n| *n < u64::from(c.to_self_delay))
                {
                    return Err(SweepError::TooEarly {
                        to_self_delay: c.to_self_delay,
                        confirmations,
                    });
                }
                derive(secrets.delayed_payment_basepoint_secret)?
                    .zip(ws)
                    .map(|(k, ws)| delayed_output_spend(outpoint, prevout, ws, k, c.to_self_delay))
            }
            OutputKind::ToRemote => {
                let key = match c.channel_type {
                    ChannelType::Legacy => derive(secrets.payment_basepoint_secret)?,
                    _ => secrets.payment_basepoint_secret,
                };
                key.map(|k| to_remote_spend(outpoint, prevout, ws, k, c.channel_type))
            }
            OutputKind::AnchorLocal | OutputKind::AnchorRemote => secrets
                .funding_privkey
                .zip(ws)
                .map(|(k, ws)| anchor_spend(outpoint, prevout, ws, k)),
            OutputKind::HtlcOffered | OutputKind::HtlcReceived => {
                let i = s.htlc.expect("HTLC outputs carry their HTLC");
                let h = c.htlcs[i];
                let claim = match (h.direction, c.preimages.get(i).copied().flatten()) {
                    (HtlcDirection::Offered, Some(p)) => HtlcClaim::Preimage(p),
                    (HtlcDirection::Offered, None) => {
                        plan.waiting.push((vout, Waiting::Preimage));
                        continue;
                    }
                    (HtlcDirection::Received, _)
                        if timing
                            .current_height
                            .is_some_and(|now| now < h.cltv_expiry.0) =>
                    {
                        plan.waiting.push((vout, Waiting::Expiry(h.cltv_expiry)));
                        continue;
                    }
                    (HtlcDirection::Received, _) => HtlcClaim::Timeout(h.cltv_expiry),
                };
                derive(secrets.htlc_basepoint_secret)?
                    .zip(ws)
                    .map(|(k, ws)| {
                        counterparty_htlc_spend(outpoint, prevout, ws, k, claim, c.channel_type)
                    })
            }
        };
        match spend {
            Some(sp) => plan.spends.push(sp),
            None => plan.waiting.push((vout, Waiting::Key)),
        }
    }
    // The holder's own HTLC transactions: their outputs are delayed like to_local.
    if we_are_holder {
        let script = script::to_local(&c.keys.revocation, c.to_self_delay, &c.keys.holder_delayed);
        if let Some(k) = derive(secrets.delayed_payment_basepoint_secret)? {
            for t in c.second_stage {
                if t.output.first().map(|o| &o.script_pubkey) == Some(&script.to_p2wsh()) {
                    plan.spends.push(delayed_output_spend(
                        OutPoint::new(t.compute_txid(), 0),
                        t.output[0].clone(),
                        script.clone(),
                        k,
                        c.to_self_delay,
                    ));
                }
            }
        }
    }
    Ok(plan)
}
