//! The swap contract: whoever reveals the 32-byte preimage of the payment
//! hash takes the coins with the claim key; after the timeout the funder takes
//! them back with the refund key. Two encodings, as the swap services use them:
//!
//! **P2WSH** (SegWit v0), one witness script:
//!
//! ```text
//! OP_SIZE 32 OP_EQUAL
//! OP_IF
//!     OP_HASH160 <RIPEMD160(payment_hash)> OP_EQUALVERIFY <claim_pubkey>
//! OP_ELSE
//!     OP_DROP <timeout> OP_CHECKLOCKTIMEVERIFY OP_DROP <refund_pubkey>
//! OP_ENDIF
//! OP_CHECKSIG
//! ```
//!
//! **P2TR** (Taproot, BIP 341/342): two leaves at depth 1 and a MuSig2 key path,
//!
//! ```text
//! claim leaf:  OP_SIZE 32 OP_EQUALVERIFY OP_HASH160 <RIPEMD160(payment_hash)> OP_EQUALVERIFY <claim x-only> OP_CHECKSIG
//! refund leaf: <refund x-only> OP_CHECKSIGVERIFY <timeout> OP_CHECKLOCKTIMEVERIFY
//! internal key: MuSig2 (BIP 327) aggregate of claim_pubkey and refund_pubkey
//! ```
//!
//! Why these choices:
//! - `OP_HASH160` of the preimage is `RIPEMD160(SHA256(preimage))` =
//!   `RIPEMD160(payment_hash)`, so the script commits to the invoice's payment
//!   hash while costing 20 bytes instead of 32.
//! - `OP_SIZE 32` pins the preimage to 32 bytes. A Lightning HTLC (BOLT 2
//!   `update_fulfill_htlc`) and the other leg of a cross-chain swap only accept
//!   a 32-byte preimage; without the check, a longer preimage with the same
//!   hash could unlock this leg but be useless on the other.
//! - In the P2WSH script the refund branch is taken with an empty item (size
//!   0 ≠ 32) that `OP_DROP` removes.
//! - Tapscript keys are 32-byte x-only keys: a push of any other size is an
//!   "unknown public key type" in BIP 342, for which any signature passes.
//! - The MuSig2 internal key lets both parties spend cooperatively with one
//!   key-path signature, which looks like any other Taproot payment.

use bitcoin::absolute::{Height, LockTime};
use bitcoin::hashes::{ripemd160, Hash};
use bitcoin::opcodes::all::*;
use bitcoin::script::{Builder, Instruction};
use bitcoin::secp256k1::{PublicKey, Secp256k1, Verification, XOnlyPublicKey};
use bitcoin::taproot::{ControlBlock, LeafVersion, TapLeafHash, TaprootBuilder, TaprootSpendInfo};
use bitcoin::ScriptBuf;

use super::musig::{self, KeyOrder};
use crate::payment::PaymentHash;

/// The terms both encodings carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwapTerms {
    /// The hash the swap is locked to (the invoice's payment hash).
    pub payment_hash: PaymentHash,
    /// The key of the side that claims with the preimage.
    pub claim_pubkey: PublicKey,
    /// The key of the side that takes a refund after the timeout.
    pub refund_pubkey: PublicKey,
    /// The block height from which the refund can be mined (after this block).
    pub timeout: Height,
}

impl SwapTerms {
    /// `RIPEMD160(payment_hash)`, which `OP_HASH160` of the preimage must equal.
    pub fn hash160(&self) -> [u8; 20] {
        hash160_of(&self.payment_hash)
    }
}

/// `RIPEMD160(payment_hash)` = `HASH160(preimage)`.
pub fn hash160_of(payment_hash: &PaymentHash) -> [u8; 20] {
    ripemd160::Hash::hash(&payment_hash.0).to_byte_array()
}

/// How the contract is put on chain.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OutputType {
    /// SegWit v0: one witness script.
    P2wsh,
    /// Taproot: claim and refund leaves, MuSig2 key path.
    P2tr,
}

impl OutputType {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            OutputType::P2wsh => "p2wsh",
            OutputType::P2tr => "p2tr",
        }
    }
}

/// The P2WSH witness script (see the module documentation).
pub fn p2wsh_script(terms: &SwapTerms) -> ScriptBuf {
    p2wsh_template(
        terms.hash160(),
        &terms.claim_pubkey,
        terms.timeout,
        &terms.refund_pubkey,
    )
}

fn p2wsh_template(
    hash160: [u8; 20],
    claim: &PublicKey,
    timeout: Height,
    refund: &PublicKey,
) -> ScriptBuf {
    Builder::new()
        .push_opcode(OP_SIZE)
        .push_int(32)
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_IF)
        .push_opcode(OP_HASH160)
        .push_slice(hash160)
        .push_opcode(OP_EQUALVERIFY)
        .push_slice(claim.serialize())
        .push_opcode(OP_ELSE)
        .push_opcode(OP_DROP)
        .push_lock_time(LockTime::Blocks(timeout))
        .push_opcode(OP_CLTV)
        .push_opcode(OP_DROP)
        .push_slice(refund.serialize())
        .push_opcode(OP_ENDIF)
        .push_opcode(OP_CHECKSIG)
        .into_script()
}

/// The Taproot claim leaf.
pub fn claim_leaf(hash160: [u8; 20], claim: XOnlyPublicKey) -> ScriptBuf {
    Builder::new()
        .push_opcode(OP_SIZE)
        .push_int(32)
        .push_opcode(OP_EQUALVERIFY)
        .push_opcode(OP_HASH160)
        .push_slice(hash160)
        .push_opcode(OP_EQUALVERIFY)
        .push_x_only_key(&claim)
        .push_opcode(OP_CHECKSIG)
        .into_script()
}

/// The Taproot refund leaf.
pub fn refund_leaf(refund: XOnlyPublicKey, timeout: Height) -> ScriptBuf {
    Builder::new()
        .push_x_only_key(&refund)
        .push_opcode(OP_CHECKSIGVERIFY)
        .push_lock_time(LockTime::Blocks(timeout))
        .push_opcode(OP_CLTV)
        .into_script()
}

/// The Taproot tree of a swap.
#[derive(Clone, Debug)]
pub struct TapTree {
    /// The claim leaf.
    pub claim_leaf: ScriptBuf,
    /// The refund leaf.
    pub refund_leaf: ScriptBuf,
    /// The MuSig2 aggregate of both keys (untweaked): the BIP 341 internal key.
    pub internal_key: XOnlyPublicKey,
    /// The order the keys were aggregated in.
    pub key_order: KeyOrder,
    /// Merkle root, output key and control blocks.
    pub spend_info: TaprootSpendInfo,
}

impl TapTree {
    /// Build the tree over the two leaves with `internal_key`.
    pub fn new<C: Verification>(
        secp: &Secp256k1<C>,
        claim_leaf: ScriptBuf,
        refund_leaf: ScriptBuf,
        internal_key: XOnlyPublicKey,
        key_order: KeyOrder,
    ) -> Self {
        let spend_info = TaprootBuilder::new()
            .add_leaf(1, claim_leaf.clone())
            .and_then(|b| b.add_leaf(1, refund_leaf.clone()))
            .expect("two leaves at depth 1 make a complete tree")
            .finalize(secp, internal_key)
            .expect("a complete tree finalizes");
        TapTree {
            claim_leaf,
            refund_leaf,
            internal_key,
            key_order,
            spend_info,
        }
    }

    /// The leaf hash of a leaf (BIP 341 `TapLeaf`, leaf version 0xc0).
    pub fn leaf_hash(leaf: &ScriptBuf) -> TapLeafHash {
        TapLeafHash::from_script(leaf, LeafVersion::TapScript)
    }

    /// The control block proving `leaf` is in the tree.
    pub fn control_block(&self, leaf: &ScriptBuf) -> ControlBlock {
        self.spend_info
            .control_block(&(leaf.clone(), LeafVersion::TapScript))
            .expect("both leaves are in the tree")
    }

    /// The merkle root.
    pub fn merkle_root(&self) -> [u8; 32] {
        self.spend_info
            .merkle_root()
            .expect("the tree has leaves")
            .to_byte_array()
    }
}

/// How the contract is locked: the script or the tree.
#[derive(Clone, Debug)]
pub enum Lock {
    /// The P2WSH witness script.
    P2wsh(ScriptBuf),
    /// The Taproot tree.
    P2tr(Box<TapTree>),
}

/// A swap contract: its terms and their encoding.
#[derive(Clone, Debug)]
pub struct Contract {
    /// The terms.
    pub terms: SwapTerms,
    /// The encoding.
    pub lock: Lock,
}

impl Contract {
    /// Build the contract for `terms` in the given encoding. `key_order` is
    /// how the MuSig2 internal key aggregates the two keys (P2TR only).
    pub fn new<C: Verification>(
        secp: &Secp256k1<C>,
        terms: SwapTerms,
        output_type: OutputType,
        key_order: KeyOrder,
    ) -> Self {
        let lock = match output_type {
            OutputType::P2wsh => Lock::P2wsh(p2wsh_script(&terms)),
            OutputType::P2tr => {
                let internal =
                    musig::aggregate_key(&terms.claim_pubkey, &terms.refund_pubkey, key_order);
                Lock::P2tr(Box::new(TapTree::new(
                    secp,
                    claim_leaf(terms.hash160(), terms.claim_pubkey.x_only_public_key().0),
                    refund_leaf(terms.refund_pubkey.x_only_public_key().0, terms.timeout),
                    internal.x_only_public_key().0,
                    key_order,
                )))
            }
        };
        Contract { terms, lock }
    }

    /// The encoding used.
    pub fn output_type(&self) -> OutputType {
        match self.lock {
            Lock::P2wsh(_) => OutputType::P2wsh,
            Lock::P2tr(_) => OutputType::P2tr,
        }
    }

    /// The MuSig2 signing session for a key-path spend whose sighash is
    /// `message` (`None` for P2WSH, which has no key path).
    pub fn musig_session(&self, message: [u8; 32]) -> Option<musig::Session> {
        match &self.lock {
            Lock::P2wsh(_) => None,
            Lock::P2tr(tree) => Some(musig::Session::new(
                &self.terms.claim_pubkey,
                &self.terms.refund_pubkey,
                tree.key_order,
                &tree.merkle_root(),
                message,
            )),
        }
    }

    /// The output script the lockup transaction pays.
    pub fn script_pubkey(&self) -> ScriptBuf {
        match &self.lock {
            Lock::P2wsh(script) => script.to_p2wsh(),
            Lock::P2tr(tree) => ScriptBuf::new_p2tr_tweaked(tree.spend_info.output_key()),
        }
    }
}

/// Why a script is not the swap template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not the swap {what} template: {why}")]
pub struct TemplateError {
    /// Which template.
    pub what: &'static str,
    /// Where it differs.
    pub why: String,
}

/// The terms read back out of a P2WSH swap script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedP2wsh {
    /// `RIPEMD160(payment_hash)`.
    pub hash160: [u8; 20],
    /// The claim key.
    pub claim_pubkey: PublicKey,
    /// The refund key.
    pub refund_pubkey: PublicKey,
    /// The timeout.
    pub timeout: Height,
}

fn pushes<'a>(
    script: &'a ScriptBuf,
    what: &'static str,
) -> Result<Vec<Instruction<'a>>, TemplateError> {
    script
        .instructions()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TemplateError {
            what,
            why: format!("the script does not parse ({e})"),
        })
}

fn push_at<'a>(
    ins: &[Instruction<'a>],
    i: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], TemplateError> {
    match ins.get(i) {
        Some(Instruction::PushBytes(p)) if p.len() == len => Ok(p.as_bytes()),
        _ => Err(TemplateError {
            what,
            why: format!("item {i} should be a {len}-byte push"),
        }),
    }
}

fn height_at(
    ins: &[Instruction<'_>],
    i: usize,
    what: &'static str,
) -> Result<Height, TemplateError> {
    let bad = |why: &str| TemplateError {
        what,
        why: format!("item {i} should be the timeout: {why}"),
    };
    let n = match ins.get(i) {
        Some(Instruction::PushBytes(p)) => {
            bitcoin::script::read_scriptint(p.as_bytes()).map_err(|_| bad("not a number"))?
        }
        // OP_1 … OP_16 push the numbers 1 … 16.
        Some(Instruction::Op(op)) if (0x51..=0x60).contains(&op.to_u8()) => {
            i64::from(op.to_u8() - 0x50)
        }
        Some(Instruction::Op(_)) => return Err(bad("not a number")),
        None => return Err(bad("missing")),
    };
    u32::try_from(n)
        .ok()
        .and_then(|n| Height::from_consensus(n).ok())
        .ok_or_else(|| bad(&format!("{n} is not a block height")))
}

fn pubkey(bytes: &[u8], what: &'static str) -> Result<PublicKey, TemplateError> {
    PublicKey::from_slice(bytes).map_err(|_| TemplateError {
        what,
        why: "a key is not a valid point".into(),
    })
}

fn xonly(bytes: &[u8], what: &'static str) -> Result<XOnlyPublicKey, TemplateError> {
    XOnlyPublicKey::from_slice(bytes).map_err(|_| TemplateError {
        what,
        why: "a key is not a valid x-only point".into(),
    })
}

/// Read the terms out of a P2WSH swap script: the values are taken from
/// their places, the script is rebuilt from them, and only an exact
/// byte-for-byte match is accepted — so no extra branch or opcode can hide.
pub fn parse_p2wsh(script: &ScriptBuf) -> Result<ParsedP2wsh, TemplateError> {
    const WHAT: &str = "P2WSH script";
    let ins = pushes(script, WHAT)?;
    let hash160: [u8; 20] = push_at(&ins, 5, 20, WHAT)?.try_into().expect("20 bytes");
    let claim_pubkey = pubkey(push_at(&ins, 7, 33, WHAT)?, WHAT)?;
    let timeout = height_at(&ins, 10, WHAT)?;
    let refund_pubkey = pubkey(push_at(&ins, 13, 33, WHAT)?, WHAT)?;
    let parsed = ParsedP2wsh {
        hash160,
        claim_pubkey,
        refund_pubkey,
        timeout,
    };
    let rebuilt = p2wsh_template(hash160, &claim_pubkey, timeout, &refund_pubkey);
    if rebuilt != *script {
        return Err(TemplateError {
            what: WHAT,
            why: format!("expected {}", rebuilt.to_asm_string()),
        });
    }
    Ok(parsed)
}

/// Read `(RIPEMD160(payment_hash), claim key)` out of a claim leaf (exact match).
pub fn parse_claim_leaf(leaf: &ScriptBuf) -> Result<([u8; 20], XOnlyPublicKey), TemplateError> {
    const WHAT: &str = "claim leaf";
    let ins = pushes(leaf, WHAT)?;
    let hash160: [u8; 20] = push_at(&ins, 4, 20, WHAT)?.try_into().expect("20 bytes");
    let key = xonly(push_at(&ins, 6, 32, WHAT)?, WHAT)?;
    let rebuilt = claim_leaf(hash160, key);
    if rebuilt != *leaf {
        return Err(TemplateError {
            what: WHAT,
            why: format!("expected {}", rebuilt.to_asm_string()),
        });
    }
    Ok((hash160, key))
}

/// Read `(refund key, timeout)` out of a refund leaf (exact match).
pub fn parse_refund_leaf(leaf: &ScriptBuf) -> Result<(XOnlyPublicKey, Height), TemplateError> {
    const WHAT: &str = "refund leaf";
    let ins = pushes(leaf, WHAT)?;
    let key = xonly(push_at(&ins, 0, 32, WHAT)?, WHAT)?;
    let timeout = height_at(&ins, 2, WHAT)?;
    let rebuilt = refund_leaf(key, timeout);
    if rebuilt != *leaf {
        return Err(TemplateError {
            what: WHAT,
            why: format!("expected {}", rebuilt.to_asm_string()),
        });
    }
    Ok((key, timeout))
}
