//! Spending a swap's lockup output: the claim (with the preimage), the
//! refund (after the timeout), and the cooperative key-path spend of a
//! Taproot swap. One input, one output to the destination; the fee is the
//! feerate times the virtual size with maximum-size signatures, so the
//! feerate is never under-paid.

use bitcoin::absolute::{Height, LockTime};
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Keypair, Message, Secp256k1, SecretKey, Signing, Verification};
use bitcoin::sighash::{Prevouts, SighashCache};
use bitcoin::taproot;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, EcdsaSighashType, FeeRate, OutPoint, ScriptBuf, Sequence, TapSighashType, Transaction,
    TxIn, TxOut, Witness,
};

use super::contract::{Contract, Lock, TapTree};
use crate::payment::PaymentPreimage;

/// The spend every path shares: which output, where to, at what feerate.
#[derive(Clone, Debug)]
pub struct SpendRequest<'a> {
    /// The swap.
    pub contract: &'a Contract,
    /// The transaction that pays the swap's script_pubkey.
    pub lockup_tx: &'a Transaction,
    /// Where the coins go.
    pub destination: ScriptBuf,
    /// The feerate.
    pub feerate: FeeRate,
    /// The amount the swap says is locked, if it says: the lockup output must hold exactly that.
    pub expected_amount: Option<Amount>,
}

/// A built spend.
#[derive(Clone, Debug)]
pub struct Spend {
    /// The transaction (signed, unless it is a cooperative spend awaiting its signature).
    pub tx: Transaction,
    /// The lockup output it spends.
    pub prevout: TxOut,
    /// The fee paid.
    pub fee: Amount,
    /// The virtual size the fee was computed for.
    pub vsize: u64,
    /// The digest that was (or must be) signed.
    pub sighash: [u8; 32],
}

/// Why a spend cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpendError {
    /// No output of the lockup transaction pays the swap.
    #[error("no output of transaction {txid} pays the swap's script_pubkey {script_pubkey}")]
    NotPaid {
        /// The lockup txid.
        txid: String,
        /// The swap's output script, hex.
        script_pubkey: String,
    },
    /// The lockup output is not what the swap expects.
    #[error("the lockup output holds {paid} sat, not the swap's {expected} sat")]
    AmountMismatch {
        /// What the output holds.
        paid: u64,
        /// What the swap says.
        expected: u64,
    },
    /// The preimage does not hash to the payment hash.
    #[error("its SHA256 is {got}, not the swap's payment_hash {expected}")]
    WrongPreimage {
        /// SHA256 of the preimage given.
        got: String,
        /// The swap's payment hash.
        expected: String,
    },
    /// The key is not the one the path needs.
    #[error("its public key is {got}, not the swap's {role} key {expected}")]
    WrongKey {
        /// `claim` or `refund`.
        role: &'static str,
        /// The key given.
        got: String,
        /// The swap's key.
        expected: String,
    },
    /// The output cannot pay the fee and leave a non-dust output.
    #[error("the lockup output holds {amount} sat; the fee at this feerate is {fee} sat and the destination needs at least {dust} sat")]
    TooSmall {
        /// The lockup amount.
        amount: u64,
        /// The fee.
        fee: u64,
        /// The destination's dust limit.
        dust: u64,
    },
    /// A key-path spend of a P2WSH swap.
    #[error("a P2WSH swap has no cooperative key path")]
    NoKeyPath,
}

/// Which way the output is spent.
#[derive(Clone, Copy, Debug)]
pub enum Path<'k> {
    /// With the preimage and the claim key (script path under Taproot).
    Claim {
        /// The preimage.
        preimage: &'k PaymentPreimage,
        /// The claim key.
        key: &'k SecretKey,
    },
    /// With the refund key, nLockTime set to `lock_time` (the swap's timeout;
    /// anything earlier makes a transaction consensus rejects, which tests use).
    Refund {
        /// The refund key.
        key: &'k SecretKey,
        /// The nLockTime.
        lock_time: Height,
    },
    /// The MuSig2 key path (Taproot only): built unsigned; see [`finish_key_path`].
    KeyPath,
}

/// nSequence of every swap spend: not final, so nLockTime (and with it
/// `OP_CHECKLOCKTIMEVERIFY`) is enforced, and replaceable (BIP 125) so a
/// stuck claim can be fee-bumped before the refund path opens.
pub const SEQUENCE: Sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;

/// The lockup output of `contract` in `tx`: its index and value.
pub fn find_lockup_output(
    contract: &Contract,
    tx: &Transaction,
) -> Result<(OutPoint, TxOut), SpendError> {
    let spk = contract.script_pubkey();
    tx.output
        .iter()
        .position(|o| o.script_pubkey == spk)
        .map(|vout| {
            (
                OutPoint {
                    txid: tx.compute_txid(),
                    vout: vout as u32,
                },
                tx.output[vout].clone(),
            )
        })
        .ok_or_else(|| SpendError::NotPaid {
            txid: tx.compute_txid().to_string(),
            script_pubkey: hex::encode(spk.as_bytes()),
        })
}

/// A DER signature of the maximum length with its sighash byte.
const MAX_ECDSA_SIG: usize = 73;
/// A BIP 340 signature with SIGHASH_DEFAULT (no sighash byte).
const SCHNORR_SIG: usize = 64;

fn placeholder_witness(contract: &Contract, path: &Path) -> Witness {
    let mut w = Witness::new();
    match (&contract.lock, path) {
        (Lock::P2wsh(script), Path::Claim { .. }) => {
            w.push([0u8; MAX_ECDSA_SIG]);
            w.push([0u8; 32]);
            w.push(script.as_bytes());
        }
        (Lock::P2wsh(script), _) => {
            w.push([0u8; MAX_ECDSA_SIG]);
            w.push([]);
            w.push(script.as_bytes());
        }
        (Lock::P2tr(tree), Path::Claim { .. }) => {
            w.push([0u8; SCHNORR_SIG]);
            w.push([0u8; 32]);
            w.push(tree.claim_leaf.as_bytes());
            w.push(tree.control_block(&tree.claim_leaf).serialize());
        }
        (Lock::P2tr(tree), Path::Refund { .. }) => {
            w.push([0u8; SCHNORR_SIG]);
            w.push(tree.refund_leaf.as_bytes());
            w.push(tree.control_block(&tree.refund_leaf).serialize());
        }
        (Lock::P2tr(_), Path::KeyPath) => w.push([0u8; SCHNORR_SIG]),
    }
    w
}

/// Build (and, for the script paths, sign) a spend of the swap's output.
pub fn build<C: Signing + Verification>(
    secp: &Secp256k1<C>,
    req: &SpendRequest,
    path: Path,
) -> Result<Spend, SpendError> {
    let contract = req.contract;
    let terms = &contract.terms;
    let (outpoint, prevout) = find_lockup_output(contract, req.lockup_tx)?;
    if let Some(expected) = req.expected_amount.filter(|a| *a != prevout.value) {
        return Err(SpendError::AmountMismatch {
            paid: prevout.value.to_sat(),
            expected: expected.to_sat(),
        });
    }
    match path {
        Path::Claim { preimage, key } => {
            if preimage.payment_hash() != terms.payment_hash {
                return Err(SpendError::WrongPreimage {
                    got: preimage.payment_hash().to_string(),
                    expected: terms.payment_hash.to_string(),
                });
            }
            check_key(secp, key, &terms.claim_pubkey, "claim")?;
        }
        Path::Refund { key, .. } => check_key(secp, key, &terms.refund_pubkey, "refund")?,
        Path::KeyPath => {
            if matches!(contract.lock, Lock::P2wsh(_)) {
                return Err(SpendError::NoKeyPath);
            }
        }
    }
    let lock_time = match path {
        Path::Refund { lock_time, .. } => LockTime::Blocks(lock_time),
        _ => LockTime::ZERO,
    };
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time,
        input: vec![TxIn {
            previous_output: outpoint,
            script_sig: ScriptBuf::new(),
            sequence: SEQUENCE,
            witness: placeholder_witness(contract, &path),
        }],
        output: vec![TxOut {
            value: Amount::ZERO,
            script_pubkey: req.destination.clone(),
        }],
    };
    let vsize = tx.weight().to_vbytes_ceil();
    let fee = req.feerate.fee_vb(vsize).unwrap_or(Amount::MAX);
    let dust = req.destination.minimal_non_dust();
    let value = prevout
        .value
        .checked_sub(fee)
        .filter(|v| *v >= dust)
        .ok_or(SpendError::TooSmall {
            amount: prevout.value.to_sat(),
            fee: fee.to_sat(),
            dust: dust.to_sat(),
        })?;
    tx.output[0].value = value;
    tx.input[0].witness = Witness::new();

    let mut cache = SighashCache::new(&tx);
    let prevouts = [prevout.clone()];
    let taproot_sighash = |cache: &mut SighashCache<&Transaction>, leaf: Option<&ScriptBuf>| {
        let digest = match leaf {
            Some(leaf) => cache.taproot_script_spend_signature_hash(
                0,
                &Prevouts::All(&prevouts),
                TapTree::leaf_hash(leaf),
                TapSighashType::Default,
            ),
            None => cache.taproot_key_spend_signature_hash(
                0,
                &Prevouts::All(&prevouts),
                TapSighashType::Default,
            ),
        };
        digest
            .expect("input 0 exists and one prevout is given")
            .to_byte_array()
    };
    let (witness, sighash) = match (&contract.lock, path) {
        (Lock::P2wsh(script), Path::Claim { key, .. } | Path::Refund { key, .. }) => {
            let digest = cache
                .p2wsh_signature_hash(0, script, prevout.value, EcdsaSighashType::All)
                .expect("input 0 exists")
                .to_byte_array();
            // Plain RFC 6979, like every ECDSA signature lnkit makes.
            let sig = bitcoin::ecdsa::Signature::sighash_all(
                secp.sign_ecdsa(&Message::from_digest(digest), key),
            );
            let mut w = Witness::new();
            w.push(sig.to_vec());
            // The claim shows the preimage (size 32: the IF branch); the
            // refund an empty item (size 0: the ELSE branch, which drops it).
            match path {
                Path::Claim { preimage, .. } => w.push(preimage.0),
                _ => w.push([]),
            }
            w.push(script.as_bytes());
            (w, digest)
        }
        (Lock::P2tr(tree), Path::Claim { preimage, key }) => {
            let digest = taproot_sighash(&mut cache, Some(&tree.claim_leaf));
            let sig = schnorr_sign(secp, key, digest);
            let mut w = Witness::new();
            w.push(sig.to_vec());
            w.push(preimage.0);
            w.push(tree.claim_leaf.as_bytes());
            w.push(tree.control_block(&tree.claim_leaf).serialize());
            (w, digest)
        }
        (Lock::P2tr(tree), Path::Refund { key, .. }) => {
            let digest = taproot_sighash(&mut cache, Some(&tree.refund_leaf));
            let sig = schnorr_sign(secp, key, digest);
            let mut w = Witness::new();
            w.push(sig.to_vec());
            w.push(tree.refund_leaf.as_bytes());
            w.push(tree.control_block(&tree.refund_leaf).serialize());
            (w, digest)
        }
        (Lock::P2tr(_), Path::KeyPath) => (Witness::new(), taproot_sighash(&mut cache, None)),
        (Lock::P2wsh(_), Path::KeyPath) => unreachable!("refused above"),
    };
    tx.input[0].witness = witness;
    Ok(Spend {
        fee,
        vsize,
        sighash,
        prevout,
        tx,
    })
}

fn check_key<C: Signing>(
    secp: &Secp256k1<C>,
    key: &SecretKey,
    expected: &bitcoin::secp256k1::PublicKey,
    role: &'static str,
) -> Result<(), SpendError> {
    let got = key.public_key(secp);
    if got != *expected {
        return Err(SpendError::WrongKey {
            role,
            got: got.to_string(),
            expected: expected.to_string(),
        });
    }
    Ok(())
}

/// BIP 340 without auxiliary randomness: deterministic, as DESIGN asks of
/// every secret-dependent step (the nonce still depends on key and message).
fn schnorr_sign<C: Signing>(
    secp: &Secp256k1<C>,
    key: &SecretKey,
    digest: [u8; 32],
) -> taproot::Signature {
    let keypair = Keypair::from_secret_key(secp, key);
    taproot::Signature {
        signature: secp.sign_schnorr_no_aux_rand(&Message::from_digest(digest), &keypair),
        sighash_type: TapSighashType::Default,
    }
}

/// Put the aggregated MuSig2 signature into a key-path spend.
pub fn finish_key_path(spend: &mut Spend, signature: bitcoin::secp256k1::schnorr::Signature) {
    let sig = taproot::Signature {
        signature,
        sighash_type: TapSighashType::Default,
    };
    spend.tx.input[0].witness = Witness::p2tr_key_spend(&sig);
}
