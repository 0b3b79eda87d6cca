//! Atomic multi-path payments as LND does them: the sender splits a random
//! root seed into shares that XOR back to it; each part's preimage is
//! `SHA256(root || share || be32(child_index))` and its hash the SHA256 of
//! that, so the payee can claim no part before it holds every share.

use sha2::{Digest, Sha256};

/// LND's onion record carrying `root_share || set_id || tu32(child_index)`.
pub const AMP_RECORD_TYPE: u64 = 14;

/// One part of an AMP payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    /// This part's share of the root.
    pub share: [u8; 32],
    /// The part's index.
    pub index: u32,
    /// `SHA256(root || share || be32(index))`.
    pub preimage: [u8; 32],
    /// `SHA256(preimage)`: the part's payment hash.
    pub hash: [u8; 32],
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The child of `root` for `share` at `index`.
pub fn child(root: &[u8; 32], share: [u8; 32], index: u32) -> Child {
    let preimage = sha256(&[root, &share, &index.to_be_bytes()]);
    Child {
        share,
        index,
        preimage,
        hash: sha256(&[&preimage]),
    }
}

/// XOR of all shares: the root.
pub fn combine(shares: &[[u8; 32]]) -> [u8; 32] {
    let mut root = [0u8; 32];
    for s in shares {
        for (r, b) in root.iter_mut().zip(s) {
            *r ^= b;
        }
    }
    root
}

/// Split `root` into `random.len() + 1` shares: the given random ones and
/// the one that makes their XOR the root.
pub fn split_root(root: &[u8; 32], random: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let mut shares = random.to_vec();
    let mut last = combine(random);
    for (l, r) in last.iter_mut().zip(root) {
        *l ^= r;
    }
    shares.push(last);
    shares
}

/// The AMP record's value: `root_share || set_id || tu32(child_index)`.
pub fn record(share: &[u8; 32], set_id: &[u8; 32], index: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(68);
    v.extend_from_slice(share);
    v.extend_from_slice(set_id);
    let be = index.to_be_bytes();
    let skip = be.iter().take_while(|b| **b == 0).count();
    v.extend_from_slice(&be[skip..]);
    v
}
