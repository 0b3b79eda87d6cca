//! Consensus verification of the transactions we build, by Bitcoin Core's own
//! script interpreter (libbitcoinkernel, through the `bitcoinkernel` crate).
//!
//! A signature that only our own code accepts proves nothing: every transaction
//! lnkit builds is checked here, input by input, against the outputs it spends,
//! with all consensus flags (P2SH, DERSIG, NULLDUMMY, CLTV, CSV, witness,
//! Taproot). All spent outputs are passed at once, as Taproot's sighash needs them.

use bitcoin::consensus::encode::serialize;
use bitcoin::{Transaction, TxOut};

/// Why a transaction failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// One spent output is needed per input, in input order.
    #[error("{inputs} inputs but {spent} spent outputs were given")]
    SpentOutputCount {
        /// Inputs of the transaction.
        inputs: usize,
        /// Spent outputs given.
        spent: usize,
    },
    /// The interpreter rejected an input's script.
    #[error("input {input} (spending {outpoint}): rejected by Bitcoin Core's script interpreter: {reason}")]
    ScriptFailed {
        /// The input index.
        input: usize,
        /// The outpoint it spends.
        outpoint: String,
        /// The kernel's reason.
        reason: String,
    },
    /// The kernel could not take the transaction or an output at all.
    #[error("libbitcoinkernel could not load the {what}: {reason}")]
    Kernel {
        /// Which object.
        what: &'static str,
        /// The kernel's reason.
        reason: String,
    },
}

/// Verify every input of `tx` against `spent_outputs` (one per input, in order),
/// with all consensus rules. `Ok(())` means Bitcoin Core would accept the scripts
/// (it says nothing of fees, standardness or whether the outputs exist).
pub fn verify_transaction(tx: &Transaction, spent_outputs: &[TxOut]) -> Result<(), VerifyError> {
    if tx.input.len() != spent_outputs.len() {
        return Err(VerifyError::SpentOutputCount {
            inputs: tx.input.len(),
            spent: spent_outputs.len(),
        });
    }
    let kernel = |what: &'static str| {
        move |e: bitcoinkernel::KernelError| VerifyError::Kernel {
            what,
            reason: e.to_string(),
        }
    };
    let kernel_tx =
        bitcoinkernel::Transaction::new(&serialize(tx)).map_err(kernel("transaction"))?;
    let mut scripts = Vec::with_capacity(spent_outputs.len());
    let mut outputs = Vec::with_capacity(spent_outputs.len());
    for out in spent_outputs {
        let script = bitcoinkernel::ScriptPubkey::new(out.script_pubkey.as_bytes())
            .map_err(kernel("spent output script"))?;
        // Amounts are at most 21e14 sat (MAX_MONEY), far inside i64.
        let value = out.value.to_sat() as i64;
        outputs.push(bitcoinkernel::TxOut::new(&script, value));
        scripts.push((script, value));
    }
    let precomputed = bitcoinkernel::PrecomputedTransactionData::new(&kernel_tx, &outputs)
        .map_err(kernel("spent outputs"))?;
    for (input, (script, value)) in scripts.iter().enumerate() {
        bitcoinkernel::verify(
            script,
            Some(*value),
            &kernel_tx,
            input,
            Some(bitcoinkernel::VERIFY_ALL),
            &precomputed,
        )
        .map_err(|e| VerifyError::ScriptFailed {
            input,
            outpoint: tx.input[input].previous_output.to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}
