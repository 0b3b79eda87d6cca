//! The tower's store: SQLite in WAL mode with `synchronous=FULL`, so an
//! appointment the tower acknowledged survives `kill -9` and power loss.
//!
//! Users, the appointments they watch for, the trackers of penalties the tower
//! broadcast, and the last block it processed. An appointment is keyed by
//! SHA256(locator || user_id), as teos's UUID: one user holds one
//! appointment per locator (a new one replaces it), and several users may
//! watch the same locator.

use std::collections::HashMap;
use std::path::Path;

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::{BlockHash, Transaction, Txid};
use rusqlite::{params, Connection, OptionalExtension};

use super::appointment::{Appointment, Locator, LOCATOR_LEN};
use crate::chain::BlockRef;

/// The schema version this code writes.
pub const SCHEMA_VERSION: u32 = 1;

const SCHEMA: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE users (
        user_id BLOB PRIMARY KEY, available_slots INTEGER NOT NULL,
        subscription_start INTEGER NOT NULL, subscription_expiry INTEGER NOT NULL);
    CREATE INDEX users_by_expiry ON users (subscription_expiry);
    CREATE TABLE appointments (
        uuid BLOB PRIMARY KEY, locator BLOB NOT NULL, user_id BLOB NOT NULL,
        encrypted_blob BLOB NOT NULL, to_self_delay INTEGER NOT NULL,
        start_block INTEGER NOT NULL, user_signature TEXT NOT NULL) WITHOUT ROWID;
    CREATE INDEX appointments_by_locator ON appointments (locator);
    CREATE INDEX appointments_by_user ON appointments (user_id);
    CREATE TABLE trackers (
        uuid BLOB PRIMARY KEY, locator BLOB NOT NULL, user_id BLOB NOT NULL,
        breach_txid BLOB NOT NULL, penalty_txid BLOB NOT NULL, penalty_tx BLOB NOT NULL,
        broadcast_height INTEGER NOT NULL, confirmed_height INTEGER) WITHOUT ROWID;
    CREATE INDEX trackers_by_locator ON trackers (locator);
";

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite.
    #[error("tower store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row that does not read back.
    #[error("tower store: a stored {0} does not decode")]
    Decode(&'static str),
    /// A newer schema than this code knows.
    #[error("tower store: schema version {0} is newer than this lnkit ({SCHEMA_VERSION})")]
    TooNew(u32),
}

/// An appointment's key: SHA256(locator || user_id).
pub fn uuid(locator: &Locator, user: &PublicKey) -> [u8; 32] {
    let mut data = locator.0.to_vec();
    data.extend_from_slice(&user.serialize());
    sha256::Hash::hash(&data).to_byte_array()
}

/// A user's subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// Slots left (an appointment takes one per 2,048 bytes of blob).
    pub available_slots: u32,
    /// The height the subscription started at.
    pub subscription_start: u32,
    /// The height it ends at.
    pub subscription_expiry: u32,
}

/// An appointment as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAppointment {
    /// The appointment.
    pub appointment: Appointment,
    /// Its owner.
    pub user_id: PublicKey,
    /// The height the tower started watching at.
    pub start_block: u32,
    /// The owner's signature of it.
    pub user_signature: String,
}

/// A penalty the tower broadcast, tracked to a safe depth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracker {
    /// The appointment it came from.
    pub uuid: [u8; 32],
    /// Its locator.
    pub locator: Locator,
    /// Its owner.
    pub user_id: PublicKey,
    /// The breach.
    pub breach_txid: Txid,
    /// The penalty.
    pub penalty: Transaction,
    /// The height of the block whose breach triggered it.
    pub broadcast_height: u32,
    /// The height of the block that confirmed the penalty, if one did.
    pub confirmed_height: Option<u32>,
}

/// The tower's SQLite store.
pub struct Store {
    conn: Connection,
}

fn pk(bytes: Vec<u8>) -> Result<PublicKey, StoreError> {
    PublicKey::from_slice(&bytes).map_err(|_| StoreError::Decode("user id"))
}

fn locator(bytes: Vec<u8>) -> Result<Locator, StoreError> {
    <[u8; LOCATOR_LEN]>::try_from(bytes.as_slice())
        .map(Locator)
        .map_err(|_| StoreError::Decode("locator"))
}

impl Store {
    /// Open (or create) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew(version));
        }
        if version == 0 {
            conn.execute_batch(&format!(
                "BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))?;
        }
        Ok(Store { conn })
    }

    /// Run `f` in one transaction: all of it is durable, or none.
    pub fn batch<T>(
        &mut self,
        f: impl FnOnce(&Batch<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self.conn.transaction()?;
        let out = f(&Batch { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// The tower's signing key, created on first use by `make`.
    pub fn tower_key(&mut self, make: impl FnOnce() -> SecretKey) -> Result<SecretKey, StoreError> {
        let stored: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'tower_key'", [], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(bytes) = stored {
            return SecretKey::from_slice(&bytes).map_err(|_| StoreError::Decode("tower key"));
        }
        let key = make();
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('tower_key', ?1)",
            params![key.secret_bytes().to_vec()],
        )?;
        Ok(key)
    }

    /// The last block processed.
    pub fn last_block(&self) -> Result<Option<BlockRef>, StoreError> {
        let v: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'last_block'", [], |r| {
                r.get(0)
            })
            .optional()?;
        v.map(|b| {
            let height = u32::from_be_bytes(
                b[..4]
                    .try_into()
                    .map_err(|_| StoreError::Decode("last block"))?,
            );
            let hash: BlockHash =
                deserialize(&b[4..]).map_err(|_| StoreError::Decode("last block"))?;
            Ok(BlockRef { height, hash })
        })
        .transpose()
    }

    /// Every locator watched, with how many appointments watch it.
    pub fn locators(&self) -> Result<HashMap<Locator, u32>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT locator, COUNT(*) FROM appointments GROUP BY locator")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, u32>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (l, n) = row?;
            out.insert(locator(l)?, n);
        }
        Ok(out)
    }

    /// A user's subscription.
    pub fn user(&self, user: &PublicKey) -> Result<Option<UserInfo>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT available_slots, subscription_start, subscription_expiry FROM users WHERE user_id = ?1",
                params![user.serialize().to_vec()],
                |r| {
                    Ok(UserInfo {
                        available_slots: r.get(0)?,
                        subscription_start: r.get(1)?,
                        subscription_expiry: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// The locators a user's appointments watch.
    pub fn user_locators(&self, user: &PublicKey) -> Result<Vec<Locator>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT locator FROM appointments WHERE user_id = ?1 ORDER BY locator")?;
        let rows = stmt.query_map(params![user.serialize().to_vec()], |r| {
            r.get::<_, Vec<u8>>(0)
        })?;
        rows.map(|r| locator(r?)).collect()
    }

    /// Every appointment watching `locator`.
    pub fn appointments_at(
        &self,
        at: &Locator,
    ) -> Result<Vec<([u8; 32], StoredAppointment)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT uuid, user_id, encrypted_blob, to_self_delay, start_block, user_signature
             FROM appointments WHERE locator = ?1",
        )?;
        let rows = stmt.query_map(params![at.0.to_vec()], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = vec![];
        for row in rows {
            let (uuid, user, blob, delay, start, sig) = row?;
            let uuid: [u8; 32] = uuid.try_into().map_err(|_| StoreError::Decode("uuid"))?;
            out.push((
                uuid,
                StoredAppointment {
                    appointment: Appointment {
                        locator: *at,
                        encrypted_blob: blob,
                        to_self_delay: delay,
                    },
                    user_id: pk(user)?,
                    start_block: start,
                    user_signature: sig,
                },
            ));
        }
        Ok(out)
    }

    /// A user's appointment at `locator`, if any.
    pub fn appointment(
        &self,
        at: &Locator,
        user: &PublicKey,
    ) -> Result<Option<StoredAppointment>, StoreError> {
        let id = uuid(at, user);
        Ok(self
            .appointments_at(at)?
            .into_iter()
            .find(|(u, _)| *u == id)
            .map(|(_, a)| a))
    }

    /// The tracker of a user's appointment at `locator`, if it triggered.
    pub fn tracker(&self, at: &Locator, user: &PublicKey) -> Result<Option<Tracker>, StoreError> {
        Ok(self
            .trackers_where("uuid = ?1", params![uuid(at, user).to_vec()])?
            .pop())
    }

    /// Every tracker.
    pub fn trackers(&self) -> Result<Vec<Tracker>, StoreError> {
        self.trackers_where("1", [])
    }

    /// Whether a locator already triggered (for any user).
    pub fn triggered(&self, at: &Locator) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM trackers WHERE locator = ?1 LIMIT 1",
                params![at.0.to_vec()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn trackers_where(
        &self,
        cond: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<Tracker>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT uuid, locator, user_id, breach_txid, penalty_tx, broadcast_height, confirmed_height
             FROM trackers WHERE {cond} ORDER BY broadcast_height, uuid"
        ))?;
        let rows = stmt.query_map(p, |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, u32>(5)?,
                r.get::<_, Option<u32>>(6)?,
            ))
        })?;
        let mut out = vec![];
        for row in rows {
            let (u, l, user, breach, tx, h, c) = row?;
            out.push(Tracker {
                uuid: u.try_into().map_err(|_| StoreError::Decode("uuid"))?,
                locator: locator(l)?,
                user_id: pk(user)?,
                breach_txid: deserialize(&breach).map_err(|_| StoreError::Decode("txid"))?,
                penalty: deserialize(&tx).map_err(|_| StoreError::Decode("penalty"))?,
                broadcast_height: h,
                confirmed_height: c,
            });
        }
        Ok(out)
    }

    /// Counts: users, appointments, trackers.
    pub fn counts(&self) -> Result<(u64, u64, u64), StoreError> {
        let count = |t: &str| -> Result<u64, StoreError> {
            Ok(self
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))?)
        };
        Ok((count("users")?, count("appointments")?, count("trackers")?))
    }
}

/// Writes inside one transaction.
pub struct Batch<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

impl Batch<'_> {
    /// Insert or replace a user's subscription.
    pub fn put_user(&self, user: &PublicKey, info: &UserInfo) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT OR REPLACE INTO users VALUES (?1, ?2, ?3, ?4)",
            params![
                user.serialize().to_vec(),
                info.available_slots,
                info.subscription_start,
                info.subscription_expiry
            ],
        )?;
        Ok(())
    }

    /// Insert or replace an appointment (its uuid from its locator and owner).
    pub fn put_appointment(&self, a: &StoredAppointment) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO appointments VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        stmt.execute(params![
            uuid(&a.appointment.locator, &a.user_id).to_vec(),
            a.appointment.locator.0.to_vec(),
            a.user_id.serialize().to_vec(),
            a.appointment.encrypted_blob,
            a.appointment.to_self_delay,
            a.start_block,
            a.user_signature
        ])?;
        Ok(())
    }

    /// Delete an appointment.
    pub fn delete_appointment(&self, uuid: &[u8; 32]) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM appointments WHERE uuid = ?1",
            params![uuid.to_vec()],
        )?;
        Ok(())
    }

    /// Delete a user with every appointment they hold; returns those appointments' locators.
    pub fn delete_user(&self, user: &PublicKey) -> Result<Vec<Locator>, StoreError> {
        let id = user.serialize().to_vec();
        let mut stmt = self
            .tx
            .prepare("SELECT locator FROM appointments WHERE user_id = ?1")?;
        let locators = stmt
            .query_map(params![id], |r| r.get::<_, Vec<u8>>(0))?
            .map(|r| locator(r?))
            .collect::<Result<Vec<_>, _>>()?;
        self.tx
            .execute("DELETE FROM appointments WHERE user_id = ?1", params![id])?;
        self.tx
            .execute("DELETE FROM users WHERE user_id = ?1", params![id])?;
        Ok(locators)
    }

    /// Users whose subscription ended at or before `height`.
    pub fn users_expired_by(&self, height: u32) -> Result<Vec<PublicKey>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT user_id FROM users WHERE subscription_expiry <= ?1")?;
        let rows = stmt.query_map(params![height], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|r| pk(r?)).collect()
    }

    /// Insert or replace a tracker.
    pub fn put_tracker(&self, t: &Tracker) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT OR REPLACE INTO trackers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                t.uuid.to_vec(),
                t.locator.0.to_vec(),
                t.user_id.serialize().to_vec(),
                serialize(&t.breach_txid),
                serialize(&t.penalty.compute_txid()),
                serialize(&t.penalty),
                t.broadcast_height,
                t.confirmed_height
            ],
        )?;
        Ok(())
    }

    /// Delete a tracker.
    pub fn delete_tracker(&self, uuid: &[u8; 32]) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM trackers WHERE uuid = ?1",
            params![uuid.to_vec()],
        )?;
        Ok(())
    }

    /// Record the last block processed.
    pub fn set_last_block(&self, block: BlockRef) -> Result<(), StoreError> {
        let mut v = block.height.to_be_bytes().to_vec();
        v.extend(serialize(&block.hash));
        self.tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_block', ?1)",
            params![v],
        )?;
        Ok(())
    }
}
