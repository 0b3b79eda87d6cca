//! Bitcoin Core's standardness rules (`policy/policy.cpp`): what its mempool
//! relays beyond what consensus allows, as pure functions the embedded
//! chain's mempool applies so that the in-process tests hold Core's bar.
//!
//! - `IsStandardTx`: version 1 to 3, weight, push-only scriptSigs, standard
//!   output types, the data-carrier budget ([`check_tx`]); the non-witness
//!   size floor of `PreChecks`.
//! - `AreInputsStandard` and `IsWitnessStandard`: what may be spent, and
//!   the witness limits of P2WSH, Taproot and pay-to-anchor ([`check_inputs`]).
//! - The standard script flags (`STANDARD_SCRIPT_VERIFY_FLAGS`) that can be
//!   checked without running the scripts ([`check_script_flags`]): LOW_S and
//!   STRICTENC on every ECDSA signature of a segwit v0 witness,
//!   WITNESS_PUBKEYTYPE on P2WPKH keys and on every key a witness script
//!   pushes. The kernel's script API accepts consensus flags only (it asserts
//!   on any other bit), so it cannot apply them. MINIMALIF and NULLFAIL
//!   depend on which branch a script takes and on each signature's outcome:
//!   they are not checked here, and the tests send every transaction kind
//!   lnkit builds to a real bitcoind instead
//!   (`tests/with_bitcoind/with_bitcoind_policy.rs`).

use bitcoin::blockdata::script::Instruction;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::taproot::{TAPROOT_LEAF_MASK, TAPROOT_LEAF_TAPSCRIPT};
use bitcoin::{Script, ScriptBuf, Transaction, TxOut};

/// `MAX_STANDARD_TX_WEIGHT`.
pub const MAX_STANDARD_TX_WEIGHT: u64 = 400_000;
/// `MIN_STANDARD_TX_NONWITNESS_SIZE`: smaller is the size of a 64-byte
/// Merkle-tree node, which a transaction must not be mistaken for.
pub const MIN_STANDARD_TX_NONWITNESS_SIZE: usize = 65;
/// `MAX_STANDARD_SCRIPTSIG_SIZE`.
pub const MAX_STANDARD_SCRIPTSIG_SIZE: usize = 1650;
/// `MAX_STANDARD_P2WSH_SCRIPT_SIZE`.
pub const MAX_STANDARD_P2WSH_SCRIPT_SIZE: usize = 3600;
/// `MAX_STANDARD_P2WSH_STACK_ITEMS`, the witness script not counted.
pub const MAX_STANDARD_P2WSH_STACK_ITEMS: usize = 100;
/// `MAX_STANDARD_P2WSH_STACK_ITEM_SIZE`.
pub const MAX_STANDARD_P2WSH_STACK_ITEM_SIZE: usize = 80;
/// `MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE`.
pub const MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE: usize = 80;
/// `MAX_OP_RETURN_RELAY`: the default `-datacarriersize`, shared by every
/// OP_RETURN output of a transaction.
pub const MAX_OP_RETURN_RELAY: usize = 100_000;

/// BIP 433 pay-to-anchor: `OP_1 <0x4e73>`.
fn is_p2a(spk: &Script) -> bool {
    *spk == *ScriptBuf::new_p2a()
}

/// The output types Core's `Solver` recognises as standard.
fn is_standard_output(spk: &Script) -> bool {
    let b = spk.as_bytes();
    if spk.is_op_return() {
        // NULL_DATA: OP_RETURN and pushes only.
        return Script::from_bytes(&b[1..]).is_push_only();
    }
    if spk.is_multisig() {
        // Bare m-of-n with n of 1 to 3 (`-permitbaremultisig` is on by default).
        let n = b[b.len() - 2].wrapping_sub(0x50);
        return (1..=3).contains(&n);
    }
    spk.is_p2pk()
        || spk.is_p2pkh()
        || spk.is_p2sh()
        || spk.is_p2wpkh()
        || spk.is_p2wsh()
        || spk.is_p2tr()
        || is_p2a(spk)
        // WITNESS_UNKNOWN: a program of a future version is standard to pay.
        || spk.witness_version().is_some_and(|v| v.to_num() != 0)
}

/// Core's `IsStandardTx` (and the non-witness size floor of `PreChecks`):
/// `Err` carries Core's reason.
pub fn check_tx(tx: &Transaction) -> Result<(), &'static str> {
    if !(1..=3).contains(&tx.version.0) {
        return Err("version");
    }
    if tx.weight().to_wu() > MAX_STANDARD_TX_WEIGHT {
        return Err("tx-size");
    }
    for input in &tx.input {
        if input.script_sig.len() > MAX_STANDARD_SCRIPTSIG_SIZE {
            return Err("scriptsig-size");
        }
        if !input.script_sig.is_push_only() {
            return Err("scriptsig-not-pushonly");
        }
    }
    let mut data_left = MAX_OP_RETURN_RELAY;
    for out in &tx.output {
        if !is_standard_output(&out.script_pubkey) {
            return Err("scriptpubkey");
        }
        if out.script_pubkey.is_op_return() {
            data_left = data_left
                .checked_sub(out.script_pubkey.len())
                .ok_or("datacarrier")?;
        }
    }
    // PreChecks, after IsStandardTx.
    if tx.base_size() < MIN_STANDARD_TX_NONWITNESS_SIZE {
        return Err("tx-size-small");
    }
    Ok(())
}

/// Core's `AreInputsStandard` and `IsWitnessStandard` for the outputs
/// `spent` (one per input): `Err` carries Core's reason.
pub fn check_inputs(tx: &Transaction, spent: &[TxOut]) -> Result<(), &'static str> {
    for (input, prev) in tx.input.iter().zip(spent) {
        let spk = &prev.script_pubkey;
        // Spending a future witness version, or a script Core cannot
        // classify, is left to the soft fork that defines it.
        let unknown_witness = spk.witness_version().is_some_and(|v| v.to_num() > 1)
            || (spk.witness_version().is_some_and(|v| v.to_num() == 1)
                && !spk.is_p2tr()
                && !is_p2a(spk));
        if unknown_witness || !is_standard_output(spk) || spk.is_op_return() {
            return Err("bad-txns-nonstandard-inputs");
        }
        let w = &input.witness;
        if w.is_empty() {
            continue;
        }
        let nonstandard = Err("bad-witness-nonstandard");
        if is_p2a(spk) {
            return nonstandard;
        }
        if spk.is_p2wsh() {
            let items: Vec<&[u8]> = w.iter().collect();
            let (script, stack) = items.split_last().expect("not empty");
            if script.len() > MAX_STANDARD_P2WSH_SCRIPT_SIZE
                || stack.len() > MAX_STANDARD_P2WSH_STACK_ITEMS
                || stack
                    .iter()
                    .any(|i| i.len() > MAX_STANDARD_P2WSH_STACK_ITEM_SIZE)
            {
                return nonstandard;
            }
        }
        if spk.is_p2tr() {
            if w.taproot_annex().is_some() {
                return nonstandard;
            }
            // A script path under BIP 342: the items below the script and
            // the control block are the tapscript's stack.
            let tapscript = w
                .taproot_control_block()
                .and_then(|c| c.first())
                .is_some_and(|c| c & TAPROOT_LEAF_MASK == TAPROOT_LEAF_TAPSCRIPT);
            if tapscript
                && w.iter()
                    .take(w.len() - 2)
                    .any(|i| i.len() > MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE)
            {
                return nonstandard;
            }
        }
    }
    Ok(())
}

/// An ECDSA signature with its sighash byte, as a witness carries it, if
/// `item` is one (strict DER, BIP 66).
fn ecdsa_signature(item: &[u8]) -> Option<(Signature, u8)> {
    let (hash_type, der) = item.split_last()?;
    if der.first() != Some(&0x30) || !(8..=72).contains(&der.len()) {
        return None;
    }
    Signature::from_der(der).ok().map(|s| (s, *hash_type))
}

/// Core's text for a standard (not consensus) script flag that failed.
fn flag_failed(reason: &str) -> String {
    format!("mempool-script-verify-flag-failed ({reason})")
}

fn check_signature(sig: Signature, hash_type: u8) -> Result<(), String> {
    // STRICTENC: ALL, NONE or SINGLE, with or without ANYONECANPAY.
    if !(1..=3).contains(&(hash_type & !0x80)) {
        return Err(flag_failed("Signature hash type missing or not understood"));
    }
    // LOW_S (BIP 146): S at most half the group order.
    let mut low = sig;
    low.normalize_s();
    if low != sig {
        return Err(flag_failed(
            "Non-canonical signature: S value is unnecessarily high",
        ));
    }
    Ok(())
}

fn is_compressed_key(item: &[u8]) -> bool {
    item.len() == 33 && matches!(item[0], 0x02 | 0x03)
}

/// The standard script flags that need no script execution, on every
/// segwit v0 input of `tx` (`spent` holds one output per input): `Err`
/// carries Core's text.
pub fn check_script_flags(tx: &Transaction, spent: &[TxOut]) -> Result<(), String> {
    let uncompressed = || Err(flag_failed("Using non-compressed keys in segwit"));
    for (input, prev) in tx.input.iter().zip(spent) {
        let items: Vec<&[u8]> = input.witness.iter().collect();
        if prev.script_pubkey.is_p2wpkh() {
            if let [sig, key] = items[..] {
                if !is_compressed_key(key) {
                    return uncompressed();
                }
                if let Some((s, t)) = ecdsa_signature(sig) {
                    check_signature(s, t)?;
                }
            }
        } else if prev.script_pubkey.is_p2wsh() {
            let Some((script, stack)) = items.split_last() else {
                continue;
            };
            for item in stack {
                if let Some((s, t)) = ecdsa_signature(item) {
                    check_signature(s, t)?;
                }
            }
            // A 65-byte push is an uncompressed key, a 33-byte one must be
            // compressed: the only keys BOLT 3's and the swaps' scripts hold.
            for ins in Script::from_bytes(script).instructions().flatten() {
                if let Instruction::PushBytes(p) = ins {
                    let b = p.as_bytes();
                    if (b.len() == 65 && b[0] == 0x04) || (b.len() == 33 && !is_compressed_key(b)) {
                        return uncompressed();
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::absolute::LockTime;
    use bitcoin::blockdata::opcodes::all::OP_CHECKMULTISIG;
    use bitcoin::hashes::Hash;
    use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
    use bitcoin::transaction::Version;
    use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, TxIn, WPubkeyHash, Witness};

    fn p2wpkh() -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&WPubkeyHash::all_zeros())
    }

    fn tx(witness: Witness, out: ScriptBuf) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness,
            }],
            output: vec![TxOut {
                value: Amount::from_sat(10_000),
                script_pubkey: out,
            }],
        }
    }

    fn spent(spk: ScriptBuf) -> Vec<TxOut> {
        vec![TxOut {
            value: Amount::from_sat(20_000),
            script_pubkey: spk,
        }]
    }

    /// A signature and its twin with S negated (high S).
    fn signatures() -> (Vec<u8>, Vec<u8>, [u8; 33]) {
        let secp = Secp256k1::new();
        let key = SecretKey::from_slice(&[7; 32]).unwrap();
        let sig = secp.sign_ecdsa(&Message::from_digest([1; 32]), &key);
        let compact = sig.serialize_compact();
        let s = SecretKey::from_slice(&compact[32..]).unwrap().negate();
        let mut high = compact;
        high[32..].copy_from_slice(&s.secret_bytes());
        let high = Signature::from_compact(&high).unwrap();
        let with_type = |s: Signature| [s.serialize_der().to_vec(), vec![1]].concat();
        (
            with_type(sig),
            with_type(high),
            key.public_key(&secp).serialize(),
        )
    }

    #[test]
    fn a_standard_spend_passes_and_each_rule_names_its_reason() {
        let (low, high, key) = signatures();
        let good = tx(Witness::from_slice(&[low.clone(), key.to_vec()]), p2wpkh());
        assert_eq!(check_tx(&good), Ok(()));
        assert_eq!(check_inputs(&good, &spent(p2wpkh())), Ok(()));
        assert_eq!(check_script_flags(&good, &spent(p2wpkh())), Ok(()));

        let mut v4 = good.clone();
        v4.version = Version(4);
        assert_eq!(check_tx(&v4), Err("version"));
        let odd = tx(
            Witness::new(),
            ScriptBuf::from_bytes(vec![0x00, 0x01, 0x01]),
        );
        assert_eq!(check_tx(&odd), Err("scriptpubkey"));
        let mut small = good.clone();
        small.output[0].script_pubkey = ScriptBuf::from_bytes(vec![0x6a]); // OP_RETURN
        assert_eq!(check_tx(&small), Err("tx-size-small"));
        let mut pushy = good.clone();
        pushy.input[0].script_sig = ScriptBuf::from_bytes(vec![0x76]); // OP_DUP
        assert_eq!(check_tx(&pushy), Err("scriptsig-not-pushonly"));

        let high_s = tx(Witness::from_slice(&[high, key.to_vec()]), p2wpkh());
        let e = check_script_flags(&high_s, &spent(p2wpkh())).unwrap_err();
        assert!(e.contains("S value is unnecessarily high"), "{e}");
        let mut odd_type = low.clone();
        *odd_type.last_mut().unwrap() = 0x04;
        let e = check_script_flags(
            &tx(Witness::from_slice(&[odd_type, key.to_vec()]), p2wpkh()),
            &spent(p2wpkh()),
        )
        .unwrap_err();
        assert!(e.contains("hash type"), "{e}");
        let long_key = [&[0x04][..], &[9; 64][..]].concat();
        let e = check_script_flags(
            &tx(Witness::from_slice(&[low.clone(), long_key]), p2wpkh()),
            &spent(p2wpkh()),
        )
        .unwrap_err();
        assert!(e.contains("non-compressed"), "{e}");
    }

    #[test]
    fn witness_limits_of_p2wsh_taproot_and_anchors() {
        let script = ScriptBuf::from_bytes(vec![0x51]); // OP_TRUE
        let p2wsh = script.to_p2wsh();
        let ok = tx(
            Witness::from_slice(&[vec![1; 80], script.to_bytes()]),
            p2wpkh(),
        );
        assert_eq!(check_inputs(&ok, &spent(p2wsh.clone())), Ok(()));
        let big = tx(
            Witness::from_slice(&[vec![1; 81], script.to_bytes()]),
            p2wpkh(),
        );
        assert_eq!(
            check_inputs(&big, &spent(p2wsh.clone())),
            Err("bad-witness-nonstandard")
        );
        let mut many = vec![vec![]; 101];
        many.push(script.to_bytes());
        let many = tx(Witness::from_slice(&many), p2wpkh());
        assert_eq!(
            check_inputs(&many, &spent(p2wsh)),
            Err("bad-witness-nonstandard")
        );

        let p2tr = ScriptBuf::from_bytes([&[0x51, 0x20][..], &[2; 32][..]].concat());
        let annexed = tx(
            Witness::from_slice(&[vec![3; 64], vec![bitcoin::taproot::TAPROOT_ANNEX_PREFIX, 0]]),
            p2wpkh(),
        );
        assert_eq!(
            check_inputs(&annexed, &spent(p2tr.clone())),
            Err("bad-witness-nonstandard")
        );

        // A tapscript's stack items: at most 80 bytes each.
        let control = [&[TAPROOT_LEAF_TAPSCRIPT][..], &[2; 32][..]].concat();
        let leaf = |item: usize| {
            tx(
                Witness::from_slice(&[vec![1; item], vec![0x51], control.clone()]),
                p2wpkh(),
            )
        };
        assert_eq!(check_inputs(&leaf(80), &spent(p2tr.clone())), Ok(()));
        assert_eq!(
            check_inputs(&leaf(81), &spent(p2tr.clone())),
            Err("bad-witness-nonstandard")
        );

        let anchor = ScriptBuf::new_p2a();
        assert!(is_standard_output(&anchor));
        let spent_anchor = spent(anchor);
        assert_eq!(
            check_inputs(&tx(Witness::new(), p2wpkh()), &spent_anchor),
            Ok(())
        );
        let signed = tx(Witness::from_slice(&[vec![1]]), p2wpkh());
        assert_eq!(
            check_inputs(&signed, &spent_anchor),
            Err("bad-witness-nonstandard")
        );
        // A future witness version is standard to pay, not to spend.
        let v2 = ScriptBuf::from_bytes([&[0x52, 0x20][..], &[2; 32][..]].concat());
        assert!(is_standard_output(&v2));
        assert_eq!(
            check_inputs(&tx(Witness::new(), p2wpkh()), &spent(v2)),
            Err("bad-txns-nonstandard-inputs")
        );
        // Bare multisig, at most three keys.
        let (_, _, key) = signatures();
        let mut b = bitcoin::blockdata::script::Builder::new().push_int(1);
        for _ in 0..3 {
            b = b.push_slice(key);
        }
        let three = b.push_int(3).push_opcode(OP_CHECKMULTISIG).into_script();
        assert!(is_standard_output(&three));
        let mut b = bitcoin::blockdata::script::Builder::new().push_int(1);
        for _ in 0..4 {
            b = b.push_slice(key);
        }
        let four = b.push_int(4).push_opcode(OP_CHECKMULTISIG).into_script();
        assert!(!is_standard_output(&four));
    }
}
