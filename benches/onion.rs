//! BOLT 4 onions: create for 1, 5 and 20 hops, peel one hop, decode an error
//! at 20 hops — each beside its floor, the secp256k1 work a hop cannot avoid:
//! one ECDH and one blinding of the ephemeral key (a point multiplication).
//!
//! Run: `cargo bench --bench onion`. Report each figure as a ratio to the floor
//! (per hop for creation).

use bitcoin::secp256k1::{ecdh::SharedSecret, PublicKey, Scalar, Secp256k1, SecretKey};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

use lnkit::onion::failure::{decode_failure, obfuscate, raw_error_packet};
use lnkit::onion::keys::route_keys;
use lnkit::onion::packet::{create_onion, peel};

fn key(i: usize) -> SecretKey {
    SecretKey::from_slice(&[i as u8 + 1; 32]).unwrap()
}

fn bench(c: &mut Criterion) {
    let secp = Secp256k1::new();
    let session = SecretKey::from_slice(&[0x41; 32]).unwrap();
    let ad = [0x42u8; 32];
    let nodes: Vec<PublicKey> = (0..20)
        .map(|i| PublicKey::from_secret_key(&secp, &key(i)))
        .collect();
    // A typical forwarding payload: amt_to_forward, outgoing_cltv_value, short_channel_id.
    let payload = hex::decode("020305f5e1000403013880060800000f4240000100").unwrap();

    let mut g = c.benchmark_group("onion");
    // The floor of one hop: ECDH with the ephemeral key, then blinding it for the next hop.
    let ephemeral = PublicKey::from_secret_key(&secp, &session);
    let tweak = Scalar::from_be_bytes([0x11; 32]).unwrap();
    g.bench_function("floor (1 ECDH + 1 ephemeral-key blinding)", |b| {
        b.iter(|| {
            let ss = SharedSecret::new(black_box(&ephemeral), &key(0));
            let next = black_box(&ephemeral).mul_tweak(&secp, &tweak).unwrap();
            (ss, next)
        })
    });
    for n in [1usize, 5, 20] {
        let hops: Vec<(PublicKey, Vec<u8>)> =
            nodes[..n].iter().map(|p| (*p, payload.clone())).collect();
        g.bench_with_input(BenchmarkId::new("create", n), &hops, |b, hops| {
            b.iter(|| create_onion(&secp, &session, black_box(hops), &ad).unwrap())
        });
    }
    let hops: Vec<(PublicKey, Vec<u8>)> =
        nodes[..5].iter().map(|p| (*p, payload.clone())).collect();
    let onion = create_onion(&secp, &session, &hops, &ad).unwrap().packet;
    g.bench_function("peel one hop", |b| {
        b.iter(|| peel(&secp, black_box(&onion), &key(0), &ad, None).unwrap())
    });

    // An error from the last of 20 hops, decoded at the origin from the session key.
    let secrets: Vec<[u8; 32]> = route_keys(&secp, &session, &nodes)
        .unwrap()
        .iter()
        .map(|k| k.shared_secret)
        .collect();
    let mut packet = raw_error_packet(&secrets[19], &[0x20, 0x02], 256);
    for ss in secrets.iter().rev() {
        obfuscate(ss, &mut packet);
    }
    g.bench_function("error decode at 20 hops", |b| {
        b.iter(|| {
            let secrets: Vec<[u8; 32]> = route_keys(&secp, &session, &nodes)
                .unwrap()
                .iter()
                .map(|k| k.shared_secret)
                .collect();
            decode_failure(&secrets, black_box(&packet), None).unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
