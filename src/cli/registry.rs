//! The list of typed steps: each subcommand's request parts, response and
//! example (see [`super::step`] for what is made of it).

use super::carried::Carried;
use super::chain_types as chain;
use super::factory::types as factory;
use super::invoice_types as invoice;
use super::onion_failure;
use super::step::{schema_value, steps, StepDoc};
use super::swap::{
    create as swap_create, lockup as swap_lockup, musig as swap_musig, spend as swap_spend,
    terms as swap_terms, verify as swap_verify, HashIn,
};
use super::tower_types as tower;
use super::{amp_types as amp, graph, graph_fields, rebalance, route_types};
use super::{blinded_path, bump, onion, walk};
use super::{
    build_funding, gossip_types as gossip, htlc_script, keys, onion_error, revoke, shachain, tlv,
    transport as noise,
};
use super::{channel_fields as ch, close_types, commitment_types as commitment};
use super::{connect, wire, wire_json};
use crate::schema;

/// A reverse swap locked: the start of the spend steps' examples.
macro_rules! locked {
    () => {
        "lnkit swap create -i docs/examples/swap-reverse.json | lnkit swap lockup -i - -i docs/examples/swap-lockup-wallet.json"
    };
}

/// BOLT 8's Appendix A keys through act one, two and three.
macro_rules! handshake {
    () => {
        "lnkit transport act1 -i docs/examples/bolt8-keys.json | lnkit transport act2 | lnkit transport act3"
    };
}

/// A fresh embedded regtest chain with one block mined to the key 11…11.
macro_rules! mined {
    () => {
        "t=$(mktemp -d) && lnkit chain --chain-dir $t mine 1 --to bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw"
    };
}

/// A fee_insufficient failure made at hop 2 and wrapped at hop 1 (BOLT 4's test route).
macro_rules! failed {
    () => {
        "lnkit onion-error create -i docs/examples/onion-failure.json | lnkit onion-error wrap --set shared_secret=a6519e98832a0b179f62123b3567c106db99ee37bef036e783263602f3488fae --set hold_time=2"
    };
}

/// Appendix C's commitment breached, its penalty handed to a tower.
macro_rules! appointed {
    () => {
        "lnkit build-commitment -i docs/examples/appendix-c-seven-outputs.json | lnkit penalty --set revocation_basepoint_secret=2222222222222222222222222222222222222222222222222222222222222222 --set destination=0014cc1b07838e387deacd0e5232e1e8b49f4c29e484 --set feerate_per_kw=2500 | lnkit tower appointment"
    };
}

/// A query_channel_range from BOLT 7's extended-queries vectors, decoded.
macro_rules! query {
    () => {
        "lnkit wire decode --set message_hex=01070f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206000088b800000064010103"
    };
}

/// `wire listen` on PORT, with BOLT 8's responder key, and `wire connect` to
/// it with the initiator's (retried until the listener is up), OUT the output
/// kept (`connect` or `listen`).
macro_rules! session {
    ($port:literal, $connect_out:literal, $listen_out:literal) => {
        concat!(
            "lnkit wire listen --port ", $port, " --node-privkey 2121212121212121212121212121212121212121212121212121212121212121 --count 2 --timeout-secs 10", $listen_out, " & ",
            "for i in $(seq 50); do lnkit wire connect --peer 028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7@127.0.0.1:", $port,
            " --node-privkey 1111111111111111111111111111111111111111111111111111111111111111 --count 2 --timeout-secs 10", $connect_out, " && break; sleep 0.1; done; wait"
        )
    };
}

/// A factory of three, allocated (two channels) and updated once.
macro_rules! factory {
    () => {
        "lnkit factory create -i docs/examples/factory.json | lnkit factory allocate -i - -i docs/examples/factory-keys.json -i docs/examples/factory-allocation.json"
    };
    (updated) => {
        concat!(factory!(), " | lnkit factory update -i - -i docs/examples/factory-keys.json -i docs/examples/factory-update.json")
    };
}

/// An AMP payment across route-graph.json, its seeds and shares given.
macro_rules! amp_split {
    () => {
        "lnkit amp-split --graph docs/examples/route-graph.json -i docs/examples/amp-request.json"
    };
}

/// BOLT 3 Appendix C's commitment with seven outputs.
macro_rules! committed {
    () => {
        "lnkit build-commitment -i docs/examples/appendix-c-seven-outputs.json"
    };
}

steps! {
    "build-commitment": [ch::FundingIn, ch::KeysIn, ch::PerCommitmentIn, ch::NumberIn, ch::HtlcsIn, commitment::CommitmentIn]
        -> Carried<commitment::CommitmentOut>,
        committed!();
    "penalty": [ch::FundingIn, ch::KeysIn, ch::HtlcsIn, commitment::RevokedIn, commitment::PenaltyIn] -> commitment::PenaltyOut,
        concat!(committed!(), " | lnkit penalty --set revocation_basepoint_secret=2222222222222222222222222222222222222222222222222222222222222222 --set destination=0014cc1b07838e387deacd0e5232e1e8b49f4c29e484 --set feerate_per_kw=2500");
    "bump": [bump::BumpIn, bump::BumpHtlcIn, bump::BumpAnchorIn] -> bump::BumpOut,
        concat!(committed!(), " --set channel_type=anchors_zero_fee_htlc_tx | lnkit bump --htlc 0 --verify -i - -i docs/examples/fee-wallet.json");
    "close": [ch::FundingIn, ch::KeysIn, ch::PerCommitmentIn, ch::HtlcsIn, close_types::VerifyIn, close_types::MutualIn, close_types::SweepIn]
        -> close_types::CloseOut,
        "lnkit close --mutual --verify -i docs/examples/appendix-c-seven-outputs.json --set to_local_msat=7000000000 --set to_remote_msat=3000000000 --set fee_sat=7000 --set local_scriptpubkey=00143ca33c2e4446f4a305f23c80df8ad1afdcf652f9 --set remote_scriptpubkey=0014cc1b07838e387deacd0e5232e1e8b49f4c29e484";
    "walkthrough": [walk::WalkthroughIn] -> walk::WalkthroughOut, "lnkit walkthrough";
    "onion-create": [onion::CreateIn, onion::AssociatedIn] -> onion::CreateOut,
        "lnkit onion-create -i docs/examples/onion-test.json";
    "onion-peel": [onion::PeelIn, onion::AssociatedIn] -> onion::PeelOut,
        "lnkit onion-create -i docs/examples/onion-test.json | lnkit onion-peel --node-privkey 4141414141414141414141414141414141414141414141414141414141414141";
    "blinded-path create": [blinded_path::CreateIn] -> blinded_path::CreateOut,
        "lnkit blinded-path create -i docs/examples/blinded-path.json";
    "graph stats": [graph::StatsIn] -> crate::graph::Stats,
        "lnkit graph stats --graph docs/examples/route-graph.json";
    "route": [route_types::RouteIn, graph_fields::LiquidityPart, graph_fields::OnionIn] -> route_types::RouteOut,
        "lnkit route --graph docs/examples/route-graph.json -i docs/examples/route-request.json";
    "rebalance plan": [rebalance::PlanIn, graph_fields::LiquidityPart, graph_fields::OnionIn] -> rebalance::PlanOut,
        "lnkit rebalance plan --graph docs/examples/rebalance-graph.json --set node=02edabbd16b41c8371b92ef2f04c1185b4f03b6dcd52ba9b78d9d7c89c8f221145 --set out=800001x1x0 --set in=800002x1x0 --set amount_msat=1000000000";
    "amp-split": [amp::SplitIn, graph_fields::LiquidityPart, graph_fields::OnionIn] -> amp::AmpSplitOut,
        amp_split!();
    "amp-combine": [amp::CombineIn] -> amp::CombineOut,
        concat!(amp_split!(), " | lnkit amp-combine");
    "factory create": [factory::CreateIn] -> factory::CreateOut,
        "lnkit factory create -i docs/examples/factory.json";
    "factory allocate": [factory::FactoryIn, factory::AllocationIn, factory::SignersIn] -> factory::AllocateOut,
        factory!();
    "factory update": [factory::FactoryIn, factory::BalancesIn, factory::AllocationIn, factory::SignersIn] -> factory::AllocateOut,
        factory!(updated);
    "factory close": [factory::FactoryIn, factory::BalancesIn, factory::SignersIn] -> factory::CloseOut,
        concat!(factory!(updated), " | lnkit factory close -i - -i docs/examples/factory-keys.json");
    "factory exit": [factory::FactoryIn, factory::ExitIn] -> factory::ExitOut,
        concat!(factory!(updated), " | lnkit factory exit --set hook_height=300");
    "wire decode": [wire::DecodeIn] -> wire_json::MessageOut, query!();
    "wire encode": [wire_json::EncodeIn] -> wire::EncodeOut,
        concat!(query!(), " | lnkit wire encode");
    "wire connect": [connect::ConnectIn, connect::SessionIn] -> connect::LineOut,
        session!("19735", " 2>/dev/null", " >/dev/null");
    "wire listen": [connect::ListenIn, connect::SessionIn] -> connect::LineOut,
        session!("19736", " >/dev/null 2>&1", "");
    "tower appointment": [tower::AppointmentIn] -> tower::AppointmentOut,
        concat!(appointed!(), " --user-secret 0101010101010101010101010101010101010101010101010101010101010101");
    "tower decrypt": [tower::DecryptIn] -> tower::OpenedOut,
        concat!(appointed!(), " | lnkit tower decrypt --set breach_tx_hex=$(lnkit build-commitment -i docs/examples/appendix-c-seven-outputs.json | jq -r .signed_tx_hex)");
    "tower watch": [tower::WatchIn] -> tower::WatchOut,
        concat!(appointed!(), " | lnkit tower watch --chain-dir \"$(mktemp -d)\"");
    "invoice create": [invoice::CreateIn] -> invoice::CreateOut,
        "lnkit invoice create --network regtest -i docs/examples/invoice.json";
    "invoice decode": [invoice::DecodeIn] -> invoice::DecodeOut,
        "lnkit invoice create --network regtest -i docs/examples/invoice.json | lnkit invoice decode --now 1700000100";
    "onion-error create": [onion_error::HopIn, onion_failure::FailureIn, onion_error::PadIn] -> onion_error::CreateOut,
        "lnkit onion-error create -i docs/examples/onion-failure.json";
    "onion-error wrap": [onion_error::HopIn, onion_error::ErrorIn, onion_failure::AttributionIn] -> onion_error::WrapOut,
        failed!();
    "onion-error decode": [onion_error::ErrorIn, onion_error::OriginIn, onion_failure::AttributionIn] -> onion_error::DecodeOut,
        concat!(failed!(), " | lnkit onion-error wrap --set shared_secret=53eb63ea8a3fec3b3cd433b85cd62a4b145e1dda09391b348c4e1cd36a03ea66 --set hold_time=1 | lnkit onion-error decode -i - -i docs/examples/onion-shared-secrets.json");
    "gossip sign": [gossip::SignIn] -> gossip::SignOut,
        "lnkit gossip sign --kind channel_announcement --network regtest -i docs/examples/gossip-channel.json";
    "gossip verify": [gossip::VerifyIn] -> gossip::VerifyOut,
        "lnkit gossip sign --kind channel_announcement --network regtest -i docs/examples/gossip-channel.json | lnkit gossip verify";

    "transport act1": [noise::Act1In] -> Carried<noise::Act1Out>,
        "lnkit transport act1 -i docs/examples/bolt8-keys.json";
    "transport act2": [noise::Act2In] -> Carried<noise::Act2Out>,
        "lnkit transport act1 -i docs/examples/bolt8-keys.json | lnkit transport act2";
    "transport act3": [noise::Act3In] -> Carried<noise::Act3Out>,
        handshake!();
    "transport finish": [noise::FinishIn] -> Carried<noise::FinishOut>,
        concat!(handshake!(), " | lnkit transport finish");
    "transport encrypt": [noise::SessionIn, noise::EncryptIn] -> Carried<noise::SessionOut>,
        concat!(handshake!(), " | lnkit transport encrypt --set side=initiator --set message_hex=68656c6c6f");
    "transport decrypt": [noise::SessionIn, noise::DecryptIn] -> Carried<noise::SessionOut>,
        concat!(handshake!(), " | lnkit transport finish | lnkit transport encrypt --set side=initiator --set message_hex=68656c6c6f | lnkit transport decrypt --set side=responder");
    "chain status": [chain::NetworkIn] -> chain::StatusOut,
        "cd \"$(mktemp -d)\" && lnkit chain --chain-dir c status";
    "chain mine": [chain::NetworkIn, chain::MineIn] -> chain::MineOut,
        mined!();
    "chain broadcast": [chain::NetworkIn, chain::BroadcastIn] -> chain::BroadcastOut,
        "t=$(mktemp -d) && lnkit chain --chain-dir $t mine 101 --to bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw | jq '{inputs: [{txid: .blocks[0].coinbase_txid, vout: 0, amount_sat: 5000000000, privkey: \"cN9spWsvaxA8taS7DFMxnk1yJD2gaF2PX1npuTpy3vuZFJdwavaw\"}]}' | lnkit build-funding --network regtest -i - -i docs/examples/chain-funding.json | lnkit chain --chain-dir $t broadcast";
    "chain tx": [chain::NetworkIn, chain::TxIn] -> chain::TxOut,
        concat!(mined!(), " | jq '{txid: .blocks[0].coinbase_txid}' | lnkit chain --chain-dir $t tx");
    "chain utxo": [chain::NetworkIn, chain::UtxoIn] -> chain::UtxoOut,
        concat!(mined!(), " | jq '{txid: .blocks[0].coinbase_txid, vout: 0}' | lnkit chain --chain-dir $t utxo");
    "chain fee": [chain::NetworkIn, chain::FeeIn] -> chain::FeeOut,
        "lnkit chain --chain-dir \"$(mktemp -d)\" fee --target 12 --feerate-per-kw 1000";

    "tlv decode": [tlv::NamespaceIn, tlv::DecodeIn] -> tlv::DecodeOut,
        "lnkit tlv decode --namespace n1 --set tlv_hex=01010102080000000000000226";
    "tlv encode": [tlv::NamespaceIn, tlv::EncodeIn] -> tlv::EncodeOut,
        "lnkit tlv decode --namespace n1 --set tlv_hex=01010102080000000000000226 | lnkit tlv encode --namespace n1";
    "build-funding": [build_funding::BuildFundingIn] -> build_funding::BuildFundingOut,
        "lnkit build-funding --verify --network regtest -i docs/examples/funding-appendix-b.json";
    "revoke": [revoke::RevokeIn] -> revoke::RevokeOut,
        "lnkit revoke --shachain-seed ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff --commitment-number 0 --revocation-basepoint 02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27";
    "htlc-script": [htlc_script::HtlcScriptIn, htlc_script::HashIn] -> htlc_script::HtlcScriptOut,
        "lnkit htlc-script --kind received --set cltv_expiry=500 -i docs/examples/htlc-keys.json";
    "keys derive": [keys::DeriveIn] -> keys::DeriveOut,
        "lnkit keys derive -i docs/examples/keys-secrets.json";
    "shachain derive": [shachain::DeriveIn, shachain::IndexIn] -> shachain::SecretOut,
        "lnkit shachain derive --seed ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff --commitment-number 1";
    "shachain insert": [shachain::StoreIn, shachain::IndexIn] -> shachain::InsertOut,
        "lnkit shachain derive --seed ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff --commitment-number 0 | lnkit shachain insert";
    "shachain lookup": [shachain::StoreIn, shachain::IndexIn] -> shachain::SecretOut,
        "lnkit shachain derive --seed ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff --commitment-number 0 | lnkit shachain insert | lnkit shachain lookup --commitment-number 0";
    "swap create": [swap_create::CreateIn, HashIn, swap_create::LockIn, swap_terms::LightningIn]
        -> swap_create::CreateOut,
        "lnkit swap create -i docs/examples/swap-submarine.json";
    "swap lockup": [swap_terms::TermsIn, HashIn, swap_lockup::LockupIn] -> swap_lockup::LockupOut,
        locked!();
    "swap claim": [swap_terms::TermsIn, HashIn, swap_spend::SpendIn, swap_spend::ClaimIn, swap_spend::CooperativeIn]
        -> swap_spend::SpendOut,
        concat!(locked!(), " | lnkit swap claim -i - -i docs/examples/swap-claim.json");
    "swap refund": [swap_terms::TermsIn, HashIn, swap_spend::SpendIn, swap_spend::RefundIn, swap_spend::CooperativeIn]
        -> swap_spend::SpendOut,
        concat!(locked!(), " | lnkit swap refund --force-unsafe -i - -i docs/examples/swap-refund.json");
    "swap nonce": [swap_terms::TermsIn, HashIn, swap_spend::SpendIn, swap_musig::NonceIn] -> swap_musig::NonceOut,
        concat!(locked!(), " | lnkit swap nonce -i - -i docs/examples/swap-sign-partial.json --set nonce_seed=a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
    "swap sign-partial": [swap_terms::TermsIn, HashIn, swap_spend::SpendIn, swap_musig::SignPartialIn]
        -> swap_musig::SignPartialOut,
        concat!(locked!(), " | lnkit swap sign-partial -i - -i docs/examples/swap-sign-partial.json");
    "swap verify": [swap_verify::VerifyIn, HashIn, swap_terms::LightningIn] -> swap_verify::VerifyOut,
        "lnkit swap create -i docs/examples/swap-reverse.json | lnkit swap verify -i -";
}
