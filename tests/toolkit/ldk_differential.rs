//! Differential test against rust-lightning: for random states, lnkit's
//! commitment transaction is byte-identical to the one LDK's public
//! `chan_utils::CommitmentTransaction` builds from lnkit's untrimmed HTLCs and
//! output amounts (LDK leaves trimming and fees to its caller).

use bitcoin::consensus::encode::serialize;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Amount, OutPoint, Txid};
use lightning::ln::chan_utils as ldk;
use lightning::types::features::ChannelTypeFeatures;
use lnkit::amount::Msat;
use lnkit::keys::*;
use lnkit::payment::{CltvExpiry, PaymentHash};
use lnkit::shachain::CommitmentNumber;
use lnkit::tx::commitment::*;
use proptest::prelude::*;

fn pk(b: u8) -> PublicKey {
    PublicKey::from_secret_key(
        &Secp256k1::signing_only(),
        &SecretKey::from_slice(&[b; 32]).unwrap(),
    )
}

fn ldk_keys(base: u8) -> ldk::ChannelPublicKeys {
    ldk::ChannelPublicKeys {
        funding_pubkey: pk(base),
        revocation_basepoint: pk(base + 1).into(),
        payment_point: pk(base + 2),
        delayed_payment_basepoint: pk(base + 3).into(),
        htlc_basepoint: pk(base + 4).into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn lnkit_and_ldk_build_the_same_commitment(
        anchors in any::<bool>(),
        holder_is_opener in any::<bool>(),
        n in 0u64..1_000_000,
        htlcs in proptest::collection::vec((any::<bool>(), 1u64..30_000_000, 100u32..200, 0u8..4), 0..40),
        feerate in 253u32..10_000,
        local_share in 0u64..=100,
        point_byte in 1u8..200,
    ) {
        let secp = Secp256k1::new();
        let channel_type = if anchors { ChannelType::AnchorsZeroFeeHtlcTx } else { ChannelType::StaticRemotekey };
        let funding_sat = 50_000_000u64;
        let in_htlcs: u64 = htlcs.iter().map(|h| h.1).sum();
        let rest = funding_sat * 1000 - in_htlcs;
        let holder_msat = rest / 100 * local_share;
        let point = PerCommitmentPoint(pk(point_byte));
        let keys = CommitmentKeys::derive(
            &secp,
            &point,
            &HolderBasepoints { delayed_payment: DelayedPaymentBasepoint(pk(13)), htlc: HtlcBasepoint(pk(14)) },
            &CounterpartyBasepoints { revocation: RevocationBasepoint(pk(21)), payment: PaymentBasepoint(pk(22)), htlc: HtlcBasepoint(pk(24)) },
            channel_type,
        ).unwrap();
        let ours: Vec<Htlc> = htlcs.iter().map(|(offered, msat, cltv, h)| Htlc {
            direction: if *offered { HtlcDirection::Offered } else { HtlcDirection::Received },
            amount: Msat(*msat),
            // Few distinct hashes, so equal scripts (and the CLTV tie-break) occur.
            payment_hash: PaymentHash([*h; 32]),
            cltv_expiry: CltvExpiry(*cltv),
        }).collect();
        let (opener, accepter) = if holder_is_opener { (pk(12), pk(22)) } else { (pk(22), pk(12)) };
        let params = CommitmentParams {
            funding_outpoint: OutPoint::new(Txid::from_byte_array([3; 32]), 1),
            funding_amount: Amount::from_sat(funding_sat),
            holder_funding_pubkey: pk(10),
            counterparty_funding_pubkey: pk(20),
            channel_type,
            holder_is_opener,
            obscuring_factor: obscuring_factor(&opener, &accepter),
            commitment_number: CommitmentNumber(n),
            to_self_delay: 144,
            dust_limit: Amount::from_sat(546),
            feerate: FeeratePerKw(feerate),
            holder_balance: Msat(holder_msat),
            counterparty_balance: Msat(rest - holder_msat),
            htlcs: &ours,
            keys,
        };
        let built = build_commitment(&params);
        prop_assume!(built.as_ref().is_ok_and(|b| b.opener_shortfall.is_none()));
        let built = built.unwrap();

        let amount_of = |k| built.outputs.iter().find(|o| o.kind == k).map(|o| o.amount.to_sat()).unwrap_or(0);
        let nondust = built.outputs.iter().filter_map(|o| o.htlc).map(|i| {
            let h = &ours[i];
            ldk::HTLCOutputInCommitment {
                offered: h.direction == HtlcDirection::Offered,
                amount_msat: h.amount.0,
                cltv_expiry: h.cltv_expiry.0,
                payment_hash: lightning::types::payment::PaymentHash(h.payment_hash.0),
                transaction_output_index: None,
            }
        }).collect();
        let ldk_params = ldk::ChannelTransactionParameters {
            holder_pubkeys: ldk_keys(10),
            holder_selected_contest_delay: 144,
            is_outbound_from_holder: holder_is_opener,
            counterparty_parameters: Some(ldk::CounterpartyChannelTransactionParameters { pubkeys: ldk_keys(20), selected_contest_delay: 144 }),
            funding_outpoint: Some(lightning::chain::transaction::OutPoint { txid: Txid::from_byte_array([3; 32]), index: 1 }),
            splice_parent_funding_txid: None,
            channel_type_features: if anchors { ChannelTypeFeatures::anchors_zero_htlc_fee_and_dependencies() } else { ChannelTypeFeatures::only_static_remote_key() },
            channel_value_satoshis: funding_sat,
        };
        // The parameters are those of the counterparty's (20..24) commitment when it broadcasts, so
        // the holder (10..14) broadcasts with as_holder_broadcastable. LDK counts numbers down.
        let theirs = ldk::CommitmentTransaction::new(
            (1 << 48) - 1 - n, &point.0, amount_of(OutputKind::ToLocal), amount_of(OutputKind::ToRemote), feerate, nondust,
            &ldk_params.as_holder_broadcastable(), &secp,
        );
        prop_assert_eq!(serialize(&built.tx), serialize(&theirs.trust().built_transaction().transaction));
    }
}
