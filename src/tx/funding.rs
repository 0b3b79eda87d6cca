//! BOLT 3 "Funding Transaction Output" and Appendix B: the transaction that
//! opens a channel by paying into the 2-of-2 P2WSH of both `funding_pubkey`s.
//!
//! The funder's wallet supplies the inputs. Inputs given with a key are signed
//! here (P2WPKH, or P2PKH as in Appendix B); the others are left for the
//! funder's wallet, which gets a PSBT. The fee is the feerate times the
//! transaction's *predicted* virtual size with maximum-size signatures
//! (`InputWeightPrediction::*_MAX`, rounded up to whole vbytes), so the real
//! feerate is never below the one asked for; Appendix B's fee (232 vbytes =
//! 928 weight × 15000 sat/kw) comes out exact.

use bitcoin::hashes::Hash;
use bitcoin::psbt::Psbt;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, Signing};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::{predict_weight, InputWeightPrediction, Version};
use bitcoin::{
    absolute, Amount, CompressedPublicKey, EcdsaSighashType, FeeRate, OutPoint, PrivateKey,
    ScriptBuf, Sequence, Transaction, TxIn, TxOut, Weight, Witness,
};

use crate::script::funding_script;

/// How a funding input is spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Pay-to-witness-pubkey-hash (the usual wallet input).
    P2wpkh,
    /// Pay-to-pubkey-hash, as in BOLT 3 Appendix B (which spends a coinbase output).
    P2pkh,
}

/// One input of the funding transaction.
#[derive(Clone, Debug)]
pub struct FundingInput {
    /// The output it spends.
    pub previous_output: OutPoint,
    /// The value of that output.
    pub amount: Amount,
    /// Its script type.
    pub kind: InputKind,
    /// The key that signs it; `None` leaves it for the funder's wallet.
    pub key: Option<PrivateKey>,
    /// The script of the spent output, when known without the key (for the PSBT).
    pub script_pubkey: Option<ScriptBuf>,
}

/// What the funder asks for.
#[derive(Clone, Debug)]
pub struct FundingRequest {
    /// Inputs, in the order they go into the transaction.
    pub inputs: Vec<FundingInput>,
    /// Our `funding_pubkey`.
    pub local_funding_pubkey: PublicKey,
    /// The counterparty's `funding_pubkey`.
    pub remote_funding_pubkey: PublicKey,
    /// `funding_satoshis` (BOLT 2 `open_channel`).
    pub funding_amount: Amount,
    /// Where the change goes.
    pub change_script: ScriptBuf,
    /// Fee rate for the whole transaction.
    pub feerate: FeeRate,
}

/// A transaction paying one output from wallet inputs, with change: the
/// funding transaction, and any other lockup (a swap's).
#[derive(Clone, Debug)]
pub struct PaymentRequest {
    /// Inputs, in the order they go into the transaction.
    pub inputs: Vec<FundingInput>,
    /// The output to create (output 0).
    pub output: TxOut,
    /// Where the change goes.
    pub change_script: ScriptBuf,
    /// Fee rate for the whole transaction.
    pub feerate: FeeRate,
}

/// The built payment.
#[derive(Clone, Debug)]
pub struct PaymentTransaction {
    /// The transaction, signed where keys were given.
    pub tx: Transaction,
    /// The fee paid.
    pub fee: Amount,
    /// The change output's value, if there is one.
    pub change: Option<Amount>,
    /// Change below the dust limit, added to the fee instead of creating an output.
    pub dust_change_dropped: Option<Amount>,
    /// Weight with maximum-size signatures, which the fee was computed from.
    pub predicted_weight: Weight,
    /// The outputs spent, in input order (unknown for an unsigned input given no script).
    pub spent_outputs: Vec<Option<TxOut>>,
    /// Which inputs were signed here.
    pub signed: Vec<bool>,
    /// A PSBT for the payer's wallet, when any input is unsigned.
    pub psbt: Option<Psbt>,
}

/// The funding transaction and everything a later step needs from it.
#[derive(Clone, Debug)]
pub struct FundingTransaction {
    /// `funding_output_index` (BOLT 2 `funding_created`).
    pub funding_output_index: u32,
    /// The 2-of-2 witness script.
    pub funding_script: ScriptBuf,
    /// The transaction paying it, with its fee, change and signing state.
    pub payment: PaymentTransaction,
}

/// Why a funding transaction could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FundingError {
    /// A transaction needs at least one input.
    #[error("no inputs")]
    NoInputs,
    /// The sum of the inputs does not fit in the money range.
    #[error("the input amounts add up to more than 21 million BTC")]
    InputOverflow,
    /// Inputs cannot pay for the funding output and the fee.
    #[error("the inputs hold {available} sat but the output and fee need {needed} sat")]
    Insufficient {
        /// Sum of input amounts.
        available: u64,
        /// Funding amount plus fee.
        needed: u64,
    },
    /// The funding (or other paid) output itself would be dust.
    #[error("amount {amount} sat is below the dust limit of its output script ({dust} sat)")]
    FundingDust {
        /// The amount asked for.
        amount: u64,
        /// The smallest non-dust P2WSH amount.
        dust: u64,
    },
    /// A P2WPKH input needs a compressed key.
    #[error("input {input}: a P2WPKH input needs a compressed key")]
    UncompressedKey {
        /// The input index.
        input: usize,
    },
    /// The key given does not own the script given.
    #[error("input {input}: the key does not match the given script_pubkey")]
    KeyScriptMismatch {
        /// The input index.
        input: usize,
    },
    /// Sighash computation failed (an input index out of range; cannot happen for our own tx).
    #[error("input {input}: sighash: {reason}")]
    Sighash {
        /// The input index.
        input: usize,
        /// Why.
        reason: String,
    },
}

impl InputKind {
    /// The script of the output that `key` can spend as this kind.
    fn script_for<C: Signing>(
        self,
        secp: &Secp256k1<C>,
        key: &PrivateKey,
        input: usize,
    ) -> Result<ScriptBuf, FundingError> {
        let public = key.public_key(secp);
        match self {
            InputKind::P2wpkh => {
                let compressed = CompressedPublicKey::try_from(public)
                    .map_err(|_| FundingError::UncompressedKey { input })?;
                Ok(ScriptBuf::new_p2wpkh(&compressed.wpubkey_hash()))
            }
            InputKind::P2pkh => Ok(ScriptBuf::new_p2pkh(&public.pubkey_hash())),
        }
    }

    /// The input's weight with a maximum-size signature.
    fn weight_prediction(self) -> InputWeightPrediction {
        match self {
            InputKind::P2wpkh => InputWeightPrediction::P2WPKH_MAX,
            InputKind::P2pkh => InputWeightPrediction::P2PKH_COMPRESSED_MAX,
        }
    }
}

/// Build (and sign where keys are given) the funding transaction.
///
/// Output 0 is the funding output, output 1 the change (as in Appendix B);
/// change below its dust limit is left to the fee.
pub fn build_funding<C: Signing>(
    secp: &Secp256k1<C>,
    req: &FundingRequest,
) -> Result<FundingTransaction, FundingError> {
    let funding_script = funding_script(&req.local_funding_pubkey, &req.remote_funding_pubkey);
    let paid = build_payment(
        secp,
        &PaymentRequest {
            inputs: req.inputs.clone(),
            output: TxOut {
                value: req.funding_amount,
                script_pubkey: funding_script.to_p2wsh(),
            },
            change_script: req.change_script.clone(),
            feerate: req.feerate,
        },
    )?;
    Ok(FundingTransaction {
        funding_output_index: 0,
        funding_script,
        payment: paid,
    })
}

/// Build (and sign where keys are given) a transaction paying `req.output`
/// as output 0, change as output 1; change below its dust limit is left to the fee.
pub fn build_payment<C: Signing>(
    secp: &Secp256k1<C>,
    req: &PaymentRequest,
) -> Result<PaymentTransaction, FundingError> {
    if req.inputs.is_empty() {
        return Err(FundingError::NoInputs);
    }
    let paid_spk = req.output.script_pubkey.clone();
    let dust = paid_spk.minimal_non_dust();
    let amount = req.output.value;
    if amount < dust {
        return Err(FundingError::FundingDust {
            amount: amount.to_sat(),
            dust: dust.to_sat(),
        });
    }

    let (available, spent_outputs) = spent_outputs(secp, &req.inputs)?;

    let predictions: Vec<_> = req
        .inputs
        .iter()
        .map(|i| i.kind.weight_prediction())
        .collect();
    let weight_with = |outputs: &[usize]| predict_weight(predictions.clone(), outputs.to_vec());
    // Charged on the virtual size rounded up, as Bitcoin Core measures a feerate.
    let fee_for = |w: Weight| {
        req.feerate
            .fee_vb(w.to_vbytes_ceil())
            .unwrap_or(Amount::MAX)
    };

    let with_change = weight_with(&[paid_spk.len(), req.change_script.len()]);
    let without_change = weight_with(&[paid_spk.len()]);
    let needed_bare = amount
        .checked_add(fee_for(without_change))
        .ok_or(FundingError::InputOverflow)?;
    if available < needed_bare {
        return Err(FundingError::Insufficient {
            available: available.to_sat(),
            needed: needed_bare.to_sat(),
        });
    }
    let change_dust = req.change_script.minimal_non_dust();
    let change = available
        .checked_sub(amount)
        .and_then(|a| a.checked_sub(fee_for(with_change)))
        .filter(|c| *c >= change_dust);
    let (predicted_weight, dust_change_dropped) = match change {
        Some(_) => (with_change, None),
        None => {
            let leftover = available - needed_bare;
            (
                without_change,
                (leftover > Amount::ZERO).then_some(leftover),
            )
        }
    };

    let mut output = vec![TxOut {
        value: amount,
        script_pubkey: paid_spk,
    }];
    if let Some(value) = change {
        output.push(TxOut {
            value,
            script_pubkey: req.change_script.clone(),
        });
    }
    let outputs_total: Amount = output.iter().map(|o| o.value).sum();
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: unsigned_inputs(&req.inputs),
        output,
    };
    let unsigned = tx.clone();

    let signed = sign_inputs(secp, &mut tx, &req.inputs, &spent_outputs)?;

    let psbt = if signed.iter().all(|s| *s) {
        None
    } else {
        let mut psbt = Psbt::from_unsigned_tx(unsigned).expect("the transaction has no scripts");
        for (i, p) in psbt.inputs.iter_mut().enumerate() {
            if req.inputs[i].kind == InputKind::P2wpkh {
                p.witness_utxo = spent_outputs[i].clone();
            }
            if signed[i] {
                p.final_script_sig =
                    (!tx.input[i].script_sig.is_empty()).then(|| tx.input[i].script_sig.clone());
                p.final_script_witness =
                    (!tx.input[i].witness.is_empty()).then(|| tx.input[i].witness.clone());
            }
        }
        Some(psbt)
    };

    Ok(PaymentTransaction {
        fee: available - outputs_total,
        tx,
        change,
        dust_change_dropped,
        predicted_weight,
        spent_outputs,
        signed,
        psbt,
    })
}

/// The outputs `inputs` spend, where their key or script says (an input with
/// neither is `None`), and their total.
pub(crate) fn spent_outputs<C: Signing>(
    secp: &Secp256k1<C>,
    inputs: &[FundingInput],
) -> Result<(Amount, Vec<Option<TxOut>>), FundingError> {
    let mut available = Amount::ZERO;
    let mut spent_outputs = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        available = available
            .checked_add(input.amount)
            .filter(|a| *a <= Amount::MAX_MONEY)
            .ok_or(FundingError::InputOverflow)?;
        let script = match (&input.key, &input.script_pubkey) {
            (Some(key), given) => {
                let derived = input.kind.script_for(secp, key, i)?;
                if given.as_ref().is_some_and(|g| *g != derived) {
                    return Err(FundingError::KeyScriptMismatch { input: i });
                }
                Some(derived)
            }
            (None, given) => given.clone(),
        };
        spent_outputs.push(script.map(|script_pubkey| TxOut {
            value: input.amount,
            script_pubkey,
        }));
    }
    Ok((available, spent_outputs))
}

/// The transaction inputs spending `inputs`, unsigned (final sequence).
pub(crate) fn unsigned_inputs(inputs: &[FundingInput]) -> Vec<TxIn> {
    inputs
        .iter()
        .map(|i| TxIn {
            previous_output: i.previous_output,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        })
        .collect()
}

/// Sign the inputs of `tx` that have a key (input `i` of `tx` is `inputs[i]`,
/// spending `spent_outputs[i]`); returns which were signed.
pub(crate) fn sign_inputs<C: Signing>(
    secp: &Secp256k1<C>,
    tx: &mut Transaction,
    inputs: &[FundingInput],
    spent_outputs: &[Option<TxOut>],
) -> Result<Vec<bool>, FundingError> {
    let mut signed = vec![false; inputs.len()];
    let unsigned = tx.clone();
    {
        let mut cache = SighashCache::new(&unsigned);
        for (i, input) in inputs.iter().enumerate() {
            let (Some(key), Some(spent)) = (&input.key, &spent_outputs[i]) else {
                continue;
            };
            let sighash_err = |e: &dyn std::fmt::Display| FundingError::Sighash {
                input: i,
                reason: e.to_string(),
            };
            let public = key.public_key(secp);
            let digest = match input.kind {
                InputKind::P2wpkh => cache
                    .p2wpkh_signature_hash(
                        i,
                        &spent.script_pubkey,
                        input.amount,
                        EcdsaSighashType::All,
                    )
                    .map_err(|e| sighash_err(&e))?
                    .to_byte_array(),
                InputKind::P2pkh => cache
                    .legacy_signature_hash(i, &spent.script_pubkey, EcdsaSighashType::All.to_u32())
                    .map_err(|e| sighash_err(&e))?
                    .to_byte_array(),
            };
            // Plain RFC 6979 (no low-R grinding), so that Appendix B reproduces byte for byte.
            let sig = bitcoin::ecdsa::Signature {
                signature: secp.sign_ecdsa(&Message::from_digest(digest), &key.inner),
                sighash_type: EcdsaSighashType::All,
            };
            match input.kind {
                InputKind::P2wpkh => {
                    let compressed = CompressedPublicKey::try_from(public)
                        .map_err(|_| FundingError::UncompressedKey { input: i })?;
                    tx.input[i].witness = Witness::p2wpkh(&sig, &compressed.0);
                }
                InputKind::P2pkh => {
                    let sig_push = PushBytesBuf::try_from(sig.to_vec())
                        .expect("a DER signature is at most 73 bytes");
                    tx.input[i].script_sig = Builder::new()
                        .push_slice(sig_push)
                        .push_key(&public)
                        .into_script();
                }
            }
            signed[i] = true;
        }
    }

    Ok(signed)
}

/// The weight of a transaction spending `inputs` (with maximum-size
/// signatures) to outputs with scripts of these lengths.
pub(crate) fn predicted_weight(inputs: &[FundingInput], output_script_lens: &[usize]) -> Weight {
    predict_weight(
        inputs.iter().map(|i| i.kind.weight_prediction()),
        output_script_lens.iter().copied(),
    )
}

/// The BIP 143 sighash (SIGHASH_ALL) of a transaction whose input 0 spends the
/// funding output: what both sides sign for a commitment or closing transaction.
pub fn funding_spend_sighash(
    tx: &Transaction,
    funding_script: &ScriptBuf,
    funding_amount: Amount,
) -> Message {
    let digest = SighashCache::new(tx)
        .p2wsh_signature_hash(0, funding_script, funding_amount, EcdsaSighashType::All)
        .expect("input 0 exists in a transaction spending the funding output");
    Message::from_digest(digest.to_byte_array())
}

/// BOLT 3: the witness spending the funding output,
/// `0 <signature_for_pubkey1> <signature_for_pubkey2> <funding_script>`, with the
/// signatures in the order of the sorted keys of the 2-of-2.
pub fn funding_witness(
    funding_script: &ScriptBuf,
    (pubkey_a, sig_a): (&PublicKey, &bitcoin::secp256k1::ecdsa::Signature),
    (pubkey_b, sig_b): (&PublicKey, &bitcoin::secp256k1::ecdsa::Signature),
) -> Witness {
    let (first, second) = if pubkey_a.serialize() <= pubkey_b.serialize() {
        (sig_a, sig_b)
    } else {
        (sig_b, sig_a)
    };
    let with_type = |s: &bitcoin::secp256k1::ecdsa::Signature| {
        bitcoin::ecdsa::Signature::sighash_all(*s).to_vec()
    };
    let mut w = Witness::new();
    w.push([]);
    w.push(with_type(first));
    w.push(with_type(second));
    w.push(funding_script.as_bytes());
    w
}
