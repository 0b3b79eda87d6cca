//! BOLT 3 "HTLC-Timeout and HTLC-Success Transactions": the second stage of an
//! HTLC on the holder's commitment. They spend the HTLC output with both
//! sides' HTLC signatures, and pay to the same delayed, revocable script as
//! `to_local`, so that the holder's money always waits `to_self_delay`.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{ecdsa, Message};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};

use super::commitment::{ChannelType, CommitmentOutput, CommitmentParams, Htlc, HtlcDirection};
use crate::payment::PaymentPreimage;
use crate::script;

/// Which second-stage transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HtlcTxKind {
    /// For an offered HTLC, after `cltv_expiry` (its nLockTime).
    Timeout,
    /// For a received HTLC, with the preimage.
    Success,
}

impl HtlcTxKind {
    /// The kind for an HTLC of this direction.
    pub fn for_direction(d: HtlcDirection) -> Self {
        match d {
            HtlcDirection::Offered => HtlcTxKind::Timeout,
            HtlcDirection::Received => HtlcTxKind::Success,
        }
    }

    /// `htlc-timeout` or `htlc-success`.
    pub fn name(self) -> &'static str {
        match self {
            HtlcTxKind::Timeout => "htlc-timeout",
            HtlcTxKind::Success => "htlc-success",
        }
    }
}

/// BOLT 5 "Generation of HTLC Transactions": with `option_anchors` the
/// counterparty signs SIGHASH_SINGLE|SIGHASH_ANYONECANPAY, so the holder can
/// attach inputs and outputs to pay the fee; otherwise SIGHASH_ALL.
pub fn counterparty_sighash_type(channel_type: ChannelType) -> EcdsaSighashType {
    if channel_type.has_anchors() {
        EcdsaSighashType::SinglePlusAnyoneCanPay
    } else {
        EcdsaSighashType::All
    }
}

/// Build the unsigned HTLC-timeout or HTLC-success transaction spending `output`
/// (an untrimmed HTLC output at `output_index` of commitment `commitment_txid`).
pub fn build_htlc_tx(
    commitment_txid: Txid,
    output_index: u32,
    output: &CommitmentOutput,
    htlc: &Htlc,
    params: &CommitmentParams,
) -> Transaction {
    let (channel_type, feerate, keys) = (params.channel_type, params.feerate, &params.keys);
    let kind = HtlcTxKind::for_direction(htlc.direction);
    let (lock_time, fee) = match kind {
        HtlcTxKind::Timeout => (
            LockTime::from_consensus(htlc.cltv_expiry.0),
            channel_type.htlc_timeout_fee(feerate),
        ),
        HtlcTxKind::Success => (LockTime::ZERO, channel_type.htlc_success_fee(feerate)),
    };
    let out_script = script::to_local(&keys.revocation, params.to_self_delay, &keys.holder_delayed);
    Transaction {
        version: Version::TWO,
        lock_time,
        input: vec![TxIn {
            previous_output: OutPoint::new(commitment_txid, output_index),
            script_sig: ScriptBuf::new(),
            // The CSV 1 of the anchors HTLC scripts needs nSequence 1.
            sequence: Sequence(u32::from(channel_type.has_anchors())),
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            // Untrimmed means the amount covers the fee, so this cannot underflow.
            value: output.amount.checked_sub(fee).unwrap_or(Amount::ZERO),
            script_pubkey: out_script.to_p2wsh(),
        }],
    }
}

/// The BIP 143 sighash an HTLC signature commits to.
pub fn htlc_sighash(
    htlc_tx: &Transaction,
    witness_script: &ScriptBuf,
    amount: Amount,
    sighash_type: EcdsaSighashType,
) -> Message {
    let digest = SighashCache::new(htlc_tx)
        .p2wsh_signature_hash(0, witness_script, amount, sighash_type)
        .expect("an HTLC transaction has input 0");
    Message::from_digest(digest.to_byte_array())
}

/// The witness: `0 <remotehtlcsig> <localhtlcsig> <payment_preimage>` (success)
/// or `0 <remotehtlcsig> <localhtlcsig> <>` (timeout), then the witness script.
pub fn htlc_tx_witness(
    counterparty_sig: &ecdsa::Signature,
    counterparty_sighash: EcdsaSighashType,
    holder_sig: &ecdsa::Signature,
    preimage: Option<&PaymentPreimage>,
    witness_script: &ScriptBuf,
) -> Witness {
    let mut w = Witness::new();
    w.push([]);
    w.push(
        bitcoin::ecdsa::Signature {
            signature: *counterparty_sig,
            sighash_type: counterparty_sighash,
        }
        .to_vec(),
    );
    w.push(bitcoin::ecdsa::Signature::sighash_all(*holder_sig).to_vec());
    match preimage {
        Some(p) => w.push(p.0),
        None => w.push([]),
    }
    w.push(witness_script.as_bytes());
    w
}

/// One HTLC transaction of a commitment, with whatever signatures could be made.
#[derive(Clone, Debug)]
pub struct HtlcTransaction {
    /// Timeout or success.
    pub kind: HtlcTxKind,
    /// The commitment output it spends.
    pub output_index: u32,
    /// The HTLC's index in [`CommitmentParams::htlcs`](super::commitment::CommitmentParams::htlcs).
    pub htlc: usize,
    /// The unsigned transaction.
    pub tx: Transaction,
    /// The holder's signature (SIGHASH_ALL), given the holder's HTLC key.
    pub holder_sig: Option<ecdsa::Signature>,
    /// The counterparty's signature (see [`counterparty_sighash_type`]), given its HTLC key.
    pub counterparty_sig: Option<ecdsa::Signature>,
    /// The complete transaction, when both signatures (and, for success, the preimage) are there.
    pub signed: Option<Transaction>,
}

/// The HTLC-timeout/success transactions of every untrimmed HTLC of a built
/// commitment, in commitment-output order (the order of `htlc_signatures` in
/// BOLT 2 `commitment_signed`), signed with the keys that are given.
/// `preimages[i]` is the preimage of `params.htlcs[i]`, when known.
pub fn htlc_transactions<C: bitcoin::secp256k1::Signing>(
    secp: &bitcoin::secp256k1::Secp256k1<C>,
    commitment: &super::commitment::CommitmentTransaction,
    params: &super::commitment::CommitmentParams,
    holder_htlc_privkey: Option<&bitcoin::secp256k1::SecretKey>,
    counterparty_htlc_privkey: Option<&bitcoin::secp256k1::SecretKey>,
    preimages: &[Option<PaymentPreimage>],
) -> Vec<HtlcTransaction> {
    let txid = commitment.tx.compute_txid();
    let counterparty_type = counterparty_sighash_type(params.channel_type);
    commitment
        .outputs
        .iter()
        .enumerate()
        .filter_map(|(index, output)| {
            let h = output.htlc?;
            let htlc = &params.htlcs[h];
            let script = output.witness_script.as_ref()?;
            let tx = build_htlc_tx(txid, index as u32, output, htlc, params);
            let sign = |key: &bitcoin::secp256k1::SecretKey, t| {
                secp.sign_ecdsa(&htlc_sighash(&tx, script, output.amount, t), key)
            };
            let holder_sig = holder_htlc_privkey.map(|k| sign(k, EcdsaSighashType::All));
            let counterparty_sig = counterparty_htlc_privkey.map(|k| sign(k, counterparty_type));
            let kind = HtlcTxKind::for_direction(htlc.direction);
            let preimage = preimages.get(h).copied().flatten();
            let signed = match (holder_sig, counterparty_sig, kind, preimage) {
                (Some(l), Some(r), HtlcTxKind::Timeout, _) => Some((l, r, None)),
                (Some(l), Some(r), HtlcTxKind::Success, Some(p)) => Some((l, r, Some(p))),
                _ => None,
            }
            .map(|(l, r, p)| {
                let mut t = tx.clone();
                t.input[0].witness = htlc_tx_witness(&r, counterparty_type, &l, p.as_ref(), script);
                t
            });
            Some(HtlcTransaction {
                kind,
                output_index: index as u32,
                htlc: h,
                tx,
                holder_sig,
                counterparty_sig,
                signed,
            })
        })
        .collect()
}
