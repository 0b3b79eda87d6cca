//! Spending outputs we hold a key for into one destination: the engine under
//! the penalty transaction (BOLT 5 "Revoked Transaction Close Handling") and
//! the sweeps after a unilateral close (BOLT 5 "Unilateral Close Handling").
//!
//! Each input says how its witness is laid out around the signature; the fee
//! is the feerate times the weight with 73-byte signatures (BOLT 3 "Fee
//! Calculation" assumes the same maximum), so the real feerate is never lower.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, SecretKey, Signing};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, CompressedPublicKey, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Witness,
};

use super::commitment::FeeratePerKw;

/// How an input's witness is laid out around its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessTemplate {
    /// P2WSH: `<sig> <items...> <witness_script>`.
    P2wsh {
        /// The script the output commits to.
        witness_script: ScriptBuf,
        /// What follows the signature (`1` for a revocation spend of `to_local`,
        /// `<revocationpubkey>` for an HTLC, `<>` for a delayed spend, ...).
        after_sig: Vec<Vec<u8>>,
    },
    /// P2WPKH: `<sig> <pubkey>`.
    P2wpkh,
    /// A zero-fee HTLC transaction's input (BOLT 3 "HTLC-Timeout and
    /// HTLC-Success Transactions", `option_anchors`): `0 <remotehtlcsig>
    /// <localhtlcsig> <payment_preimage>` (success) or `... <>` (timeout).
    /// The counterparty signed SIGHASH_SINGLE|ANYONECANPAY, so its signature
    /// stays valid when fee inputs and change join; the holder's is made here.
    ZeroFeeHtlc {
        /// The HTLC output's script.
        witness_script: ScriptBuf,
        /// The counterparty's signature, with its sighash byte.
        counterparty_sig: Vec<u8>,
        /// The preimage (HTLC-success), or none (HTLC-timeout).
        preimage: Option<[u8; 32]>,
    },
}

/// One output to spend.
#[derive(Clone, Debug)]
pub struct SpendInput {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value and scriptPubKey.
    pub prevout: TxOut,
    /// The witness layout.
    pub template: WitnessTemplate,
    /// The key that signs it.
    pub key: SecretKey,
    /// nSequence: the relative delay the script demands (`to_self_delay`, 1 under anchors), or final-ish.
    pub sequence: Sequence,
    /// The nLockTime the script demands (an HTLC's `cltv_expiry`), if any.
    pub lock_time: Option<LockTime>,
}

/// Why the spending transaction cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpendError {
    /// Nothing to spend.
    #[error("no outputs to spend")]
    Nothing,
    /// The outputs do not cover the fee and a non-dust output.
    #[error("the outputs hold {total} sat but the fee is {fee} sat and the destination needs at least {dust} sat")]
    TooSmall {
        /// Sum of inputs, less the outputs a transaction must pay first.
        total: u64,
        /// The fee at the feerate.
        fee: u64,
        /// The destination's dust limit.
        dust: u64,
    },
    /// Inputs need incompatible nLockTimes (a height and a UNIX time).
    #[error("the inputs need locktimes of different kinds (block height and time)")]
    LockTimeKinds,
}

/// A DER signature of the maximum length plus its sighash byte: what fees assume.
const MAX_SIG_WITH_SIGHASH: usize = 73;

fn witness_for(template: &WitnessTemplate, sig: Vec<u8>, pubkey: &PublicKey) -> Witness {
    let mut w = Witness::new();
    if let WitnessTemplate::ZeroFeeHtlc {
        witness_script,
        counterparty_sig,
        preimage,
    } = template
    {
        // The leading empty item is OP_CHECKMULTISIG's extra pop (BIP 147: it must be empty).
        w.push([]);
        w.push(counterparty_sig);
        w.push(sig);
        w.push(preimage.map(|p| p.to_vec()).unwrap_or_default());
        w.push(witness_script.as_bytes());
        return w;
    }
    w.push(sig);
    match template {
        WitnessTemplate::P2wsh {
            witness_script,
            after_sig,
        } => {
            for item in after_sig {
                w.push(item);
            }
            w.push(witness_script.as_bytes());
        }
        WitnessTemplate::P2wpkh => w.push(pubkey.serialize()),
        WitnessTemplate::ZeroFeeHtlc { .. } => unreachable!("laid out above"),
    }
    w
}

/// The witness of input `index` of `tx`, which spends `input`: its
/// SIGHASH_ALL signature laid out as its template says. A spend that shares
/// its transaction with other inputs (a CPFP's wallet coin) is signed with it.
pub fn input_witness<C: Signing>(
    secp: &Secp256k1<C>,
    tx: &Transaction,
    index: usize,
    input: &SpendInput,
) -> Witness {
    let pubkey = PublicKey::from_secret_key(secp, &input.key);
    let mut cache = SighashCache::new(tx);
    let digest = match &input.template {
        WitnessTemplate::P2wsh { witness_script, .. }
        | WitnessTemplate::ZeroFeeHtlc { witness_script, .. } => cache
            .p2wsh_signature_hash(
                index,
                witness_script,
                input.prevout.value,
                EcdsaSighashType::All,
            )
            .expect("input index in range")
            .to_byte_array(),
        WitnessTemplate::P2wpkh => {
            let spk = ScriptBuf::new_p2wpkh(&CompressedPublicKey(pubkey).wpubkey_hash());
            cache
                .p2wpkh_signature_hash(index, &spk, input.prevout.value, EcdsaSighashType::All)
                .expect("input index in range")
                .to_byte_array()
        }
    };
    let sig = secp.sign_ecdsa(&Message::from_digest(digest), &input.key);
    witness_for(
        &input.template,
        bitcoin::ecdsa::Signature::sighash_all(sig).to_vec(),
        &pubkey,
    )
}

/// Build and sign one transaction spending every input to `destination`.
pub fn build_spend<C: Signing>(
    secp: &Secp256k1<C>,
    inputs: &[SpendInput],
    destination: &ScriptBuf,
    feerate: FeeratePerKw,
) -> Result<Transaction, SpendError> {
    build_spend_paying(secp, inputs, &[], destination, |weight| feerate.fee(weight))
        .map(|(tx, _)| tx)
}

/// Build and sign one transaction spending every input to `outputs` (kept
/// first, in order, as SIGHASH_SINGLE needs) and change to `change`, whose
/// fee is `fee(weight)` for its weight with maximum-size signatures. With
/// no `outputs` the change must be above its dust threshold; with some, a
/// change below it is left to the fee. Returns the transaction and its
/// change, if any.
pub fn build_spend_paying<C: Signing>(
    secp: &Secp256k1<C>,
    inputs: &[SpendInput],
    outputs: &[TxOut],
    change: &ScriptBuf,
    fee: impl Fn(u64) -> Amount,
) -> Result<(Transaction, Option<Amount>), SpendError> {
    if inputs.is_empty() {
        return Err(SpendError::Nothing);
    }
    let mut lock_time = LockTime::ZERO;
    for lt in inputs.iter().filter_map(|i| i.lock_time) {
        if !lock_time.is_same_unit(lt) && lock_time != LockTime::ZERO {
            return Err(SpendError::LockTimeKinds);
        }
        if lt.to_consensus_u32() > lock_time.to_consensus_u32() {
            lock_time = lt;
        }
    }
    let total: Amount = inputs.iter().map(|i| i.prevout.value).sum();
    let paid: Amount = outputs.iter().map(|o| o.value).sum();
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time,
        input: inputs
            .iter()
            .map(|i| TxIn {
                previous_output: i.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: i.sequence,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs.to_vec(),
    };
    tx.output.push(TxOut {
        value: total,
        script_pubkey: change.clone(),
    });
    // Weight with maximum-size signatures, for the fee.
    let pubkeys: Vec<PublicKey> = inputs
        .iter()
        .map(|i| PublicKey::from_secret_key(secp, &i.key))
        .collect();
    for (k, i) in inputs.iter().enumerate() {
        tx.input[k].witness = witness_for(&i.template, vec![0; MAX_SIG_WITH_SIGHASH], &pubkeys[k]);
    }
    let dust = change.minimal_non_dust();
    let with_change = fee(tx.weight().to_wu());
    let change_value = total
        .checked_sub(paid)
        .and_then(|v| v.checked_sub(with_change))
        .filter(|v| *v >= dust);
    let too_small = |fee: Amount| SpendError::TooSmall {
        total: total.checked_sub(paid).unwrap_or(Amount::ZERO).to_sat(),
        fee: fee.to_sat(),
        dust: dust.to_sat(),
    };
    let kept = match change_value {
        Some(value) => {
            tx.output.last_mut().expect("the change").value = value;
            Some(value)
        }
        None if outputs.is_empty() => return Err(too_small(with_change)),
        None => {
            tx.output.pop();
            let without = fee(tx.weight().to_wu());
            if total.checked_sub(paid).is_none_or(|v| v < without) {
                return Err(too_small(without));
            }
            None
        }
    };

    let unsigned = {
        let mut t = tx.clone();
        t.input.iter_mut().for_each(|i| i.witness = Witness::new());
        t
    };
    for (k, i) in inputs.iter().enumerate() {
        tx.input[k].witness = input_witness(secp, &unsigned, k, i);
    }
    Ok((tx, kept))
}
