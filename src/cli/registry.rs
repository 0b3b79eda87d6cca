//! The list of typed steps: each subcommand's request parts, response and
//! example (see [`super::step`] for what is made of it).

use super::step::{schema_value, steps, StepDoc};
use super::swap::{
    create as swap_create, lockup as swap_lockup, musig as swap_musig, spend as swap_spend,
    terms as swap_terms, verify as swap_verify, HashIn,
};
use super::{build_funding, htlc_script, keys, revoke, shachain, tlv};
use crate::schema;

/// A reverse swap locked: the start of the spend steps' examples.
macro_rules! locked {
    () => {
        "lnkit swap create -i docs/examples/swap-reverse.json | lnkit swap lockup -i - -i docs/examples/swap-lockup-wallet.json"
    };
}

steps! {
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
