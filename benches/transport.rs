//! BOLT 8: a full handshake (both sides), and encrypt + decrypt throughput
//! for 32-byte and 65535-byte messages, beside the floor — the raw
//! `chacha20poly1305` work those messages need (two AEAD seals and two opens:
//! the 2-byte length and the body), measured in the same run.
//!
//! Run: `cargo bench --bench transport`.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

use lnkit::wire::noise::*;

fn bench(c: &mut Criterion) {
    let secp = Secp256k1::new();
    let (ils, iep) = (
        SecretKey::from_slice(&[0x11; 32]).unwrap(),
        SecretKey::from_slice(&[0x12; 32]).unwrap(),
    );
    let (rls, rep) = (
        SecretKey::from_slice(&[0x21; 32]).unwrap(),
        SecretKey::from_slice(&[0x22; 32]).unwrap(),
    );
    let rs = PublicKey::from_secret_key(&secp, &rls);
    let handshake = || {
        let (a1, ist) = initiator_act1(&secp, &ils, &rs, &iep);
        let rst = responder_act1(&secp, &rls, &a1).unwrap();
        let (a2, rst) = responder_act2(&secp, &rst, &rep);
        let (a3, it) = initiator_act2_act3(&secp, &ist, &a2, &rs).unwrap();
        let rt = responder_act3(&rst, &a3).unwrap();
        (it, rt)
    };
    c.bench_function("handshake (initiator + responder)", |b| {
        b.iter(|| black_box(handshake()))
    });

    let mut g = c.benchmark_group("transport");
    for len in [32usize, 65535] {
        let msg = vec![0x5a; len];
        g.throughput(Throughput::Bytes(len as u64));
        let (mut it, mut rt) = handshake();
        g.bench_with_input(BenchmarkId::new("encrypt+decrypt", len), &msg, |b, msg| {
            b.iter(|| {
                let c = it.encrypt(black_box(msg)).unwrap();
                rt.decrypt(&c).unwrap()
            })
        });
        // The floor: seal and open the length and the body with the AEAD crate directly.
        let aead = ChaCha20Poly1305::new(&[7u8; 32].into());
        let nonce = [0u8; 12].into();
        let mut body = msg.clone();
        let mut length = vec![0u8, 32];
        g.bench_with_input(
            BenchmarkId::new("floor: raw chacha20poly1305", len),
            &len,
            |b, _| {
                b.iter(|| {
                    let t1 = aead
                        .encrypt_in_place_detached(&nonce, &[], &mut length)
                        .unwrap();
                    let t2 = aead
                        .encrypt_in_place_detached(&nonce, &[], &mut body)
                        .unwrap();
                    aead.decrypt_in_place_detached(&nonce, &[], &mut length, &t1)
                        .unwrap();
                    aead.decrypt_in_place_detached(&nonce, &[], &mut body, &t2)
                        .unwrap();
                    black_box(&body);
                })
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
