//! The swap library (`lnkit::swap`): every claim, refund and cooperative
//! spend it builds is checked by Bitcoin Core's script interpreter against
//! the lockup output, for P2WSH and P2TR — and each way a spend must fail
//! (wrong or oversized preimage, refund before the timeout) fails there too.

use bitcoin::absolute::{Height, LockTime};
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, FeeRate, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};
use lnkit::payment::PaymentPreimage;
use lnkit::swap::chain::{Chain, ChainParams};
use lnkit::swap::contract::{self, Contract, Lock, OutputType, SwapTerms};
use lnkit::swap::musig::{KeyOrder, Session};
use lnkit::swap::spend::{self, Path, SpendError, SpendRequest};
use lnkit::swap::timeout::{self, LightningTerms, TimeoutError};
use lnkit::swap::verify::{self, Expectations, Offer, OfferedLock};
use lnkit::swap::SwapKind;
use lnkit::verify::verify_transaction;
use proptest::prelude::*;

const TIMEOUT: u32 = 800_100;
const CLAIM: [u8; 32] = [0x51; 32];
const REFUND: [u8; 32] = [0x52; 32];
const PREIMAGE: [u8; 32] = [0x77; 32];

fn key(b: [u8; 32]) -> SecretKey {
    SecretKey::from_slice(&b).unwrap()
}

fn terms() -> SwapTerms {
    let secp = Secp256k1::new();
    SwapTerms {
        payment_hash: PaymentPreimage(PREIMAGE).payment_hash(),
        claim_pubkey: PublicKey::from_secret_key(&secp, &key(CLAIM)),
        refund_pubkey: PublicKey::from_secret_key(&secp, &key(REFUND)),
        timeout: Height::from_consensus(TIMEOUT).unwrap(),
    }
}

fn contract(output_type: OutputType) -> Contract {
    Contract::new(&Secp256k1::new(), terms(), output_type, KeyOrder::Sorted)
}

/// A lockup transaction paying the swap (its own input is not checked here:
/// only the swap output is spent).
fn lockup(c: &Contract, sat: u64) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(Txid::from_byte_array([9; 32]), 1),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(12_345),
                script_pubkey: ScriptBuf::new_op_return([1, 2, 3]),
            },
            TxOut {
                value: Amount::from_sat(sat),
                script_pubkey: c.script_pubkey(),
            },
        ],
    }
}

fn destination() -> ScriptBuf {
    ScriptBuf::from_hex("0014a4ba6fbd6ba4bc9da1a87e7b8f1b0ba9c9c0c9a1").unwrap()
}

fn request<'a>(c: &'a Contract, tx: &'a Transaction) -> SpendRequest<'a> {
    SpendRequest {
        contract: c,
        lockup_tx: tx,
        destination: destination(),
        feerate: FeeRate::from_sat_per_vb(3).unwrap(),
        expected_amount: None,
    }
}

fn claim(c: &Contract, tx: &Transaction) -> spend::Spend {
    let secp = Secp256k1::new();
    let preimage = PaymentPreimage(PREIMAGE);
    spend::build(
        &secp,
        &request(c, tx),
        Path::Claim {
            preimage: &preimage,
            key: &key(CLAIM),
        },
    )
    .unwrap()
}

fn refund_at(c: &Contract, tx: &Transaction, lock_time: u32) -> spend::Spend {
    let secp = Secp256k1::new();
    let path = Path::Refund {
        key: &key(REFUND),
        lock_time: Height::from_consensus(lock_time).unwrap(),
    };
    spend::build(&secp, &request(c, tx), path).unwrap()
}

const TYPES: [OutputType; 2] = [OutputType::P2wsh, OutputType::P2tr];

#[test]
fn claims_and_refunds_pass_the_interpreter() {
    for t in TYPES {
        let c = contract(t);
        let tx = lockup(&c, 100_000);
        let claimed = claim(&c, &tx);
        verify_transaction(&claimed.tx, std::slice::from_ref(&claimed.prevout))
            .unwrap_or_else(|e| panic!("{t:?} claim: {e}"));
        assert_eq!(claimed.tx.input[0].previous_output.vout, 1);
        assert_eq!(claimed.tx.lock_time, LockTime::ZERO);
        // The fee is the feerate times the predicted size, which a real
        // signature never exceeds.
        assert_eq!(claimed.fee.to_sat(), 3 * claimed.vsize);
        assert!(claimed.tx.vsize() as u64 <= claimed.vsize);
        assert_eq!(
            claimed.tx.output[0].value.to_sat(),
            100_000 - claimed.fee.to_sat()
        );

        let refunded = refund_at(&c, &tx, TIMEOUT);
        verify_transaction(&refunded.tx, std::slice::from_ref(&refunded.prevout))
            .unwrap_or_else(|e| panic!("{t:?} refund: {e}"));
        assert_eq!(refunded.tx.lock_time.to_consensus_u32(), TIMEOUT);
        assert!(refunded.tx.input[0].sequence.enables_absolute_lock_time());
    }
}

#[test]
fn a_refund_before_the_timeout_fails_the_interpreter() {
    for t in TYPES {
        let c = contract(t);
        let tx = lockup(&c, 100_000);
        let early = refund_at(&c, &tx, TIMEOUT - 1);
        let err = verify_transaction(&early.tx, std::slice::from_ref(&early.prevout)).unwrap_err();
        assert!(err.to_string().contains("rejected"), "{t:?}: {err}");
        // A final nSequence switches nLockTime off, and CLTV with it.
        let mut final_seq = refund_at(&c, &tx, TIMEOUT);
        final_seq.tx.input[0].sequence = Sequence::MAX;
        assert!(
            verify_transaction(&final_seq.tx, &[final_seq.prevout]).is_err(),
            "{t:?}"
        );
    }
}

/// Swap the preimage inside a valid claim's witness: the signature still
/// covers the transaction (BIP 143/341 sign no witness), so only the
/// hashlock and size check can stop it.
fn with_preimage(claimed: &spend::Spend, preimage: &[u8]) -> Transaction {
    let mut tx = claimed.tx.clone();
    let items: Vec<Vec<u8>> = tx.input[0].witness.iter().map(<[u8]>::to_vec).collect();
    let mut w = Witness::new();
    for (i, item) in items.iter().enumerate() {
        if i == 1 {
            w.push(preimage);
        } else {
            w.push(item);
        }
    }
    tx.input[0].witness = w;
    tx
}

#[test]
fn a_wrong_or_oversized_preimage_fails_the_interpreter() {
    for t in TYPES {
        let c = contract(t);
        let tx = lockup(&c, 100_000);
        let claimed = claim(&c, &tx);
        let wrong = with_preimage(&claimed, &[0x78; 32]);
        assert!(
            verify_transaction(&wrong, std::slice::from_ref(&claimed.prevout)).is_err(),
            "{t:?}"
        );
        // 33 bytes: the OP_SIZE 32 check. (No 33-byte preimage of the hash is
        // known, so this shows the size check rejects before any hashing.)
        let mut long = PREIMAGE.to_vec();
        long.push(0);
        let oversized = with_preimage(&claimed, &long);
        assert!(
            verify_transaction(&oversized, std::slice::from_ref(&claimed.prevout)).is_err(),
            "{t:?}"
        );
        // The untouched claim still passes, so the failures are the preimage's.
        verify_transaction(&claimed.tx, std::slice::from_ref(&claimed.prevout)).unwrap();
    }
}

#[test]
fn the_library_refuses_what_would_not_verify() {
    let secp = Secp256k1::new();
    let c = contract(OutputType::P2wsh);
    let tx = lockup(&c, 100_000);
    let wrong = PaymentPreimage([0x78; 32]);
    let err = spend::build(
        &secp,
        &request(&c, &tx),
        Path::Claim {
            preimage: &wrong,
            key: &key(CLAIM),
        },
    )
    .unwrap_err();
    assert!(matches!(err, SpendError::WrongPreimage { .. }), "{err}");
    let right = PaymentPreimage(PREIMAGE);
    let err = spend::build(
        &secp,
        &request(&c, &tx),
        Path::Claim {
            preimage: &right,
            key: &key(REFUND),
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, SpendError::WrongKey { role: "claim", .. }),
        "{err}"
    );
    let other = contract(OutputType::P2tr);
    let err = spend::build(
        &secp,
        &request(&other, &tx),
        Path::Claim {
            preimage: &right,
            key: &key(CLAIM),
        },
    )
    .unwrap_err();
    assert!(matches!(err, SpendError::NotPaid { .. }), "{err}");
    let dusty = lockup(&c, 600);
    let err = spend::build(
        &secp,
        &request(&c, &dusty),
        Path::Claim {
            preimage: &right,
            key: &key(CLAIM),
        },
    )
    .unwrap_err();
    assert!(matches!(err, SpendError::TooSmall { .. }), "{err}");
    let err = spend::build(&secp, &request(&c, &tx), Path::KeyPath).unwrap_err();
    assert_eq!(err, SpendError::NoKeyPath);
    let mut short = request(&c, &tx);
    short.expected_amount = Some(Amount::from_sat(100_001));
    let err = spend::build(
        &secp,
        &short,
        Path::Claim {
            preimage: &right,
            key: &key(CLAIM),
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        SpendError::AmountMismatch {
            paid: 100_000,
            expected: 100_001
        }
    );
}

fn cooperative(c: &Contract, tx: &Transaction) -> (spend::Spend, Session) {
    let secp = Secp256k1::new();
    let mut unsigned = spend::build(&secp, &request(c, tx), Path::KeyPath).unwrap();
    let session = c.musig_session(unsigned.sighash).unwrap();
    let (claim_sec, claim_pub) = session.nonce(&secp, &key(CLAIM), [1; 32]).unwrap();
    let (refund_sec, refund_pub) = session.nonce(&secp, &key(REFUND), [2; 32]).unwrap();
    let nonces = [claim_pub, refund_pub];
    let partials = [
        session
            .sign(&secp, &key(CLAIM), claim_sec, &nonces)
            .unwrap(),
        session
            .sign(&secp, &key(REFUND), refund_sec, &nonces)
            .unwrap(),
    ];
    let sig = session.aggregate(&nonces, &partials).unwrap();
    spend::finish_key_path(&mut unsigned, sig);
    (unsigned, session)
}

#[test]
fn the_musig2_key_path_passes_the_interpreter_in_every_key_order() {
    for order in KeyOrder::ALL {
        let c = Contract::new(&Secp256k1::new(), terms(), OutputType::P2tr, order);
        let tx = lockup(&c, 100_000);
        let (signed, session) = cooperative(&c, &tx);
        verify_transaction(&signed.tx, std::slice::from_ref(&signed.prevout))
            .unwrap_or_else(|e| panic!("{order:?}: {e}"));
        // One 64-byte signature: the cheapest spend, indistinguishable from a single-key payment.
        assert_eq!(signed.tx.input[0].witness.len(), 1);
        assert_eq!(signed.tx.input[0].witness.nth(0).unwrap().len(), 64);
        // The session's tweaked key is the output key the address commits to.
        let Lock::P2tr(tree) = &c.lock else {
            unreachable!()
        };
        assert_eq!(
            session.output_key().x_only_public_key().0,
            tree.spend_info.output_key().to_x_only_public_key()
        );
    }
}

#[test]
fn a_bad_partial_signature_is_named() {
    let secp = Secp256k1::new();
    let c = contract(OutputType::P2tr);
    let tx = lockup(&c, 100_000);
    let unsigned = spend::build(&secp, &request(&c, &tx), Path::KeyPath).unwrap();
    let session = c.musig_session(unsigned.sighash).unwrap();
    let (cs, cp) = session.nonce(&secp, &key(CLAIM), [1; 32]).unwrap();
    let (rs, rp) = session.nonce(&secp, &key(REFUND), [2; 32]).unwrap();
    let nonces = [cp, rp];
    let good = session.sign(&secp, &key(CLAIM), cs, &nonces).unwrap();
    let _ = rs;
    // The refund side "signs" with the claim side's partial signature.
    let err = session.aggregate(&nonces, &[good, good]).unwrap_err();
    assert_eq!(
        err.to_string().split(':').next().unwrap(),
        "partial_signatures.refund"
    );
    let stranger = key([0x53; 32]);
    assert!(session.nonce(&secp, &stranger, [3; 32]).is_err());
}

/// The documented byte layouts, spelled out opcode by opcode.
#[test]
fn scripts_match_their_documented_byte_layouts() {
    let t = terms();
    let h160 = hex::encode(t.hash160());
    let claim = hex::encode(t.claim_pubkey.serialize());
    let refund = hex::encode(t.refund_pubkey.serialize());
    // 800100 = 0x0c3564, a 3-byte little-endian script number.
    let timeout = "03".to_string() + "64350c";
    let p2wsh = "82012087".to_string() /* OP_SIZE 32 OP_EQUAL */ + "63a914" /* OP_IF OP_HASH160 push20 */
        + &h160 + "8821" /* OP_EQUALVERIFY push33 */ + &claim + "6775" /* OP_ELSE OP_DROP */ + &timeout
        + "b17521" /* OP_CLTV OP_DROP push33 */ + &refund + "68ac" /* OP_ENDIF OP_CHECKSIG */;
    assert_eq!(hex::encode(contract::p2wsh_script(&t).as_bytes()), p2wsh);
    // RIPEMD160(payment_hash) is HASH160(preimage).
    let h = bitcoin::hashes::hash160::Hash::hash(&PREIMAGE);
    assert_eq!(h.to_byte_array(), t.hash160());

    let xclaim = hex::encode(t.claim_pubkey.x_only_public_key().0.serialize());
    let xrefund = hex::encode(t.refund_pubkey.x_only_public_key().0.serialize());
    let claim_leaf = "82012088a914".to_string() /* OP_SIZE 32 OP_EQUALVERIFY OP_HASH160 push20 */ + &h160 + "8820" + &xclaim + "ac";
    let refund_leaf = "20".to_string() + &xrefund + "ad" /* OP_CHECKSIGVERIFY */ + &timeout + "b1";
    let c = contract(OutputType::P2tr);
    let Lock::P2tr(tree) = &c.lock else {
        unreachable!()
    };
    assert_eq!(hex::encode(tree.claim_leaf.as_bytes()), claim_leaf);
    assert_eq!(hex::encode(tree.refund_leaf.as_bytes()), refund_leaf);
    // The parsers read back exactly what the builders wrote, and nothing else.
    let parsed = contract::parse_p2wsh(&contract::p2wsh_script(&t)).unwrap();
    assert_eq!(
        (parsed.claim_pubkey, parsed.refund_pubkey, parsed.timeout),
        (t.claim_pubkey, t.refund_pubkey, t.timeout)
    );
    let mut extra = contract::p2wsh_script(&t).into_bytes();
    extra.push(0x75);
    assert!(contract::parse_p2wsh(&ScriptBuf::from_bytes(extra)).is_err());
    assert_eq!(
        contract::parse_refund_leaf(&tree.refund_leaf).unwrap().1,
        t.timeout
    );
    assert_eq!(
        contract::parse_claim_leaf(&tree.claim_leaf).unwrap().0,
        t.hash160()
    );
}

#[test]
fn timeout_rules() {
    let h = |n| Height::from_consensus(n).unwrap();
    assert_eq!(timeout::blocks_left(h(110), h(100)), Ok(10));
    assert!(timeout::refund_open(h(110), h(110)).is_ok());
    assert!(matches!(
        timeout::refund_open(h(110), h(109)),
        Err(TimeoutError::RefundNotYet {
            timeout: 110,
            current: 109
        })
    ));
    // Submarine: the lockup covers the invoice (the rest is the service's fee).
    assert!(lnkit::swap::check_submarine_amount(
        Amount::from_sat(1000),
        lnkit::amount::Msat(1_000_000)
    )
    .is_ok());
    assert!(lnkit::swap::check_submarine_amount(
        Amount::from_sat(999),
        lnkit::amount::Msat(999_001)
    )
    .is_err());
    assert!(matches!(
        timeout::blocks_left(h(100), h(100)),
        Err(TimeoutError::InPast { .. })
    ));
    let ln = LightningTerms {
        min_final_cltv_expiry_delta: 80,
        expires_at: Some(1_000_000),
    };
    // Submarine: at least cltv + margin blocks, and the invoice gone before the refund.
    assert!(timeout::check_lightning(SwapKind::Submarine, 86, &ln, 6, 600, 990_000).is_ok());
    assert!(matches!(
        timeout::check_lightning(SwapKind::Submarine, 85, &ln, 6, 600, 990_000),
        Err(TimeoutError::ShorterThanCltv { needed: 86, .. })
    ));
    assert!(matches!(
        timeout::check_lightning(SwapKind::Submarine, 86, &ln, 6, 600, 900_000),
        Err(TimeoutError::InvoiceOutlivesLock { .. })
    ));
    // Reverse: expires a margin before the HTLC, and leaves the margin to claim.
    assert!(timeout::check_lightning(SwapKind::Reverse, 74, &ln, 6, 600, 0).is_ok());
    assert!(matches!(
        timeout::check_lightning(SwapKind::Reverse, 75, &ln, 6, 600, 0),
        Err(TimeoutError::LongerThanCltv { .. })
    ));
    assert!(matches!(
        timeout::check_lightning(SwapKind::Reverse, 5, &ln, 6, 600, 0),
        Err(TimeoutError::TooShortToClaim { .. })
    ));
    // Chain: compared in time. 288 Bitcoin blocks (48 h) against 576 Litecoin blocks (24 h).
    let btc = ChainParams::new(Chain::Bitcoin, Network::Bitcoin).unwrap();
    let ltc = ChainParams::new(Chain::Litecoin, Network::Bitcoin).unwrap();
    assert_eq!(
        timeout::check_cross_chain(btc, 288, ltc, 576, 86_400),
        Ok(86_400)
    );
    // More blocks on leg B than on leg A, yet leg A lasts longer in time.
    assert!(timeout::check_cross_chain(btc, 200, ltc, 400, 3_600).is_ok());
    // The same block counts the other way round fail.
    assert!(matches!(
        timeout::check_cross_chain(ltc, 288, btc, 144, 86_400),
        Err(TimeoutError::CrossChainMargin { .. })
    ));
}

fn offer(c: &Contract, tx: Option<Transaction>) -> Offer {
    let lock = match &c.lock {
        Lock::P2wsh(s) => OfferedLock::P2wsh {
            redeem_script: s.clone(),
        },
        Lock::P2tr(t) => OfferedLock::P2tr {
            claim_leaf: t.claim_leaf.clone(),
            refund_leaf: t.refund_leaf.clone(),
            internal_key: t.internal_key,
        },
    };
    let chain = ChainParams::new(Chain::Bitcoin, Network::Regtest).unwrap();
    Offer {
        lock,
        address: chain.address(&c.script_pubkey()).unwrap(),
        timeout: c.terms.timeout,
        expected_amount: Some(Amount::from_sat(100_000)),
        lockup_tx: tx,
    }
}

fn expectations() -> Expectations {
    let t = terms();
    Expectations {
        kind: SwapKind::Reverse,
        payment_hash: t.payment_hash,
        claim_pubkey: t.claim_pubkey,
        refund_pubkey: t.refund_pubkey,
        chain: ChainParams::new(Chain::Bitcoin, Network::Regtest).unwrap(),
        current_height: Height::from_consensus(TIMEOUT - 50).unwrap(),
        lightning: Some(LightningTerms {
            min_final_cltv_expiry_delta: 80,
            expires_at: None,
        }),
        invoice_hash: Some(t.payment_hash),
        margin_blocks: 6,
        now: 0,
    }
}

fn failed(r: &verify::Report) -> Vec<&'static str> {
    r.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect()
}

#[test]
fn verify_passes_an_honest_lockup_and_names_each_mistake() {
    let secp = Secp256k1::new();
    for t in TYPES {
        let c = contract(t);
        let tx = lockup(&c, 100_000);
        let honest = verify::verify(&secp, &offer(&c, Some(tx.clone())), &expectations());
        assert!(honest.ok(), "{t:?}: {:?}", honest.checks);

        // Another hash: the script and the address both betray it.
        let mut e = expectations();
        e.payment_hash = PaymentPreimage([0x78; 32]).payment_hash();
        let r = verify::verify(&secp, &offer(&c, None), &e);
        assert_eq!(
            failed(&r),
            ["hashlock", "address", "invoice_payment_hash"],
            "{t:?}"
        );

        // The service claims one timeout and scripts another.
        let mut o = offer(&c, None);
        o.timeout = Height::from_consensus(TIMEOUT + 10).unwrap();
        let r = verify::verify(&secp, &o, &expectations());
        assert!(
            failed(&r).starts_with(&["timeout"]),
            "{t:?}: {:?}",
            failed(&r)
        );

        // The claim key is not ours.
        let mut e = expectations();
        e.claim_pubkey = PublicKey::from_secret_key(&secp, &key([0x53; 32]));
        let r = verify::verify(&secp, &offer(&c, None), &e);
        assert!(
            failed(&r).contains(&"claim_key") && failed(&r).contains(&"address"),
            "{t:?}"
        );

        // Too late, too short for the invoice, wrong amount, not paid.
        let mut e = expectations();
        e.current_height = Height::from_consensus(TIMEOUT).unwrap();
        assert_eq!(
            failed(&verify::verify(&secp, &offer(&c, None), &e)),
            ["timeout_in_future"]
        );
        let mut e = expectations();
        e.lightning = Some(LightningTerms {
            min_final_cltv_expiry_delta: 40,
            expires_at: None,
        });
        assert_eq!(
            failed(&verify::verify(&secp, &offer(&c, None), &e)),
            ["timeout_margin"]
        );
        let mut o = offer(&c, Some(lockup(&c, 99_999)));
        assert_eq!(
            failed(&verify::verify(&secp, &o, &expectations())),
            ["amount"]
        );
        o.lockup_tx = Some(lockup(
            &contract(if t == OutputType::P2wsh {
                OutputType::P2tr
            } else {
                OutputType::P2wsh
            }),
            100_000,
        ));
        assert_eq!(
            failed(&verify::verify(&secp, &o, &expectations())),
            ["lockup_output"]
        );

        // An address on another network.
        let mut o = offer(&c, None);
        o.address = ChainParams::new(Chain::Bitcoin, Network::Bitcoin)
            .unwrap()
            .address(&c.script_pubkey())
            .unwrap();
        assert_eq!(
            failed(&verify::verify(&secp, &o, &expectations())),
            ["address"]
        );
    }
}

#[test]
fn verify_names_an_internal_key_that_is_not_the_aggregate() {
    let secp = Secp256k1::new();
    let c = contract(OutputType::P2tr);
    let mut o = offer(&c, None);
    let OfferedLock::P2tr { internal_key, .. } = &mut o.lock else {
        unreachable!()
    };
    // The service's own key alone as the internal key: it could spend alone.
    *internal_key = terms().claim_pubkey.x_only_public_key().0;
    let r = verify::verify(&secp, &o, &expectations());
    assert_eq!(failed(&r), ["internal_key"]);
    // ...and the address it would really ask to be paid commits to that key.
    let OfferedLock::P2tr {
        internal_key,
        claim_leaf,
        refund_leaf,
    } = &o.lock
    else {
        unreachable!()
    };
    let theirs = contract::TapTree::new(
        &secp,
        claim_leaf.clone(),
        refund_leaf.clone(),
        *internal_key,
        KeyOrder::Sorted,
    );
    let spk = ScriptBuf::new_p2tr_tweaked(theirs.spend_info.output_key());
    o.address = ChainParams::new(Chain::Bitcoin, Network::Regtest)
        .unwrap()
        .address(&spk)
        .unwrap();
    assert_eq!(
        failed(&verify::verify(&secp, &o, &expectations())),
        ["internal_key", "address"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any preimage but the right one fails the interpreter.
    #[test]
    fn any_other_preimage_fails(p in any::<[u8; 32]>(), taproot in any::<bool>()) {
        prop_assume!(p != PREIMAGE);
        let c = contract(if taproot { OutputType::P2tr } else { OutputType::P2wsh });
        let tx = lockup(&c, 100_000);
        let claimed = claim(&c, &tx);
        prop_assert!(verify_transaction(&with_preimage(&claimed, &p), std::slice::from_ref(&claimed.prevout)).is_err());
    }

    /// The refund key cannot take the coins before the timeout, at any earlier locktime.
    #[test]
    fn an_early_refund_fails(before in 1u32..500_000, taproot in any::<bool>()) {
        let c = contract(if taproot { OutputType::P2tr } else { OutputType::P2wsh });
        let tx = lockup(&c, 100_000);
        let early = refund_at(&c, &tx, TIMEOUT - before);
        prop_assert!(verify_transaction(&early.tx, std::slice::from_ref(&early.prevout)).is_err());
    }
}

proptest! {
    /// A service's script is untrusted bytes: the readers never panic, and
    /// whatever they accept rebuilds to the very same bytes. Random bytes,
    /// and real scripts with one byte changed (which mostly still parse).
    #[test]
    fn script_readers_take_any_bytes(
        random in proptest::collection::vec(any::<u8>(), 0..120),
        which in 0usize..3,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let c = contract(OutputType::P2tr);
        let Lock::P2tr(tree) = &c.lock else { unreachable!() };
        let mut real = [contract::p2wsh_script(&terms()), tree.claim_leaf.clone(), tree.refund_leaf.clone()][which].to_bytes();
        let i = at.index(real.len());
        real[i] = byte;
        for bytes in [random, real] {
            let script = ScriptBuf::from_bytes(bytes);
            if let Ok(p) = contract::parse_p2wsh(&script) {
                // HASH160 is at bytes 7..27 of the template.
                let t = SwapTerms { claim_pubkey: p.claim_pubkey, refund_pubkey: p.refund_pubkey, timeout: p.timeout, ..terms() };
                let mut rebuilt = contract::p2wsh_script(&t).into_bytes();
                rebuilt[7..27].copy_from_slice(&p.hash160);
                prop_assert_eq!(rebuilt, script.to_bytes());
            }
            if let Ok((h, k)) = contract::parse_claim_leaf(&script) {
                prop_assert_eq!(contract::claim_leaf(h, k), script.clone());
            }
            if let Ok((k, t)) = contract::parse_refund_leaf(&script) {
                prop_assert_eq!(contract::refund_leaf(k, t), script);
            }
        }
    }
}
