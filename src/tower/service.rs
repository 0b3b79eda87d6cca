//! The tower itself, without HTTP or a chain: teos's public API (`register`,
//! `add_appointment`, `get_appointment`, `get_subscription_info`) over the
//! store, and what each block does to the appointments and the trackers.
//!
//! Requests arrive as JSON values and are checked field by field, so each
//! refusal carries teos's error code (`teos-common/src/errors.rs`). Users
//! are known by the key their signature recovers to (message signing, as
//! LND's `signmessage`); the tower signs its receipts the same way.

use std::collections::HashMap;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use bitcoin::{Block, BlockHash, Transaction};
use serde_json::{json, Value};

use super::appointment::{Appointment, Locator, LOCATOR_LEN};
use super::store::{Store, StoreError, StoredAppointment, Tracker, UserInfo};
use super::watcher::{scan_block, Refusal};
use crate::chain::BlockRef;
use crate::message_signing;

/// teos's error codes (`teos-common/src/errors.rs`).
pub mod codes {
    /// A required field is missing.
    pub const MISSING_FIELD: u8 = 1;
    /// A field is empty.
    pub const EMPTY_FIELD: u8 = 2;
    /// A field has the wrong JSON type.
    pub const WRONG_FIELD_TYPE: u8 = 3;
    /// A field has the wrong size.
    pub const WRONG_FIELD_SIZE: u8 = 4;
    /// A field is malformed.
    pub const WRONG_FIELD_FORMAT: u8 = 5;
    /// The body is not a JSON object.
    pub const INVALID_REQUEST_FORMAT: u8 = 6;
    /// The signature recovers no registered user, or the subscription is over.
    pub const INVALID_SIGNATURE_OR_SUBSCRIPTION_ERROR: u8 = 7;
    /// Try again later (also: too many requests).
    pub const SERVICE_UNAVAILABLE: u8 = 32;
    /// A field is below its minimum.
    pub const APPOINTMENT_FIELD_TOO_SMALL: u8 = 33;
    /// A field is above its maximum.
    pub const APPOINTMENT_FIELD_TOO_BIG: u8 = 34;
    /// The locator already triggered.
    pub const APPOINTMENT_ALREADY_TRIGGERED: u8 = 35;
    /// No such appointment.
    pub const APPOINTMENT_NOT_FOUND: u8 = 36;
    /// The subscription cannot grow further.
    pub const REGISTRATION_RESOURCE_EXHAUSTED: u8 = 65;
    /// Anything else.
    pub const UNEXPECTED_ERROR: u8 = 255;
}

/// A refused request: the HTTP status and teos's `{error, error_code}` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// What was wrong.
    pub error: String,
    /// teos's code.
    pub error_code: u8,
}

impl ApiError {
    fn new(status: u16, error_code: u8, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            error_code,
        }
    }

    fn bad(error_code: u8, error: impl Into<String>) -> Self {
        Self::new(400, error_code, error)
    }

    fn unauthorized(error: impl Into<String>) -> Self {
        Self::new(401, codes::INVALID_SIGNATURE_OR_SUBSCRIPTION_ERROR, error)
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": self.error, "error_code": self.error_code})
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new(500, codes::UNEXPECTED_ERROR, e.to_string())
    }
}

/// What a tower offers and allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Slots a registration gives (teos: 10,000).
    pub slots: u32,
    /// Blocks a subscription lasts (teos: 4,320, a month).
    pub duration: u32,
    /// Blocks after its expiry before an expired user's data is deleted (teos: 6).
    pub expiry_delta: u32,
    /// The largest blob one appointment may carry, in bytes.
    pub max_blob: usize,
    /// The smallest `to_self_delay` accepted (teos: 20).
    pub min_to_self_delay: u32,
    /// Confirmations after which a penalty is resolved and its tracker dropped
    /// (teos: 100); until then a reorg that unconfirms it gets it rebroadcast.
    pub safe_depth: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            slots: 10_000,
            duration: 4_320,
            expiry_delta: 6,
            max_blob: 2_048,
            min_to_self_delay: 20,
            safe_depth: 100,
        }
    }
}

/// Slots an appointment of `blob_len` bytes takes: one per 2,048 bytes (teos).
pub fn slots_for(blob_len: usize) -> u32 {
    blob_len.div_ceil(2_048) as u32
}

/// What one block did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockOutcome {
    /// Penalties to broadcast: new ones, and those still unconfirmed.
    pub broadcast: Vec<Transaction>,
    /// Appointments whose locator matched but whose blob gave no valid
    /// penalty (they are dropped).
    pub refused: Vec<(Locator, Refusal)>,
    /// Trackers resolved at a safe depth (dropped).
    pub resolved: usize,
}

/// The tower: its store, its key and the locators it watches.
pub struct Tower {
    store: Store,
    key: SecretKey,
    id: PublicKey,
    secp: Secp256k1<All>,
    /// Every locator watched, with its count of appointments: a block's
    /// transactions are matched here, in memory, before the store is read.
    locators: HashMap<Locator, u32>,
    tip: BlockRef,
    config: Config,
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a Value, ApiError> {
    body.get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| ApiError::bad(codes::MISSING_FIELD, format!("missing field `{name}`")))
}

fn str_field<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    let s = field(body, name)?.as_str().ok_or_else(|| {
        ApiError::bad(
            codes::WRONG_FIELD_TYPE,
            format!("invalid type: `{name}` must be a string"),
        )
    })?;
    if s.is_empty() {
        return Err(ApiError::bad(
            codes::EMPTY_FIELD,
            format!("`{name}` field is empty"),
        ));
    }
    Ok(s)
}

fn hex_field(body: &Value, name: &str, len: Option<usize>) -> Result<Vec<u8>, ApiError> {
    let bytes = hex::decode(str_field(body, name)?).map_err(|e| {
        ApiError::bad(
            codes::WRONG_FIELD_FORMAT,
            format!("`{name}` is not hex: {e}"),
        )
    })?;
    match len {
        Some(n) if bytes.len() != n => Err(ApiError::bad(
            codes::WRONG_FIELD_SIZE,
            format!(
                "Wrong `{name}` field size. Expected {n}, received {}",
                bytes.len()
            ),
        )),
        _ => Ok(bytes),
    }
}

fn locator_field(body: &Value) -> Result<Locator, ApiError> {
    let bytes = hex_field(body, "locator", Some(LOCATOR_LEN))?;
    Ok(Locator(bytes.try_into().expect("length checked")))
}

impl Tower {
    /// Open the tower's store at `path`. A new tower takes `genesis` as its
    /// last processed block and `make_key()` as its key.
    pub fn open(
        path: &std::path::Path,
        config: Config,
        genesis: impl FnOnce() -> BlockRef,
        make_key: impl FnOnce() -> SecretKey,
    ) -> Result<Tower, StoreError> {
        let mut store = Store::open(path)?;
        let key = store.tower_key(make_key)?;
        let tip = match store.last_block()? {
            Some(tip) => tip,
            None => {
                let tip = genesis();
                store.batch(|b| b.set_last_block(tip))?;
                tip
            }
        };
        let secp = Secp256k1::new();
        Ok(Tower {
            locators: store.locators()?,
            id: PublicKey::from_secret_key(&secp, &key),
            store,
            key,
            secp,
            tip,
            config,
        })
    }

    /// The tower's public key (its id).
    pub fn id(&self) -> PublicKey {
        self.id
    }

    /// The last block processed.
    pub fn tip(&self) -> BlockRef {
        self.tip
    }

    /// The store, to read.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many distinct locators are watched.
    pub fn watched_locators(&self) -> usize {
        self.locators.len()
    }

    fn sign(&self, message: &[u8]) -> String {
        message_signing::sign(&self.secp, message, &self.key)
    }

    /// The registered, unexpired user whose key `signature` recovers to.
    fn authenticate(
        &self,
        message: &[u8],
        signature: &str,
    ) -> Result<(PublicKey, UserInfo), ApiError> {
        const REFUSED: &str = "Invalid signature or user does not have enough slots available";
        let user = message_signing::recover(&self.secp, message, signature)
            .map_err(|_| ApiError::unauthorized(REFUSED))?;
        let info = self
            .store
            .user(&user)?
            .ok_or_else(|| ApiError::unauthorized(REFUSED))?;
        if self.tip.height >= info.subscription_expiry {
            return Err(ApiError::unauthorized(format!(
                "Your subscription expired at {}",
                info.subscription_expiry
            )));
        }
        Ok((user, info))
    }

    /// `register`: a new subscription, or more slots and a later expiry for an existing one.
    pub fn register(&mut self, body: &Value) -> Result<Value, ApiError> {
        let bytes = hex_field(body, "user_id", Some(33))?;
        let user = PublicKey::from_slice(&bytes).map_err(|_| {
            ApiError::bad(
                codes::WRONG_FIELD_FORMAT,
                "Received invalid user_id: not a compressed public key",
            )
        })?;
        let now = self.tip.height;
        let info = match self.store.user(&user)? {
            Some(old) => UserInfo {
                available_slots: old
                    .available_slots
                    .checked_add(self.config.slots)
                    .ok_or_else(|| {
                        ApiError::bad(
                            codes::REGISTRATION_RESOURCE_EXHAUSTED,
                            "Subscription maximum slots count reached",
                        )
                    })?,
                subscription_start: old.subscription_start,
                subscription_expiry: now + self.config.duration,
            },
            None => UserInfo {
                available_slots: self.config.slots,
                subscription_start: now,
                subscription_expiry: now + self.config.duration,
            },
        };
        self.store.batch(|b| b.put_user(&user, &info))?;
        // The receipt teos signs: user_id || available_slots || start || expiry, big-endian.
        let mut receipt = user.serialize().to_vec();
        for n in [
            info.available_slots,
            info.subscription_start,
            info.subscription_expiry,
        ] {
            receipt.extend(n.to_be_bytes());
        }
        Ok(json!({
            "user_id": user.to_string(),
            "available_slots": info.available_slots,
            "subscription_start": info.subscription_start,
            "subscription_expiry": info.subscription_expiry,
            "subscription_signature": self.sign(&receipt),
        }))
    }

    /// `add_appointment`: watch a locator for a user (a second one at the same locator replaces the first).
    pub fn add_appointment(&mut self, body: &Value) -> Result<Value, ApiError> {
        let a = field(body, "appointment")?;
        if !a.is_object() {
            return Err(ApiError::bad(
                codes::WRONG_FIELD_TYPE,
                "invalid type: `appointment` must be an object",
            ));
        }
        let locator = locator_field(a)?;
        let encrypted_blob = hex_field(a, "encrypted_blob", None)?;
        if encrypted_blob.len() > self.config.max_blob {
            return Err(ApiError::bad(
                codes::APPOINTMENT_FIELD_TOO_BIG,
                format!(
                    "`encrypted_blob` is {} bytes, at most {} are accepted",
                    encrypted_blob.len(),
                    self.config.max_blob
                ),
            ));
        }
        let to_self_delay = field(a, "to_self_delay")?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                ApiError::bad(
                    codes::WRONG_FIELD_TYPE,
                    "invalid type: `to_self_delay` must be a u32",
                )
            })?;
        if to_self_delay < self.config.min_to_self_delay {
            return Err(ApiError::bad(
                codes::APPOINTMENT_FIELD_TOO_SMALL,
                format!(
                    "`to_self_delay` is {to_self_delay}, at least {} is accepted",
                    self.config.min_to_self_delay
                ),
            ));
        }
        let signature = str_field(body, "signature")?;
        let appointment = Appointment {
            locator,
            encrypted_blob,
            to_self_delay,
        };
        let (user, mut info) = self.authenticate(&appointment.signed_bytes(), signature)?;
        if self.store.triggered(&locator)? {
            return Err(ApiError::bad(
                codes::APPOINTMENT_ALREADY_TRIGGERED,
                "The provided appointment has already been triggered",
            ));
        }
        let old = self.store.appointment(&locator, &user)?;
        let freed = old
            .as_ref()
            .map_or(0, |o| slots_for(o.appointment.encrypted_blob.len()));
        let needed = slots_for(appointment.encrypted_blob.len());
        if needed > info.available_slots + freed {
            return Err(ApiError::unauthorized(
                "Invalid signature or user does not have enough slots available",
            ));
        }
        info.available_slots = info.available_slots + freed - needed;
        let stored = StoredAppointment {
            appointment,
            user_id: user,
            start_block: self.tip.height,
            user_signature: signature.to_string(),
        };
        self.store.batch(|b| {
            b.put_user(&user, &info)?;
            b.put_appointment(&stored)
        })?;
        if old.is_none() {
            *self.locators.entry(locator).or_default() += 1;
        }
        // The receipt teos signs: the user's signature (as text) || start_block.
        let mut receipt = signature.as_bytes().to_vec();
        receipt.extend(stored.start_block.to_be_bytes());
        Ok(json!({
            "locator": locator.to_string(),
            "start_block": stored.start_block,
            "signature": self.sign(&receipt),
            "available_slots": info.available_slots,
            "subscription_expiry": info.subscription_expiry,
        }))
    }

    /// `get_appointment`: what the tower holds for a user at a locator.
    pub fn get_appointment(&self, body: &Value) -> Result<Value, ApiError> {
        let locator = locator_field(body)?;
        let signature = str_field(body, "signature")?;
        let (user, _) =
            self.authenticate(format!("get appointment {locator}").as_bytes(), signature)?;
        if let Some(t) = self.store.tracker(&locator, &user)? {
            return Ok(json!({
                "appointment": {
                    "dispute_txid": t.breach_txid.to_string(),
                    "penalty_txid": t.penalty.compute_txid().to_string(),
                    "penalty_rawtx": serialize_hex(&t.penalty),
                },
                "status": "dispute_responded",
            }));
        }
        match self.store.appointment(&locator, &user)? {
            Some(a) => Ok(json!({
                "appointment": a.appointment,
                "status": "being_watched",
            })),
            None => Err(ApiError::new(
                404,
                codes::APPOINTMENT_NOT_FOUND,
                "Appointment not found",
            )),
        }
    }

    /// `get_subscription_info`: a user's slots, expiry and locators.
    pub fn get_subscription_info(&self, body: &Value) -> Result<Value, ApiError> {
        let signature = str_field(body, "signature")?;
        let (user, info) = self.authenticate(b"get subscription info", signature)?;
        let locators: Vec<String> = self
            .store
            .user_locators(&user)?
            .iter()
            .map(Locator::to_string)
            .collect();
        Ok(json!({
            "available_slots": info.available_slots,
            "subscription_expiry": info.subscription_expiry,
            "locators": locators,
        }))
    }

    /// A block joined the best chain: match its transactions, start tracking
    /// the penalties of the breaches found, mark the penalties it confirms,
    /// drop what is resolved or expired. All of it is stored in one
    /// transaction before the caller broadcasts anything.
    pub fn block_connected(
        &mut self,
        block: &Block,
        height: u32,
    ) -> Result<BlockOutcome, StoreError> {
        let mut out = BlockOutcome::default();
        let locators = &self.locators;
        let store = &self.store;
        let mut lookup_error = None;
        let found = scan_block(block, |l| {
            if !locators.contains_key(l) {
                return vec![];
            }
            match store.appointments_at(l) {
                Ok(v) => v
                    .into_iter()
                    .map(|(u, a)| ((u, a.user_id), a.appointment.encrypted_blob))
                    .collect(),
                Err(e) => {
                    lookup_error = Some(e);
                    vec![]
                }
            }
        });
        if let Some(e) = lookup_error {
            return Err(e);
        }
        let in_block: std::collections::HashSet<_> =
            block.txdata.iter().map(|t| t.compute_txid()).collect();
        let mut trackers = self.store.trackers()?;
        let mut new_trackers = vec![];
        let mut dropped = vec![];
        for ((uuid, user_id), opened) in found {
            dropped.push((uuid, opened.locator));
            match opened.outcome {
                Ok((penalty, _)) => new_trackers.push(Tracker {
                    uuid,
                    locator: opened.locator,
                    user_id,
                    breach_txid: opened.breach_txid,
                    confirmed_height: in_block.contains(&penalty.compute_txid()).then_some(height),
                    penalty,
                    broadcast_height: height,
                }),
                Err(why) => out.refused.push((opened.locator, why)),
            }
        }
        let mut changed = vec![];
        let mut resolved = vec![];
        for t in &mut trackers {
            match t.confirmed_height {
                None if in_block.contains(&t.penalty.compute_txid()) => {
                    t.confirmed_height = Some(height);
                    changed.push(t.clone());
                }
                Some(c) if height + 1 - c >= self.config.safe_depth => resolved.push(t.uuid),
                _ => {}
            }
        }
        out.resolved = resolved.len();
        let tip = BlockRef {
            height,
            hash: block.block_hash(),
        };
        let expiry_delta = self.config.expiry_delta;
        let mut gone_locators = vec![];
        self.store.batch(|b| {
            for (uuid, _) in &dropped {
                b.delete_appointment(uuid)?;
            }
            for t in new_trackers.iter().chain(&changed) {
                b.put_tracker(t)?;
            }
            for uuid in &resolved {
                b.delete_tracker(uuid)?;
            }
            if let Some(cutoff) = height.checked_sub(expiry_delta) {
                for user in b.users_expired_by(cutoff)? {
                    gone_locators.extend(b.delete_user(&user)?);
                }
            }
            b.set_last_block(tip)
        })?;
        for l in dropped.iter().map(|(_, l)| l).chain(&gone_locators) {
            if let Some(n) = self.locators.get_mut(l) {
                *n -= 1;
                if *n == 0 {
                    self.locators.remove(l);
                }
            }
        }
        self.tip = tip;
        out.broadcast = new_trackers
            .iter()
            .chain(trackers.iter().filter(|t| !resolved.contains(&t.uuid)))
            .filter(|t| t.confirmed_height.is_none())
            .map(|t| t.penalty.clone())
            .collect();
        Ok(out)
    }

    /// A block left the best chain: the penalties it confirmed are
    /// unconfirmed again (and go out again with the next block).
    pub fn block_disconnected(&mut self, prev: BlockHash, height: u32) -> Result<(), StoreError> {
        let trackers = self.store.trackers()?;
        let tip = BlockRef {
            height: height - 1,
            hash: prev,
        };
        self.store.batch(|b| {
            for mut t in trackers
                .into_iter()
                .filter(|t| t.confirmed_height >= Some(height))
            {
                t.confirmed_height = None;
                b.put_tracker(&t)?;
            }
            b.set_last_block(tip)
        })?;
        self.tip = tip;
        Ok(())
    }

    /// The penalties broadcast and not yet confirmed.
    pub fn unconfirmed_penalties(&self) -> Result<Vec<Transaction>, StoreError> {
        Ok(self
            .store
            .trackers()?
            .into_iter()
            .filter(|t| t.confirmed_height.is_none())
            .map(|t| t.penalty)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;
    use bitcoin::{
        absolute, transaction, Amount, OutPoint, ScriptBuf, Sequence, TxIn, TxOut, Witness,
    };

    /// A "breach" paying P2WSH(OP_TRUE), and a "penalty" taking that output:
    /// both verify with the kernel, so the tower's checks run for real.
    fn breach_and_penalty(seed: u8) -> (Transaction, Transaction) {
        let op_true = ScriptBuf::from_bytes(vec![0x51]);
        let breach = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(bitcoin::Txid::from_byte_array([seed; 32]), 0),
                ..Default::default()
            }],
            output: vec![TxOut {
                value: Amount::from_sat(100_000),
                script_pubkey: ScriptBuf::new_p2wsh(&op_true.wscript_hash()),
            }],
        };
        let penalty = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(breach.compute_txid(), 0),
                sequence: Sequence::MAX,
                script_sig: ScriptBuf::new(),
                witness: Witness::from_slice(&[op_true.as_bytes()]),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(99_000),
                script_pubkey: ScriptBuf::new_op_return([seed]),
            }],
        };
        (breach, penalty)
    }

    fn block(prev: BlockHash, txs: Vec<Transaction>) -> Block {
        use bitcoin::block::{Header, Version};
        Block {
            header: Header {
                version: Version::TWO,
                prev_blockhash: prev,
                merkle_root: bitcoin::TxMerkleNode::all_zeros(),
                time: 0,
                bits: bitcoin::CompactTarget::from_consensus(0x207fffff),
                nonce: 0,
            },
            txdata: txs,
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        tower: Tower,
        user: SecretKey,
        secp: Secp256k1<All>,
    }

    fn fixture(config: Config) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let genesis = BlockRef {
            height: 100,
            hash: BlockHash::all_zeros(),
        };
        let tower = Tower::open(
            &dir.path().join("t.sqlite"),
            config,
            || genesis,
            || SecretKey::from_slice(&[7; 32]).unwrap(),
        )
        .unwrap();
        Fixture {
            _dir: dir,
            tower,
            user: SecretKey::from_slice(&[9; 32]).unwrap(),
            secp: Secp256k1::new(),
        }
    }

    impl Fixture {
        fn user_id(&self) -> PublicKey {
            PublicKey::from_secret_key(&self.secp, &self.user)
        }
        fn register(&mut self) -> Value {
            let id = self.user_id().to_string();
            self.tower.register(&json!({ "user_id": id })).unwrap()
        }
        fn add(&mut self, a: &Appointment) -> Result<Value, ApiError> {
            let sig = message_signing::sign(&self.secp, &a.signed_bytes(), &self.user);
            self.tower.add_appointment(&json!({
                "appointment": {
                    "locator": a.locator.to_string(),
                    "encrypted_blob": hex::encode(&a.encrypted_blob),
                    "to_self_delay": a.to_self_delay,
                },
                "signature": sig,
            }))
        }
        fn get(&self, l: &Locator) -> Result<Value, ApiError> {
            let sig = message_signing::sign(
                &self.secp,
                format!("get appointment {l}").as_bytes(),
                &self.user,
            );
            self.tower
                .get_appointment(&json!({"locator": l.to_string(), "signature": sig}))
        }
        fn connect(&mut self, txs: Vec<Transaction>) -> BlockOutcome {
            let tip = self.tower.tip();
            let b = block(tip.hash, txs);
            self.tower.block_connected(&b, tip.height + 1).unwrap()
        }
    }

    #[test]
    fn a_registered_user_adds_an_appointment_and_the_breach_triggers_it_once() {
        let mut f = fixture(Config::default());
        let reg = f.register();
        assert_eq!(reg["available_slots"], 10_000);
        assert_eq!(reg["subscription_expiry"], 100 + 4_320);
        // The receipt recovers to the tower's key.
        let mut receipt = f.user_id().serialize().to_vec();
        for n in [10_000u32, 100, 4_420] {
            receipt.extend(n.to_be_bytes());
        }
        assert_eq!(
            message_signing::recover(
                &f.secp,
                &receipt,
                reg["subscription_signature"].as_str().unwrap()
            ),
            Ok(f.tower.id())
        );
        let (breach, penalty) = breach_and_penalty(1);
        let a = Appointment::new(&penalty, &breach.compute_txid(), 144);
        let added = f.add(&a).unwrap();
        assert_eq!(added["available_slots"], 9_999);
        assert_eq!(added["start_block"], 100);
        assert_eq!(f.get(&a.locator).unwrap()["status"], "being_watched");
        // A block without the breach: nothing.
        let (other, _) = breach_and_penalty(2);
        assert_eq!(f.connect(vec![other]), BlockOutcome::default());
        // The breach: the penalty goes out, and the appointment became a tracker.
        let out = f.connect(vec![breach.clone()]);
        assert_eq!(out.broadcast, vec![penalty.clone()]);
        let got = f.get(&a.locator).unwrap();
        assert_eq!(got["status"], "dispute_responded");
        assert_eq!(
            got["appointment"]["penalty_txid"],
            penalty.compute_txid().to_string()
        );
        assert_eq!(f.tower.watched_locators(), 0);
        // Unconfirmed, it goes out again with the next block; confirmed, it does not.
        assert_eq!(f.connect(vec![]).broadcast, vec![penalty.clone()]);
        assert_eq!(f.connect(vec![penalty.clone()]).broadcast, vec![]);
        // The locator triggered: a new appointment for it is refused.
        assert_eq!(
            f.add(&a).unwrap_err().error_code,
            codes::APPOINTMENT_ALREADY_TRIGGERED
        );
    }

    #[test]
    fn a_reorg_that_unconfirms_the_penalty_gets_it_rebroadcast_until_safe_depth() {
        let mut f = fixture(Config {
            safe_depth: 3,
            ..Config::default()
        });
        f.register();
        let (breach, penalty) = breach_and_penalty(3);
        f.add(&Appointment::new(&penalty, &breach.compute_txid(), 144))
            .unwrap();
        f.connect(vec![breach]);
        let before = f.tower.tip();
        f.connect(vec![penalty.clone()]);
        let confirmed_at = f.tower.tip();
        // The block that confirmed it leaves the best chain.
        f.tower
            .block_disconnected(before.hash, confirmed_at.height)
            .unwrap();
        assert_eq!(f.tower.tip(), before);
        assert_eq!(
            f.tower.unconfirmed_penalties().unwrap(),
            vec![penalty.clone()]
        );
        assert_eq!(f.connect(vec![]).broadcast, vec![penalty.clone()]);
        // Confirmed again; after 3 confirmations the tracker is dropped.
        assert!(f.connect(vec![penalty.clone()]).broadcast.is_empty());
        assert_eq!(f.connect(vec![]).resolved, 0);
        assert_eq!(f.connect(vec![]).resolved, 1);
        assert!(f.tower.store().trackers().unwrap().is_empty());
    }

    #[test]
    fn a_blob_that_gives_no_valid_penalty_is_dropped_without_broadcast() {
        let mut f = fixture(Config::default());
        f.register();
        let (breach, _) = breach_and_penalty(4);
        let (_, unrelated) = breach_and_penalty(5);
        f.add(&Appointment::new(&unrelated, &breach.compute_txid(), 144))
            .unwrap();
        let out = f.connect(vec![breach]);
        assert!(out.broadcast.is_empty());
        assert!(
            matches!(out.refused[..], [(_, Refusal::DoesNotSpend { .. })]),
            "{out:?}"
        );
        assert_eq!(f.tower.watched_locators(), 0);
    }

    #[test]
    fn refusals_carry_teos_codes() {
        let mut f = fixture(Config {
            duration: 2,
            max_blob: 300,
            ..Config::default()
        });
        let (breach, penalty) = breach_and_penalty(6);
        let a = Appointment::new(&penalty, &breach.compute_txid(), 144);
        // Unregistered.
        let e = f.add(&a).unwrap_err();
        assert_eq!(
            (e.status, e.error_code),
            (401, codes::INVALID_SIGNATURE_OR_SUBSCRIPTION_ERROR)
        );
        f.register();
        // A signature by someone else over the same appointment.
        let mut body = json!({
            "appointment": {"locator": a.locator.to_string(), "encrypted_blob": hex::encode(&a.encrypted_blob), "to_self_delay": 144},
            "signature": message_signing::sign(&f.secp, &a.signed_bytes(), &SecretKey::from_slice(&[3; 32]).unwrap()),
        });
        assert_eq!(f.tower.add_appointment(&body).unwrap_err().status, 401);
        body["signature"] = json!("not a signature");
        assert_eq!(f.tower.add_appointment(&body).unwrap_err().status, 401);
        // A blob over the limit; a delay under the minimum; malformed fields.
        let big = Appointment {
            encrypted_blob: vec![0; 301],
            ..a.clone()
        };
        assert_eq!(
            f.add(&big).unwrap_err().error_code,
            codes::APPOINTMENT_FIELD_TOO_BIG
        );
        let short = Appointment {
            to_self_delay: 5,
            ..a.clone()
        };
        assert_eq!(
            f.add(&short).unwrap_err().error_code,
            codes::APPOINTMENT_FIELD_TOO_SMALL
        );
        let e = f
            .tower
            .add_appointment(&json!({"signature": "x"}))
            .unwrap_err();
        assert_eq!(
            (e.error_code, e.error.as_str()),
            (codes::MISSING_FIELD, "missing field `appointment`")
        );
        let e = f.tower.register(&json!({"user_id": "02abcd"})).unwrap_err();
        assert_eq!(e.error_code, codes::WRONG_FIELD_SIZE);
        let e = f.tower.register(&json!({"user_id": 5})).unwrap_err();
        assert_eq!(e.error_code, codes::WRONG_FIELD_TYPE);
        let e = f.tower.register(&json!({"user_id": ""})).unwrap_err();
        assert_eq!(e.error_code, codes::EMPTY_FIELD);
        let e = f
            .tower
            .register(&json!({"user_id": format!("05{}", "11".repeat(32))}))
            .unwrap_err();
        assert_eq!(e.error_code, codes::WRONG_FIELD_FORMAT);
        let e = f.get(&Locator([1; 16])).unwrap_err();
        assert_eq!(
            (e.status, e.error_code),
            (404, codes::APPOINTMENT_NOT_FOUND)
        );
        // The subscription ends at 102: from then on it is refused, and six blocks later the user is gone.
        f.add(&a).unwrap();
        f.connect(vec![]);
        f.connect(vec![]);
        let e = f.add(&a).unwrap_err();
        assert_eq!(e.error, "Your subscription expired at 102");
        for _ in 0..6 {
            f.connect(vec![]);
        }
        assert_eq!(f.tower.store().user(&f.user_id()).unwrap(), None);
        assert_eq!(f.tower.watched_locators(), 0);
    }

    proptest::proptest! {
        /// The `tower_request` fuzz target's property on stable: any JSON
        /// body, shaped like a request or not, is answered or refused with
        /// one of teos's codes, on every endpoint; nothing panics.
        #[test]
        fn any_request_body_is_answered_or_refused_with_a_code(body in request()) {
            let mut f = fixture(Config::default());
            f.register();
            for answer in [
                f.tower.register(&body),
                f.tower.add_appointment(&body),
                f.tower.get_appointment(&body),
                f.tower.get_subscription_info(&body),
            ] {
                if let Err(e) = answer {
                    proptest::prop_assert!(matches!(e.status, 400 | 401 | 404));
                    proptest::prop_assert!(e.error_code != codes::UNEXPECTED_ERROR);
                }
            }
        }
    }

    /// JSON values built from the requests' field names, with values of every type.
    fn request() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u32>().prop_map(Value::from),
            "[0-9a-f]{0,70}".prop_map(Value::from),
            ".{0,20}".prop_map(Value::from),
        ];
        let keys = prop_oneof![
            Just("user_id"),
            Just("appointment"),
            Just("locator"),
            Just("encrypted_blob"),
            Just("to_self_delay"),
            Just("signature"),
        ];
        leaf.prop_recursive(3, 24, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(keys.clone().prop_map(String::from), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn a_tower_reopens_with_its_key_users_appointments_and_tip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let genesis = BlockRef {
            height: 7,
            hash: BlockHash::all_zeros(),
        };
        let mut f = fixture(Config::default());
        f.tower = Tower::open(
            &path,
            Config::default(),
            || genesis,
            || SecretKey::from_slice(&[7; 32]).unwrap(),
        )
        .unwrap();
        f.register();
        let (breach, penalty) = breach_and_penalty(8);
        let a = Appointment::new(&penalty, &breach.compute_txid(), 144);
        f.add(&a).unwrap();
        f.connect(vec![]);
        let (id, tip) = (f.tower.id(), f.tower.tip());
        f.tower = Tower::open(
            &path,
            Config::default(),
            || unreachable!(),
            || unreachable!(),
        )
        .unwrap();
        assert_eq!(
            (f.tower.id(), f.tower.tip(), f.tower.watched_locators()),
            (id, tip, 1)
        );
        assert_eq!(f.get(&a.locator).unwrap()["status"], "being_watched");
        assert_eq!(f.connect(vec![breach]).broadcast, vec![penalty]);
    }
}
