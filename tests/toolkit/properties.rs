//! Property tests: the round trips of the key layer.
//! - shachain: insert a random run of secrets, then every one looks up again;
//!   a secret from another seed is refused by the first insert that can see it.
//! - keys: the pubkey of the derived privkey is the derived pubkey, for the
//!   basepoint family and for the revocation key.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use lnkit::keys::{
    derive_privkey, derive_pubkey, derive_revocation_privkey, derive_revocation_pubkey,
    HtlcBasepoint, PerCommitmentSecret, RevocationBasepoint,
};
use lnkit::shachain::{generate_from_seed, Index, InsertError, Store, MAX_INDEX, STORE_SLOTS};
use proptest::prelude::*;

fn secret_key() -> impl Strategy<Value = SecretKey> {
    any::<[u8; 32]>().prop_filter_map("not a valid secret key", |b| SecretKey::from_slice(&b).ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn shachain_insert_run_then_lookup_each(
        seed in any::<[u8; 32]>(),
        start in 0..=MAX_INDEX,
        len in 1usize..300,
    ) {
        let mut store = Store::new();
        let first = start.max(len as u64);
        let indexes: Vec<u64> = (0..len as u64).map(|k| first - k).collect();
        for &i in &indexes {
            let index = Index::new(i).unwrap();
            store.insert(index, generate_from_seed(&seed, index)).unwrap();
            prop_assert!(store.entries().len() <= STORE_SLOTS);
        }
        for &i in &indexes {
            let index = Index::new(i).unwrap();
            prop_assert_eq!(store.lookup(index).unwrap(), generate_from_seed(&seed, index));
        }
        // Nothing below the last index received can be answered.
        if let Some(next) = indexes.last().unwrap().checked_sub(1) {
            prop_assert!(store.lookup(Index::new(next).unwrap()).is_err());
        }
    }

    #[test]
    fn shachain_foreign_secret_is_refused(
        seed in any::<[u8; 32]>(),
        other in any::<[u8; 32]>(),
        start in 1024..=MAX_INDEX,
        good in 1usize..64,
    ) {
        prop_assume!(seed != other);
        let mut store = Store::new();
        let mut i = start;
        for _ in 0..good {
            let index = Index::new(i).unwrap();
            store.insert(index, generate_from_seed(&seed, index)).unwrap();
            i -= 1;
        }
        // A secret from another seed is accepted only while nothing can check it
        // (an odd index goes into slot 0, with nothing below); then the next
        // correct secret refuses to derive it.
        let index = Index::new(i).unwrap();
        let before = store.clone();
        let refused = match store.insert(index, generate_from_seed(&other, index)) {
            Err(InsertError::Mismatch { .. }) => {
                prop_assert_eq!(&store, &before);
                true
            }
            Err(e) => return Err(TestCaseError::fail(format!("unexpected {e}"))),
            Ok(()) => {
                prop_assert_eq!(index.slot(), 0);
                let next = Index::new(i - 1).unwrap();
                let before = store.clone();
                let r = store.insert(next, generate_from_seed(&seed, next));
                prop_assert_eq!(&store, &before);
                matches!(r, Err(InsertError::Mismatch { .. }))
            }
        };
        prop_assert!(refused);
    }

    #[test]
    fn derived_privkey_matches_derived_pubkey(base in secret_key(), pcs in secret_key()) {
        let secp = Secp256k1::new();
        let point = PerCommitmentSecret(pcs).point(&secp);
        let basepoint = HtlcBasepoint(PublicKey::from_secret_key(&secp, &base));
        let public = derive_pubkey(&secp, &basepoint, &point).unwrap().key;
        let private = derive_privkey(&secp, &base, &point).unwrap();
        prop_assert_eq!(PublicKey::from_secret_key(&secp, &private), public.0);
    }

    #[test]
    fn revocation_privkey_matches_revocationpubkey(rbs in secret_key(), pcs in secret_key()) {
        let secp = Secp256k1::new();
        let pcs = PerCommitmentSecret(pcs);
        let rb = RevocationBasepoint(PublicKey::from_secret_key(&secp, &rbs));
        let public = derive_revocation_pubkey(&secp, &rb, &pcs.point(&secp)).unwrap().key;
        let private = derive_revocation_privkey(&secp, &rbs, &pcs).unwrap();
        prop_assert_eq!(PublicKey::from_secret_key(&secp, &private), public.0);
    }
}
