//! Witness scripts: the 2-of-2 funding output (BOLT 3 "Funding Transaction
//! Output"), the offered and received HTLC outputs (BOLT 3 "Offered HTLC
//! Outputs", "Received HTLC Outputs", with and without `option_anchors`).
//! The swap contract lives with the rest of the swap in [`crate::swap::contract`].
//!
//! Scripts are built with `bitcoin`'s script builder; this module only decides
//! which opcodes and pushes, in the order the spec writes them.

use bitcoin::hashes::{hash160, ripemd160, Hash};
use bitcoin::opcodes::all::*;
use bitcoin::script::{Builder, ScriptBuf};
use bitcoin::secp256k1::PublicKey;

use crate::keys::{DelayedPubkey, HtlcPubkey, PaymentPubkey, RevocationPubkey};
use crate::payment::{CltvExpiry, PaymentHash};

/// BOLT 3 "Funding Transaction Output": `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG`,
/// where `pubkey1` is the lexicographically lesser of the two `funding_pubkey`s
/// in compressed format, and `pubkey2` the greater.
pub fn funding_script(a: &PublicKey, b: &PublicKey) -> ScriptBuf {
    let (first, second) = if a.serialize() <= b.serialize() {
        (a, b)
    } else {
        (b, a)
    };
    Builder::new()
        .push_int(2)
        .push_slice(first.serialize())
        .push_slice(second.serialize())
        .push_int(2)
        .push_opcode(OP_CHECKMULTISIG)
        .into_script()
}

/// BOLT 3 "`to_local` Output", also the output of HTLC-timeout/HTLC-success
/// transactions: the holder's money, delayed by `to_self_delay` blocks so the
/// counterparty can take it with the revocation key if this commitment was revoked.
///
/// `OP_IF <revocationpubkey> OP_ELSE <to_self_delay> OP_CHECKSEQUENCEVERIFY OP_DROP
///  <local_delayedpubkey> OP_ENDIF OP_CHECKSIG`
///
/// Spends: holder after the delay `<local_delayedsig> <>` (nSequence = to_self_delay);
/// revocation `<revocation_sig> 1`.
pub fn to_local(
    revocation: &RevocationPubkey,
    to_self_delay: u16,
    local_delayed: &DelayedPubkey,
) -> ScriptBuf {
    Builder::new()
        .push_opcode(OP_IF)
        .push_slice(revocation.serialize())
        .push_opcode(OP_ELSE)
        .push_int(i64::from(to_self_delay))
        .push_opcode(OP_CSV)
        .push_opcode(OP_DROP)
        .push_slice(local_delayed.serialize())
        .push_opcode(OP_ENDIF)
        .push_opcode(OP_CHECKSIG)
        .into_script()
}

/// BOLT 3 "`to_remote` Output" with `option_anchors`: `<remotepubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY`.
/// (Without anchors, `to_remote` is a plain P2WPKH of `remotepubkey`.) Spent with `<remote_sig>`, nSequence 1.
pub fn to_remote_anchors(remote: &PaymentPubkey) -> ScriptBuf {
    Builder::new()
        .push_slice(remote.serialize())
        .push_opcode(OP_CHECKSIGVERIFY)
        .push_int(1)
        .push_opcode(OP_CSV)
        .into_script()
}

/// BOLT 3 "`to_local_anchor` and `to_remote_anchor` Output": 330 sat that the
/// owner of `funding_pubkey` can spend at once to bump the commitment's fee
/// (`<sig>`), and anyone after 16 blocks (`<>`), so none linger in the UTXO set.
///
/// `<funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF`
pub fn anchor(funding_pubkey: &PublicKey) -> ScriptBuf {
    Builder::new()
        .push_slice(funding_pubkey.serialize())
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_IFDUP)
        .push_opcode(OP_NOTIF)
        .push_int(16)
        .push_opcode(OP_CSV)
        .push_opcode(OP_ENDIF)
        .into_script()
}

/// The three keys in an HTLC output's script, as seen from the holder of the
/// commitment transaction (BOLT 3 names them from the holder's side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HtlcKeys {
    /// `revocationpubkey`: lets the counterparty take the output if this commitment is revoked.
    pub revocation: RevocationPubkey,
    /// `local_htlcpubkey`: the holder's key.
    pub local_htlc: HtlcPubkey,
    /// `remote_htlcpubkey`: the counterparty's key.
    pub remote_htlc: HtlcPubkey,
}

/// The common head of both HTLC scripts: the revocation branch.
///
/// `OP_DUP OP_HASH160 <RIPEMD160(SHA256(revocationpubkey))> OP_EQUAL OP_IF OP_CHECKSIG OP_ELSE
///  <remote_htlcpubkey> OP_SWAP OP_SIZE 32 OP_EQUAL`
fn htlc_script_head(keys: &HtlcKeys) -> Builder {
    let revocation_hash = hash160::Hash::hash(&keys.revocation.serialize());
    Builder::new()
        .push_opcode(OP_DUP)
        .push_opcode(OP_HASH160)
        .push_slice(revocation_hash.to_byte_array())
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_IF)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ELSE)
        .push_slice(keys.remote_htlc.serialize())
        .push_opcode(OP_SWAP)
        .push_opcode(OP_SIZE)
        .push_int(32)
        .push_opcode(OP_EQUAL)
}

/// `option_anchors` adds `1 OP_CHECKSEQUENCEVERIFY OP_DROP` before the final
/// `OP_ENDIF`, so that every non-revocation spend waits one block: the CPFP
/// carve-out relies on no other output of the commitment being spendable at once.
fn htlc_script_tail(builder: Builder, anchors: bool) -> ScriptBuf {
    let builder = if anchors {
        builder.push_int(1).push_opcode(OP_CSV).push_opcode(OP_DROP)
    } else {
        builder
    };
    builder.push_opcode(OP_ENDIF).into_script()
}

/// BOLT 3 "Offered HTLC Outputs": an HTLC the holder of this commitment offered.
///
/// Spends: counterparty with preimage `<remotehtlcsig> <payment_preimage>`;
/// holder via the HTLC-timeout transaction `0 <remotehtlcsig> <localhtlcsig> <>`;
/// revocation `<revocation_sig> <revocationpubkey>`.
pub fn offered_htlc(keys: &HtlcKeys, payment_hash: &PaymentHash, anchors: bool) -> ScriptBuf {
    let builder = htlc_script_head(keys)
        .push_opcode(OP_NOTIF)
        // To local node via HTLC-timeout transaction (timelocked).
        .push_opcode(OP_DROP)
        .push_int(2)
        .push_opcode(OP_SWAP)
        .push_slice(keys.local_htlc.serialize())
        .push_int(2)
        .push_opcode(OP_CHECKMULTISIG)
        .push_opcode(OP_ELSE)
        // To remote node with preimage.
        .push_opcode(OP_HASH160)
        .push_slice(ripemd160::Hash::hash(&payment_hash.0).to_byte_array())
        .push_opcode(OP_EQUALVERIFY)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ENDIF);
    htlc_script_tail(builder, anchors)
}

/// BOLT 3 "Received HTLC Outputs": an HTLC offered to the holder of this commitment.
///
/// Spends: holder via the HTLC-success transaction `0 <remotehtlcsig> <localhtlcsig> <payment_preimage>`;
/// counterparty after `cltv_expiry` `<remotehtlcsig> <>`; revocation `<revocation_sig> <revocationpubkey>`.
pub fn received_htlc(
    keys: &HtlcKeys,
    payment_hash: &PaymentHash,
    cltv_expiry: CltvExpiry,
    anchors: bool,
) -> ScriptBuf {
    let builder = htlc_script_head(keys)
        .push_opcode(OP_IF)
        // To local node via HTLC-success transaction.
        .push_opcode(OP_HASH160)
        .push_slice(ripemd160::Hash::hash(&payment_hash.0).to_byte_array())
        .push_opcode(OP_EQUALVERIFY)
        .push_int(2)
        .push_opcode(OP_SWAP)
        .push_slice(keys.local_htlc.serialize())
        .push_int(2)
        .push_opcode(OP_CHECKMULTISIG)
        .push_opcode(OP_ELSE)
        // To remote node after timeout.
        .push_opcode(OP_DROP)
        .push_int(i64::from(cltv_expiry.0))
        .push_opcode(OP_CLTV)
        .push_opcode(OP_DROP)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ENDIF);
    htlc_script_tail(builder, anchors)
}
