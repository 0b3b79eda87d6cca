//! The watchtower at scale: with 1,000,000 appointments stored, how long
//! the tower takes to match one 4,000-transaction block (every txid's
//! locator looked up; the block processed and its tip stored, one fsync),
//! with no breach in it and with one (decrypted, checked by the kernel,
//! its tracker stored); and how big the store is.
//!
//! `cargo bench --bench tower` (LNKIT_BENCH_APPOINTMENTS: 1,000,000;
//! LNKIT_BENCH_BLOB: blob bytes, 300 — a justice transaction taking
//! `to_local` and a few HTLC outputs; LNKIT_BENCH_BLOCKS: blocks timed per
//! row, 20).
//!
//! The appointments are written straight into the store in one transaction
//! (as a year of a busy node's revocations would have, one at a time); the
//! tower is then opened on it as after a restart, which loads the locators.

use std::time::{Duration, Instant};

use bitcoin::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use lnkit::chain::BlockRef;
use lnkit::message_signing::sign;
use lnkit::tower::appointment::{Appointment, Locator};
use lnkit::tower::service::{Config, Tower};
use lnkit::tower::store::{Store, StoredAppointment, UserInfo};
use serde_json::json;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A deterministic stream of bytes (xorshift), so every run stores the same thing.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        self.fill(&mut a);
        a
    }
}

/// A typical one-input, two-output P2WPKH payment.
fn payment(r: &mut Bytes) -> Transaction {
    let p2wpkh = |r: &mut Bytes| {
        let mut s = vec![0x00, 0x14];
        s.extend(r.array::<20>());
        ScriptBuf::from_bytes(s)
    };
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(Txid::from_byte_array(r.array()), 0),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[vec![0x30; 72], vec![0x02; 33]]),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(r.next() % 1_000_000),
                script_pubkey: p2wpkh(r),
            },
            TxOut {
                value: Amount::from_sat(r.next() % 1_000_000),
                script_pubkey: p2wpkh(r),
            },
        ],
    }
}

fn block(prev: BlockHash, txdata: Vec<Transaction>) -> Block {
    Block {
        header: Header {
            version: Version::TWO,
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time: 0,
            bits: CompactTarget::from_consensus(0x207fffff),
            nonce: 0,
        },
        txdata,
    }
}

/// A breach paying P2WSH(OP_TRUE), and a penalty taking it: both verify
/// with the kernel, so the tower's checks on a match run in full.
fn breach_and_penalty(r: &mut Bytes) -> (Transaction, Transaction) {
    let op_true = ScriptBuf::from_bytes(vec![0x51]);
    let mut breach = payment(r);
    breach.output[0].script_pubkey = ScriptBuf::new_p2wsh(&op_true.wscript_hash());
    let penalty = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(breach.compute_txid(), 0),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[op_true.as_bytes()]),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(1_000),
            script_pubkey: ScriptBuf::new_op_return([1]),
        }],
    };
    (breach, penalty)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would not: run only when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = env("LNKIT_BENCH_APPOINTMENTS", 1_000_000);
    let blob_len = env("LNKIT_BENCH_BLOB", 300);
    let blocks = env("LNKIT_BENCH_BLOCKS", 20);
    const PER_USER: usize = 1_000;
    const BLOCK_TXS: usize = 4_000;
    let secp = Secp256k1::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tower.sqlite");
    let mut r = Bytes(0x9e37_79b9_7f4a_7c15);
    let genesis = BlockRef {
        height: 1_000,
        hash: BlockHash::all_zeros(),
    };

    // The store, filled in one transaction.
    let t0 = Instant::now();
    {
        let mut store = Store::open(&path).unwrap();
        store
            .batch(|b| {
                let mut blob = vec![0u8; blob_len];
                for u in 0..n.div_ceil(PER_USER) {
                    let key = SecretKey::from_slice(&{
                        let mut k = [1u8; 32];
                        k[..8].copy_from_slice(&(u as u64 + 1).to_be_bytes());
                        k
                    })
                    .unwrap();
                    let user = PublicKey::from_secret_key(&secp, &key);
                    b.put_user(
                        &user,
                        &UserInfo {
                            available_slots: 10_000,
                            subscription_start: 0,
                            subscription_expiry: 1_000_000,
                        },
                    )?;
                    for _ in 0..PER_USER.min(n - u * PER_USER) {
                        r.fill(&mut blob);
                        b.put_appointment(&StoredAppointment {
                            appointment: Appointment {
                                locator: Locator(r.array()),
                                encrypted_blob: blob.clone(),
                                to_self_delay: 144,
                            },
                            user_id: user,
                            start_block: 1_000,
                            // The length of a real zbase32 signature.
                            user_signature: "y".repeat(104),
                        })?;
                    }
                }
                b.set_last_block(genesis)
            })
            .unwrap();
    }
    let filled = t0.elapsed();
    // The size at rest: the WAL folded into the database file.
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    // A restart: the tower reads its locators back.
    let t1 = Instant::now();
    let mut tower = Tower::open(
        &path,
        Config::default(),
        || genesis,
        || SecretKey::from_slice(&[7; 32]).unwrap(),
    )
    .unwrap();
    let opened = t1.elapsed();
    assert_eq!(tower.watched_locators(), n, "every locator loaded");

    // A user to add the breaches' appointments through the API.
    let user = SecretKey::from_slice(&[42; 32]).unwrap();
    tower
        .register(&json!({"user_id": PublicKey::from_secret_key(&secp, &user).to_string()}))
        .unwrap();

    let mut quiet = vec![];
    let mut breached = vec![];
    for i in 0..2 * blocks {
        let with_breach = i % 2 == 1;
        let mut txs: Vec<Transaction> = (0..BLOCK_TXS).map(|_| payment(&mut r)).collect();
        let mut penalty = None;
        if with_breach {
            let (breach, p) = breach_and_penalty(&mut r);
            let a = Appointment::new(&p, &breach.compute_txid(), 144);
            tower
                .add_appointment(
                    &json!({"appointment": a, "signature": sign(&secp, &a.signed_bytes(), &user)}),
                )
                .unwrap();
            txs[BLOCK_TXS / 2] = breach;
            penalty = Some(p);
        }
        let tip = tower.tip();
        let b = block(tip.hash, txs);
        let t = Instant::now();
        let out = tower.block_connected(&b, tip.height + 1).unwrap();
        let took = t.elapsed();
        match penalty {
            Some(p) => {
                assert!(out.broadcast.contains(&p), "the breach is found");
                breached.push(took);
            }
            None => {
                assert!(out.broadcast.is_empty() || i > 0);
                quiet.push(took);
            }
        }
    }
    println!("watchtower: {n} appointments of {blob_len}-byte blobs ({} users), blocks of {BLOCK_TXS} transactions", n.div_ceil(PER_USER));
    println!("| what | figure |");
    println!("|---|---|");
    println!(
        "| store filled (one transaction) | {:.1} s ({:.0} appointments/s) |",
        filled.as_secs_f64(),
        n as f64 / filled.as_secs_f64()
    );
    println!(
        "| store size (tower.sqlite, WAL checkpointed) | {:.1} MB ({:.0} bytes per appointment) |",
        size as f64 / 1e6,
        size as f64 / n as f64
    );
    println!(
        "| open (locators loaded into memory) | {:.2} s |",
        opened.as_secs_f64()
    );
    println!(
        "| match a block, no breach (median of {}) | {:.1} ms |",
        quiet.len(),
        median(quiet).as_secs_f64() * 1e3
    );
    println!(
        "| match a block with one breach (median of {}) | {:.1} ms |",
        breached.len(),
        median(breached).as_secs_f64() * 1e3
    );
}
