//! The node's keys, from one BIP 39 seed, and the only code that holds a
//! private key.
//!
//! Paths follow LND's key families (purpose 1017, BIP 43 style), so that a
//! channel's keys are rebuilt from the mnemonic and the channel's index alone:
//!
//! | key | path |
//! |---|---|
//! | funding (`funding_pubkey`) | `m/1017'/coin'/0'/0/index` |
//! | `revocation_basepoint` | `m/1017'/coin'/1'/0/index` |
//! | `htlc_basepoint` | `m/1017'/coin'/2'/0/index` |
//! | `payment_basepoint` | `m/1017'/coin'/3'/0/index` |
//! | `delayed_payment_basepoint` | `m/1017'/coin'/4'/0/index` |
//! | shachain seed (per-commitment secrets) | SHA256 of the key at `m/1017'/coin'/5'/0/index` |
//! | node key | `m/1017'/coin'/6'/0/0` |
//!
//! `coin` is 0 on bitcoin and 1 on the test networks (SLIP 44). The on-chain
//! wallet's descriptors (BIP 84 `wpkh`, BIP 86 `tr`) come from the same seed;
//! see [`NodeSeed::wallet_descriptors`].
//!
//! A channel never holds a secret: it is given a [`ChannelSigner`] for each
//! step, which answers with public keys, points and signatures.

use std::str::FromStr;

use bitcoin::bip32::{ChildNumber, DerivationPath, Xpriv};
use bitcoin::secp256k1::{ecdsa, All, PublicKey, Secp256k1, SecretKey};
use bitcoin::{Network, ScriptBuf, Transaction};
use sha2::{Digest, Sha256};

use crate::keys::{
    self, DelayedPaymentBasepoint, HtlcBasepoint, PaymentBasepoint, PerCommitmentPoint,
    PerCommitmentSecret, RevocationBasepoint,
};
use crate::shachain::{self, CommitmentNumber, Index};
use crate::tx::commitment::{CommitmentParams, CommitmentTransaction};
use crate::tx::funding::funding_spend_sighash;
use crate::tx::htlc::{counterparty_sighash_type, htlc_sighash, htlc_transactions};

/// LND's BIP 43 purpose for Lightning keys.
const PURPOSE: u32 = 1017;

/// A key family: the third level of the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum KeyFamily {
    /// The 2-of-2 funding key.
    Funding = 0,
    /// `revocation_basepoint`.
    Revocation = 1,
    /// `htlc_basepoint`.
    Htlc = 2,
    /// `payment_basepoint`.
    Payment = 3,
    /// `delayed_payment_basepoint`.
    DelayedPayment = 4,
    /// The root of a channel's per-commitment secrets.
    Shachain = 5,
    /// The node's identity key.
    Node = 6,
    /// The key the node is known by to its watchtowers (LND's family 8,
    /// watchtower session keys).
    TowerSession = 8,
}

/// SLIP 44 coin type: 0 on bitcoin, 1 on every test network.
fn coin(network: Network) -> u32 {
    u32::from(network != Network::Bitcoin)
}

/// The path of a key, as docs/node.md lists it.
pub fn key_path(network: Network, family: KeyFamily, index: u32) -> DerivationPath {
    let h = |i| ChildNumber::from_hardened_idx(i).expect("below 2^31");
    let n = |i| ChildNumber::from_normal_idx(i).expect("below 2^31");
    DerivationPath::from(vec![
        h(PURPOSE),
        h(coin(network)),
        h(family as u32),
        n(0),
        n(index),
    ])
}

/// The node's seed: the 64 bytes BIP 39 makes of the mnemonic.
pub struct NodeSeed {
    master: Xpriv,
    network: Network,
    secp: Secp256k1<All>,
}

/// A channel key index outside BIP 32's normal range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel key index {0} is not below 2^31")]
pub struct IndexOutOfRange(pub u64);

impl NodeSeed {
    /// From BIP 39's 64-byte seed.
    pub fn new(seed: &[u8; 64], network: Network) -> Self {
        let master =
            Xpriv::new_master(network, seed).expect("a 64-byte seed is a valid BIP 32 seed");
        NodeSeed {
            master,
            network,
            secp: Secp256k1::new(),
        }
    }

    /// The network the keys are for.
    pub fn network(&self) -> Network {
        self.network
    }

    fn secret(&self, family: KeyFamily, index: u32) -> SecretKey {
        self.master
            .derive_priv(&self.secp, &key_path(self.network, family, index))
            .expect("a 5-level path derives")
            .private_key
    }

    /// The node key's signer: BOLT 8, onions and invoices.
    pub fn node(&self) -> NodeSigner {
        NodeSigner {
            secret: self.secret(KeyFamily::Node, 0),
            secp: self.secp.clone(),
        }
    }

    /// The node id.
    pub fn node_id(&self) -> PublicKey {
        self.node().node_id()
    }

    /// The key the node registers with watchtowers and signs its appointments with.
    pub fn tower_user_key(&self) -> SecretKey {
        self.secret(KeyFamily::TowerSession, 0)
    }

    /// The keys of channel number `index`.
    pub fn channel(&self, index: u64) -> Result<ChannelSigner, IndexOutOfRange> {
        let i = u32::try_from(index)
            .ok()
            .filter(|i| *i < (1 << 31))
            .ok_or(IndexOutOfRange(index))?;
        let shachain_seed: [u8; 32] =
            Sha256::digest(self.secret(KeyFamily::Shachain, i).secret_bytes()).into();
        Ok(ChannelSigner {
            funding: self.secret(KeyFamily::Funding, i),
            revocation: self.secret(KeyFamily::Revocation, i),
            htlc: self.secret(KeyFamily::Htlc, i),
            payment: self.secret(KeyFamily::Payment, i),
            delayed_payment: self.secret(KeyFamily::DelayedPayment, i),
            shachain_seed,
            secp: self.secp.clone(),
        })
    }

    /// The wallet's descriptors, external and internal, with their private
    /// keys: BIP 84 (`wpkh`, `m/84'/coin'/0'/{0,1}/*`) or BIP 86 (`tr`,
    /// `m/86'/coin'/0'/{0,1}/*`).
    pub fn wallet_descriptors(&self, taproot: bool) -> (String, String) {
        let (purpose, wrap) = if taproot { (86, "tr") } else { (84, "wpkh") };
        let path = DerivationPath::from_str(&format!("m/{purpose}'/{}'/0'", coin(self.network)))
            .expect("a valid path");
        let account = self
            .master
            .derive_priv(&self.secp, &path)
            .expect("a 3-level path derives");
        let fingerprint = self.master.fingerprint(&self.secp);
        let origin = format!("[{fingerprint}/{purpose}h/{}h/0h]", coin(self.network));
        let desc = |chain: u32| format!("{wrap}({origin}{account}/{chain}/*)");
        (desc(0), desc(1))
    }
}

/// The node key, kept here: every operation that needs it is a method.
#[derive(Clone)]
pub struct NodeSigner {
    secret: SecretKey,
    secp: Secp256k1<All>,
}

impl std::fmt::Debug for NodeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeSigner({})", self.node_id())
    }
}

impl NodeSigner {
    /// `node_id`.
    pub fn node_id(&self) -> PublicKey {
        self.secret.public_key(&self.secp)
    }

    /// BOLT 8 act one towards `remote`, as the initiator.
    pub fn noise_initiator(
        &self,
        remote: &PublicKey,
        ephemeral: &SecretKey,
    ) -> ([u8; 50], crate::wire::noise::InitiatorAct1) {
        crate::wire::noise::initiator_act1(&self.secp, &self.secret, remote, ephemeral)
    }

    /// BOLT 8 act one received, as the responder.
    pub fn noise_responder(
        &self,
        act1: &[u8],
    ) -> Result<crate::wire::noise::ResponderAct1, crate::wire::noise::HandshakeError> {
        crate::wire::noise::responder_act1(&self.secp, &self.secret, act1)
    }

    /// Peel our layer of a payment onion (BOLT 4).
    pub fn peel_onion(
        &self,
        packet: &crate::onion::packet::OnionPacket,
        associated_data: &[u8],
        path_key: Option<&PublicKey>,
    ) -> Result<crate::onion::packet::Peeled, crate::onion::packet::PeelError> {
        crate::onion::packet::peel(&self.secp, packet, &self.secret, associated_data, path_key)
    }

    /// Sign one of our BOLT 7 gossip messages (a channel_announcement's
    /// node half, a node_announcement, a channel_update): the digest is
    /// computed here, from the message, so nothing else can be signed.
    pub fn sign_gossip(
        &self,
        m: &crate::wire::message::Message,
    ) -> Result<bitcoin::secp256k1::ecdsa::Signature, crate::wire::message::MessageError> {
        let digest = crate::wire::gossip::digest(m)?;
        Ok(self.secp.sign_ecdsa(&digest, &self.secret))
    }

    /// Sign a BOLT 11 invoice.
    pub fn sign_invoice(
        &self,
        invoice: &crate::invoice::Invoice,
    ) -> Result<String, crate::invoice::InvoiceError> {
        invoice.sign(&self.secp, &self.secret)
    }
}

/// A channel's keys: its funding key, four basepoint secrets and the seed of
/// its per-commitment secrets. It signs; it never gives a secret away except
/// a per-commitment secret, which BOLT 2 `revoke_and_ack` reveals on purpose.
#[derive(Clone)]
pub struct ChannelSigner {
    funding: SecretKey,
    revocation: SecretKey,
    htlc: SecretKey,
    payment: SecretKey,
    delayed_payment: SecretKey,
    shachain_seed: [u8; 32],
    secp: Secp256k1<All>,
}

impl std::fmt::Debug for ChannelSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelSigner")
            .field("funding_pubkey", &self.funding_pubkey())
            .finish_non_exhaustive()
    }
}

/// The public half of a channel's keys, as `open_channel` / `accept_channel` send them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelPubkeys {
    /// `funding_pubkey`.
    pub funding: PublicKey,
    /// `revocation_basepoint`.
    pub revocation: PublicKey,
    /// `payment_basepoint`.
    pub payment: PublicKey,
    /// `delayed_payment_basepoint`.
    pub delayed_payment: PublicKey,
    /// `htlc_basepoint`.
    pub htlc: PublicKey,
}

impl ChannelPubkeys {
    /// As the typed basepoints of BOLT 3.
    pub fn revocation_basepoint(&self) -> RevocationBasepoint {
        RevocationBasepoint(self.revocation)
    }
    /// `payment_basepoint`.
    pub fn payment_basepoint(&self) -> PaymentBasepoint {
        PaymentBasepoint(self.payment)
    }
    /// `delayed_payment_basepoint`.
    pub fn delayed_payment_basepoint(&self) -> DelayedPaymentBasepoint {
        DelayedPaymentBasepoint(self.delayed_payment)
    }
    /// `htlc_basepoint`.
    pub fn htlc_basepoint(&self) -> HtlcBasepoint {
        HtlcBasepoint(self.htlc)
    }
}

impl ChannelSigner {
    /// The secp context the signer uses (for verification by its callers).
    pub fn secp(&self) -> &Secp256k1<All> {
        &self.secp
    }

    /// `funding_pubkey`.
    pub fn funding_pubkey(&self) -> PublicKey {
        self.funding.public_key(&self.secp)
    }

    /// The funding key's half of a `channel_announcement` (BOLT 7
    /// `announcement_signatures` `bitcoin_signature`). Refused unless the
    /// announcement names our funding key.
    pub fn sign_channel_announcement(
        &self,
        m: &crate::wire::message::Message,
    ) -> Result<bitcoin::secp256k1::ecdsa::Signature, crate::wire::message::MessageError> {
        use crate::wire::message::{MessageError, Value};
        let ours = self.funding_pubkey();
        let names_us = m.typ == 256
            && m.fields.iter().any(|(n, v)| {
                (*n == "bitcoin_key_1" || *n == "bitcoin_key_2") && *v == Value::Point(ours)
            });
        if !names_us {
            return Err(MessageError::Value("bitcoin_key"));
        }
        let digest = crate::wire::gossip::digest(m)?;
        Ok(self.secp.sign_ecdsa(&digest, &self.funding))
    }

    /// Every public key `open_channel` / `accept_channel` carry.
    pub fn pubkeys(&self) -> ChannelPubkeys {
        let p = |k: &SecretKey| k.public_key(&self.secp);
        ChannelPubkeys {
            funding: p(&self.funding),
            revocation: p(&self.revocation),
            payment: p(&self.payment),
            delayed_payment: p(&self.delayed_payment),
            htlc: p(&self.htlc),
        }
    }

    /// BOLT 3: the secret of our commitment `n`, from the shachain seed.
    pub fn per_commitment_secret(&self, n: CommitmentNumber) -> PerCommitmentSecret {
        let index = Index::from_commitment_number(n).expect("commitment numbers stay below 2^48");
        let secret = shachain::generate_from_seed(&self.shachain_seed, index);
        PerCommitmentSecret(
            SecretKey::from_slice(&secret)
                .expect("a SHA256 output is a valid key but with p ~ 2^-128"),
        )
    }

    /// The point of our commitment `n`.
    pub fn per_commitment_point(&self, n: CommitmentNumber) -> PerCommitmentPoint {
        self.per_commitment_secret(n).point(&self.secp)
    }

    /// Our signature on a transaction spending the funding output (a
    /// commitment or a closing transaction), SIGHASH_ALL.
    pub fn sign_funding_spend(
        &self,
        tx: &Transaction,
        funding_script: &ScriptBuf,
        funding_amount: bitcoin::Amount,
    ) -> ecdsa::Signature {
        let msg = funding_spend_sighash(tx, funding_script, funding_amount);
        self.secp.sign_ecdsa(&msg, &self.funding)
    }

    /// Our signatures on the counterparty's HTLC transactions of its
    /// commitment `commitment` (built with `params`), in output order: what
    /// `commitment_signed`'s `htlc_signatures` carries. Our HTLC key on their
    /// commitment is derived from their `per_commitment_point`.
    pub fn sign_counterparty_htlcs(
        &self,
        commitment: &CommitmentTransaction,
        params: &CommitmentParams,
    ) -> Vec<ecdsa::Signature> {
        let key = keys::derive_privkey(&self.secp, &self.htlc, &params.keys.per_commitment_point)
            .expect("a derivation fails with p ~ 2^-128");
        let msgs = htlc_messages(&self.secp, commitment, params);
        on_every_core(&msgs, |m| self.secp.sign_ecdsa(m, &key))
    }

    /// Check the counterparty's HTLC signatures on our commitment.
    pub fn verify_holder_htlcs(
        &self,
        commitment: &CommitmentTransaction,
        params: &CommitmentParams,
        sigs: &[ecdsa::Signature],
    ) -> Result<(), usize> {
        let msgs = htlc_messages(&self.secp, commitment, params);
        if msgs.len() != sigs.len() {
            return Err(msgs.len().min(sigs.len()));
        }
        let pairs: Vec<_> = msgs.iter().zip(sigs).collect();
        let valid = on_every_core(&pairs, |(msg, sig)| {
            self.secp
                .verify_ecdsa(msg, sig, &params.keys.counterparty_htlc.0)
                .is_ok()
        });
        match valid.iter().position(|ok| !ok) {
            Some(i) => Err(i),
            None => Ok(()),
        }
    }
}

/// What the counterparty's signature on each HTLC transaction of
/// `commitment` signs (its sighash type: BOLT 3), in output order.
fn htlc_messages(
    secp: &Secp256k1<All>,
    commitment: &CommitmentTransaction,
    params: &CommitmentParams,
) -> Vec<bitcoin::secp256k1::Message> {
    let sighash_type = counterparty_sighash_type(params.channel_type);
    // Unsigned: built only for their sighashes.
    htlc_transactions(secp, commitment, params, None, None, &[])
        .iter()
        .map(|t| {
            let out = &commitment.outputs[t.output_index as usize];
            let script = out
                .witness_script
                .as_ref()
                .expect("HTLC outputs have scripts");
            htlc_sighash(&t.tx, script, out.amount, sighash_type)
        })
        .collect()
}

/// Below this many items one core does it all: a thread costs about as
/// much as one signature.
const PARALLEL_MIN: usize = 8;

/// `f` over `items`, in order, split across the machine's cores (scoped
/// threads). A commitment's HTLC signatures are independent, and making or
/// checking fifty of them is most of a round's CPU: on one core the round
/// waits while the other idles (the peer, meanwhile, waits for the answer).
fn on_every_core<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if cores < 2 || items.len() < PARALLEL_MIN {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(cores);
    std::thread::scope(|s| {
        let rest: Vec<_> = items[chunk..]
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = items[..chunk].iter().map(&f).collect();
        for h in rest {
            out.extend(h.join().expect("signing does not panic"));
        }
        out
    })
}

/// Which of a channel's keys signs an on-chain claim (BOLT 5), named by
/// role: the signer derives the key itself, so no secret leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "key")]
pub enum SpendKey {
    /// The funding key: our anchor.
    Funding,
    /// `payment_basepoint`'s secret as is: `to_remote` under `option_static_remotekey`.
    Payment,
    /// The delayed payment key of one of our commitments: `to_local` and our HTLC transactions' outputs.
    DelayedPayment {
        /// That commitment's `per_commitment_point`.
        point: PublicKey,
    },
    /// Our HTLC key on a commitment (ours or theirs): HTLC transactions and direct HTLC claims.
    Htlc {
        /// That commitment's `per_commitment_point`.
        point: PublicKey,
    },
    /// The revocation key of a revoked commitment of theirs: the penalty.
    Revocation {
        /// The `per_commitment_secret` they revealed.
        #[serde(with = "hex::serde")]
        secret: [u8; 32],
    },
}

/// An output we can spend alone, as [`crate::tx::sweep::SpendInput`] but
/// with the key named rather than held.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClaimInput {
    /// The output.
    pub outpoint: bitcoin::OutPoint,
    /// Its value and scriptPubKey.
    pub prevout: bitcoin::TxOut,
    /// The witness script (none for a P2WPKH).
    pub witness_script: Option<ScriptBuf>,
    /// The witness items after the signature, hex.
    #[serde(with = "hex_items")]
    pub after_sig: Vec<Vec<u8>>,
    /// Which key signs.
    pub key: SpendKey,
    /// nSequence.
    pub sequence: u32,
    /// nLockTime, when the script demands one.
    pub lock_time: Option<u32>,
}

mod hex_items {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(items: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(items.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|h| hex::decode(h).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// The holder's half of one of our HTLC transactions (BOLT 3), kept until
/// it is broadcast: the counterparty's signature was checked when it came.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HtlcSpend {
    /// The unsigned HTLC-timeout or HTLC-success transaction.
    pub tx: Transaction,
    /// The HTLC output's witness script.
    pub witness_script: ScriptBuf,
    /// The HTLC output's value.
    pub amount: bitcoin::Amount,
    /// The counterparty's signature (SIGHASH_SINGLE|ANYONECANPAY under anchors).
    pub counterparty_sig: ecdsa::Signature,
    /// Our commitment's `per_commitment_point`: our HTLC key is derived from it.
    pub point: PublicKey,
}

impl ChannelSigner {
    fn spend_key(&self, k: &SpendKey) -> SecretKey {
        let point = |p: &PublicKey| PerCommitmentPoint(*p);
        let derived = match k {
            SpendKey::Funding => Ok(self.funding),
            SpendKey::Payment => Ok(self.payment),
            SpendKey::DelayedPayment { point: p } => {
                keys::derive_privkey(&self.secp, &self.delayed_payment, &point(p))
            }
            SpendKey::Htlc { point: p } => keys::derive_privkey(&self.secp, &self.htlc, &point(p)),
            SpendKey::Revocation { secret } => match SecretKey::from_slice(secret) {
                Ok(s) => keys::derive_revocation_privkey(
                    &self.secp,
                    &self.revocation,
                    &PerCommitmentSecret(s),
                ),
                Err(_) => Err(keys::KeyError::Degenerate),
            },
        };
        derived.expect("a derivation fails with p ~ 2^-128; secrets were checked when received")
    }

    fn spend_input(&self, c: &ClaimInput) -> crate::tx::sweep::SpendInput {
        use crate::tx::sweep::WitnessTemplate;
        crate::tx::sweep::SpendInput {
            outpoint: c.outpoint,
            prevout: c.prevout.clone(),
            template: match &c.witness_script {
                Some(ws) => WitnessTemplate::P2wsh {
                    witness_script: ws.clone(),
                    after_sig: c.after_sig.clone(),
                },
                None => WitnessTemplate::P2wpkh,
            },
            key: self.spend_key(&c.key),
            sequence: bitcoin::Sequence(c.sequence),
            lock_time: c.lock_time.map(bitcoin::absolute::LockTime::from_consensus),
        }
    }

    /// One transaction claiming every input to `destination` at `feerate`,
    /// the fee taken from the inputs (the toolkit's sweep builder).
    pub fn sign_claims(
        &self,
        inputs: &[ClaimInput],
        destination: &ScriptBuf,
        feerate: crate::tx::commitment::FeeratePerKw,
    ) -> Result<Transaction, crate::tx::sweep::SpendError> {
        let spends: Vec<_> = inputs.iter().map(|c| self.spend_input(c)).collect();
        crate::tx::sweep::build_spend(&self.secp, &spends, destination, feerate)
    }

    /// The witness of input `index` of `tx`, which spends `c` (SIGHASH_ALL):
    /// a claim in a transaction that also has wallet inputs (an anchor's CPFP).
    pub fn claim_witness(
        &self,
        tx: &Transaction,
        index: usize,
        c: &ClaimInput,
    ) -> bitcoin::Witness {
        crate::tx::sweep::input_witness(&self.secp, tx, index, &self.spend_input(c))
    }

    /// The witness of `tx`'s input 0, our HTLC transaction `h` (BOLT 3
    /// "HTLC-Timeout and HTLC-Success Transactions"): the counterparty's
    /// signature, ours over the final transaction (which may carry a wallet
    /// input and change under anchors), and the preimage for a success.
    pub fn htlc_witness(
        &self,
        tx: &Transaction,
        h: &HtlcSpend,
        preimage: Option<&crate::payment::PaymentPreimage>,
        anchors: bool,
    ) -> bitcoin::Witness {
        let key = self.spend_key(&SpendKey::Htlc { point: h.point });
        let msg = htlc_sighash(
            tx,
            &h.witness_script,
            h.amount,
            bitcoin::EcdsaSighashType::All,
        );
        let ours = self.secp.sign_ecdsa(&msg, &key);
        let their_type = if anchors {
            bitcoin::EcdsaSighashType::SinglePlusAnyoneCanPay
        } else {
            bitcoin::EcdsaSighashType::All
        };
        crate::tx::htlc::htlc_tx_witness(
            &h.counterparty_sig,
            their_type,
            &ours,
            preimage,
            &h.witness_script,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Split or not, the results come back in the items' order.
    #[test]
    fn on_every_core_keeps_the_order() {
        for n in [0, 1, PARALLEL_MIN - 1, PARALLEL_MIN, 9, 50, 483] {
            let items: Vec<u64> = (0..n as u64).collect();
            let squares = on_every_core(&items, |i| i * i);
            assert_eq!(squares, items.iter().map(|i| i * i).collect::<Vec<_>>());
        }
    }

    fn seed() -> NodeSeed {
        NodeSeed::new(&[7; 64], Network::Regtest)
    }

    #[test]
    fn paths_are_lnd_families() {
        assert_eq!(
            key_path(Network::Regtest, KeyFamily::Htlc, 5).to_string(),
            "1017'/1'/2'/0/5"
        );
        assert_eq!(
            key_path(Network::Bitcoin, KeyFamily::Node, 0).to_string(),
            "1017'/0'/6'/0/0"
        );
    }

    #[test]
    fn channel_keys_are_rebuilt_from_seed_and_index() {
        let a = seed().channel(3).unwrap().pubkeys();
        let b = seed().channel(3).unwrap().pubkeys();
        let c = seed().channel(4).unwrap().pubkeys();
        assert_eq!(a, b);
        assert_ne!(a.funding, c.funding);
        assert_ne!(a.funding, a.htlc);
        assert!(seed().channel(1 << 31).is_err());
    }

    #[test]
    fn per_commitment_secrets_follow_the_shachain() {
        let s = seed().channel(0).unwrap();
        let mut store = shachain::Store::new();
        for n in 0..5u64 {
            let secret = s.per_commitment_secret(CommitmentNumber(n));
            let index = Index::from_commitment_number(CommitmentNumber(n)).unwrap();
            store.insert(index, secret.secret_bytes()).unwrap();
        }
    }

    #[test]
    fn descriptors_are_bip84_and_bip86() {
        let (ext, int) = seed().wallet_descriptors(false);
        assert!(
            ext.starts_with("wpkh([") && ext.contains("/84h/1h/0h]tprv") && ext.ends_with("/0/*)")
        );
        assert!(int.ends_with("/1/*)"));
        assert!(seed().wallet_descriptors(true).0.starts_with("tr(["));
    }
}
