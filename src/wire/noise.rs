//! BOLT 8 "Encrypted and Authenticated Transport": the Noise_XK handshake
//! (three acts) and the encrypted message framing with key rotation.
//!
//! Every handshake step is an explicit state value, serializable, so a
//! learner can stop after any act and look at `h`, `ck` and the temporary
//! keys, and a debugger can resume from them.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, Signing};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::onion::keys::shared_secret;

/// `Noise_XK_secp256k1_ChaChaPoly_SHA256`.
pub const PROTOCOL_NAME: &[u8] = b"Noise_XK_secp256k1_ChaChaPoly_SHA256";
/// The prologue.
pub const PROLOGUE: &[u8] = b"lightning";
/// Act One and Act Two: `version (1) || ephemeral pubkey (33) || tag (16)`.
pub const ACT_ONE_LEN: usize = 50;
/// Act Two's length.
pub const ACT_TWO_LEN: usize = 50;
/// Act Three: `version (1) || encrypted static pubkey (33 + 16) || tag (16)`.
pub const ACT_THREE_LEN: usize = 66;
/// Largest message body (BOLT 8: the 2-byte length).
pub const MAX_MESSAGE_LEN: usize = 65535;
/// Keys rotate after this many uses of a nonce.
pub const ROTATE_EVERY: u64 = 1000;

/// Why a handshake act was refused, and at which act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The act is shorter (or longer) than it must be.
    #[error("act {act}: expected {expected} bytes, got {got}")]
    Length {
        /// 1, 2 or 3.
        act: u8,
        /// Its length.
        expected: usize,
        /// What arrived.
        got: usize,
    },
    /// The version byte is not 0.
    #[error("act {act}: unknown version {version}")]
    Version {
        /// Which act.
        act: u8,
        /// The byte.
        version: u8,
    },
    /// The public key in the act is not a valid point.
    #[error("act {0}: the public key is not a valid point")]
    PublicKey(u8),
    /// Act Three's encrypted static key does not decrypt.
    #[error("act 3: the encrypted static key does not decrypt (bad MAC)")]
    Ciphertext,
    /// The final MAC of the act does not verify.
    #[error("act {0}: bad MAC")]
    Tag(u8),
}

/// `h` and `ck`, the symmetric state both sides keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symmetric {
    /// The handshake hash.
    #[serde(with = "hex::serde")]
    pub h: [u8; 32],
    /// The chaining key.
    #[serde(with = "hex::serde")]
    pub ck: [u8; 32],
}

impl Symmetric {
    /// BOLT 8 "Handshake State Initialization": `h = SHA256(protocolName)`,
    /// `ck = h`, then `h = SHA256(h || prologue)` and `h = SHA256(h || rs.pub)`.
    fn new(responder_static: &PublicKey) -> Self {
        let h: [u8; 32] = Sha256::digest(PROTOCOL_NAME).into();
        let mut s = Symmetric { h, ck: h };
        s.mix_hash(PROLOGUE);
        s.mix_hash(&responder_static.serialize());
        s
    }

    fn mix_hash(&mut self, data: &[u8]) {
        let mut d = Sha256::new();
        d.update(self.h);
        d.update(data);
        self.h = d.finalize().into();
    }

    /// `ck, temp_k = HKDF(ck, ikm)`.
    fn mix_key(&mut self, ikm: &[u8]) -> [u8; 32] {
        let (ck, k) = hkdf(&self.ck, ikm);
        self.ck = ck;
        k
    }
}

/// `HKDF(salt, ikm)` with an empty info, 64 bytes split in two.
pub fn hkdf(salt: &[u8; 32], ikm: &[u8]) -> ([u8; 32], [u8; 32]) {
    let mut okm = [0u8; 64];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(&[], &mut okm)
        .expect("64 bytes is a valid HKDF length");
    (
        okm[..32].try_into().expect("32"),
        okm[32..].try_into().expect("32"),
    )
}

/// The 96-bit nonce: 32 zero bits then the 64-bit counter, little-endian.
fn nonce(n: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[4..].copy_from_slice(&n.to_le_bytes());
    out
}

/// `encryptWithAD(k, n, ad, plaintext)`: ChaCha20-Poly1305 (IETF).
pub fn encrypt_with_ad(k: &[u8; 32], n: u64, ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    ChaCha20Poly1305::new(k.into())
        .encrypt(
            &nonce(n).into(),
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        .expect("ChaCha20-Poly1305 encrypts any message we send")
}

/// `decryptWithAD(k, n, ad, ciphertext)`, `None` when the MAC fails.
pub fn decrypt_with_ad(k: &[u8; 32], n: u64, ad: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(k.into())
        .decrypt(
            &nonce(n).into(),
            Payload {
                msg: ciphertext,
                aad: ad,
            },
        )
        .ok()
}

fn read_act(act: u8, bytes: &[u8], expected: usize) -> Result<(), HandshakeError> {
    if bytes.len() != expected {
        return Err(HandshakeError::Length {
            act,
            expected,
            got: bytes.len(),
        });
    }
    if bytes[0] != 0 {
        return Err(HandshakeError::Version {
            act,
            version: bytes[0],
        });
    }
    Ok(())
}

/// The initiator after Act One, waiting for Act Two.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiatorAct1 {
    /// `h`, `ck`.
    pub state: Symmetric,
    /// Our static key.
    pub ls_priv: SecretKey,
    /// Our ephemeral key.
    pub e_priv: SecretKey,
}

/// BOLT 8 Act One, initiator side: `0 || e.pub || encryptWithAD(temp_k1, 0, h, "")`.
pub fn initiator_act1<C: Signing>(
    secp: &Secp256k1<C>,
    ls_priv: &SecretKey,
    rs_pub: &PublicKey,
    e_priv: &SecretKey,
) -> ([u8; ACT_ONE_LEN], InitiatorAct1) {
    let mut s = Symmetric::new(rs_pub);
    let e_pub = PublicKey::from_secret_key(secp, e_priv);
    s.mix_hash(&e_pub.serialize());
    let temp_k1 = s.mix_key(&shared_secret(rs_pub, e_priv));
    let c = encrypt_with_ad(&temp_k1, 0, &s.h, &[]);
    s.mix_hash(&c);
    let mut act = [0u8; ACT_ONE_LEN];
    act[1..34].copy_from_slice(&e_pub.serialize());
    act[34..].copy_from_slice(&c);
    (
        act,
        InitiatorAct1 {
            state: s,
            ls_priv: *ls_priv,
            e_priv: *e_priv,
        },
    )
}

/// The session once the handshake is done: the transport keys of BOLT 8 "Lightning Message Specification".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transport {
    /// Sending key.
    #[serde(with = "hex::serde")]
    pub sk: [u8; 32],
    /// Sending nonce.
    pub sn: u64,
    /// Sending chaining key (the salt of its rotation).
    #[serde(with = "hex::serde")]
    pub sck: [u8; 32],
    /// Receiving key.
    #[serde(with = "hex::serde")]
    pub rk: [u8; 32],
    /// Receiving nonce.
    pub rn: u64,
    /// Receiving chaining key.
    #[serde(with = "hex::serde")]
    pub rck: [u8; 32],
    /// The other side's static key.
    pub remote_static: PublicKey,
}

/// BOLT 8 Act Two received, then Act Three produced, by the initiator.
pub fn initiator_act2_act3<C: Signing>(
    secp: &Secp256k1<C>,
    st: &InitiatorAct1,
    act2: &[u8],
    rs_pub: &PublicKey,
) -> Result<([u8; ACT_THREE_LEN], Transport), HandshakeError> {
    read_act(2, act2, ACT_TWO_LEN)?;
    let re = PublicKey::from_slice(&act2[1..34]).map_err(|_| HandshakeError::PublicKey(2))?;
    let mut s = st.state;
    s.mix_hash(&re.serialize());
    let temp_k2 = s.mix_key(&shared_secret(&re, &st.e_priv));
    decrypt_with_ad(&temp_k2, 0, &s.h, &act2[34..]).ok_or(HandshakeError::Tag(2))?;
    s.mix_hash(&act2[34..]);
    // Act Three.
    let ls_pub = PublicKey::from_secret_key(secp, &st.ls_priv);
    let c = encrypt_with_ad(&temp_k2, 1, &s.h, &ls_pub.serialize());
    s.mix_hash(&c);
    let temp_k3 = s.mix_key(&shared_secret(&re, &st.ls_priv));
    let t = encrypt_with_ad(&temp_k3, 0, &s.h, &[]);
    let (sk, rk) = hkdf(&s.ck, &[]);
    let mut act = [0u8; ACT_THREE_LEN];
    act[1..50].copy_from_slice(&c);
    act[50..].copy_from_slice(&t);
    Ok((
        act,
        Transport {
            sk,
            sn: 0,
            sck: s.ck,
            rk,
            rn: 0,
            rck: s.ck,
            remote_static: *rs_pub,
        },
    ))
}

/// The responder after Act One.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponderAct1 {
    /// `h`, `ck`.
    pub state: Symmetric,
    /// Our static key.
    pub ls_priv: SecretKey,
    /// The initiator's ephemeral key.
    pub re: PublicKey,
}

/// BOLT 8 Act One, responder side.
pub fn responder_act1<C: Signing>(
    secp: &Secp256k1<C>,
    ls_priv: &SecretKey,
    act1: &[u8],
) -> Result<ResponderAct1, HandshakeError> {
    read_act(1, act1, ACT_ONE_LEN)?;
    let re = PublicKey::from_slice(&act1[1..34]).map_err(|_| HandshakeError::PublicKey(1))?;
    let mut s = Symmetric::new(&PublicKey::from_secret_key(secp, ls_priv));
    s.mix_hash(&re.serialize());
    let temp_k1 = s.mix_key(&shared_secret(&re, ls_priv));
    decrypt_with_ad(&temp_k1, 0, &s.h, &act1[34..]).ok_or(HandshakeError::Tag(1))?;
    s.mix_hash(&act1[34..]);
    Ok(ResponderAct1 {
        state: s,
        ls_priv: *ls_priv,
        re,
    })
}

/// The responder after Act Two, waiting for Act Three.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponderAct2 {
    /// `h`, `ck`.
    pub state: Symmetric,
    /// `temp_k2`, which also decrypts the initiator's static key in Act Three.
    #[serde(with = "hex::serde")]
    pub temp_k2: [u8; 32],
    /// Our ephemeral key.
    pub e_priv: SecretKey,
}

/// BOLT 8 Act Two, responder side.
pub fn responder_act2<C: Signing>(
    secp: &Secp256k1<C>,
    st: &ResponderAct1,
    e_priv: &SecretKey,
) -> ([u8; ACT_TWO_LEN], ResponderAct2) {
    let mut s = st.state;
    let e_pub = PublicKey::from_secret_key(secp, e_priv);
    s.mix_hash(&e_pub.serialize());
    let temp_k2 = s.mix_key(&shared_secret(&st.re, e_priv));
    let c = encrypt_with_ad(&temp_k2, 0, &s.h, &[]);
    s.mix_hash(&c);
    let mut act = [0u8; ACT_TWO_LEN];
    act[1..34].copy_from_slice(&e_pub.serialize());
    act[34..].copy_from_slice(&c);
    (
        act,
        ResponderAct2 {
            state: s,
            temp_k2,
            e_priv: *e_priv,
        },
    )
}

/// BOLT 8 Act Three, responder side: learn and authenticate the initiator's static key.
pub fn responder_act3(st: &ResponderAct2, act3: &[u8]) -> Result<Transport, HandshakeError> {
    read_act(3, act3, ACT_THREE_LEN)?;
    let mut s = st.state;
    let c = &act3[1..50];
    let rs = decrypt_with_ad(&st.temp_k2, 1, &s.h, c).ok_or(HandshakeError::Ciphertext)?;
    let rs = PublicKey::from_slice(&rs).map_err(|_| HandshakeError::PublicKey(3))?;
    s.mix_hash(c);
    let temp_k3 = s.mix_key(&shared_secret(&rs, &st.e_priv));
    decrypt_with_ad(&temp_k3, 0, &s.h, &act3[50..]).ok_or(HandshakeError::Tag(3))?;
    let (rk, sk) = hkdf(&s.ck, &[]);
    Ok(Transport {
        sk,
        sn: 0,
        sck: s.ck,
        rk,
        rn: 0,
        rck: s.ck,
        remote_static: rs,
    })
}

/// A message that cannot be sent or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Over 65535 bytes.
    #[error("a message of {0} bytes is over the 65535-byte limit")]
    TooLong(usize),
    /// Fewer bytes than the framing needs.
    #[error("truncated: expected {expected} bytes, got {got}")]
    Truncated {
        /// Needed.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// A MAC that does not verify.
    #[error("bad MAC on the message {0}")]
    Mac(&'static str),
}

/// One use of a nonce; rotate after 1000: `ck, k = HKDF(ck, k)`.
fn step(k: &mut [u8; 32], n: &mut u64, ck: &mut [u8; 32]) {
    *n += 1;
    if *n == ROTATE_EVERY {
        let (new_ck, new_k) = hkdf(ck, k);
        *ck = new_ck;
        *k = new_k;
        *n = 0;
    }
}

impl Transport {
    /// Encrypt a message: `encrypt(u16 length) || encrypt(body)`, 18 + len + 16 bytes.
    pub fn encrypt(&mut self, msg: &[u8]) -> Result<Vec<u8>, TransportError> {
        if msg.len() > MAX_MESSAGE_LEN {
            return Err(TransportError::TooLong(msg.len()));
        }
        let mut out = encrypt_with_ad(&self.sk, self.sn, &[], &(msg.len() as u16).to_be_bytes());
        step(&mut self.sk, &mut self.sn, &mut self.sck);
        out.extend(encrypt_with_ad(&self.sk, self.sn, &[], msg));
        step(&mut self.sk, &mut self.sn, &mut self.sck);
        Ok(out)
    }

    /// Decrypt the 18-byte length header.
    pub fn decrypt_length(&mut self, header: &[u8]) -> Result<usize, TransportError> {
        if header.len() < 18 {
            return Err(TransportError::Truncated {
                expected: 18,
                got: header.len(),
            });
        }
        let len = decrypt_with_ad(&self.rk, self.rn, &[], &header[..18])
            .ok_or(TransportError::Mac("length"))?;
        step(&mut self.rk, &mut self.rn, &mut self.rck);
        Ok(u16::from_be_bytes([len[0], len[1]]) as usize)
    }

    /// Decrypt a body of `len` bytes (its ciphertext is `len + 16` bytes).
    pub fn decrypt_body(&mut self, body: &[u8], len: usize) -> Result<Vec<u8>, TransportError> {
        if body.len() != len + 16 {
            return Err(TransportError::Truncated {
                expected: len + 16,
                got: body.len(),
            });
        }
        let m = decrypt_with_ad(&self.rk, self.rn, &[], body).ok_or(TransportError::Mac("body"))?;
        step(&mut self.rk, &mut self.rn, &mut self.rck);
        Ok(m)
    }

    /// Decrypt one whole framed message.
    pub fn decrypt(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TransportError> {
        let len = self.decrypt_length(bytes)?;
        self.decrypt_body(&bytes[18..], len)
    }
}
