//! The node's store: SQLite in WAL mode with `synchronous=FULL`, so a
//! committed transaction survives `kill -9` and power loss.
//!
//! A channel is stored as its serde form in the same transaction as the
//! payment and invoice changes its step produced; the driver commits that
//! transaction before it sends the messages of the step. Its two update logs
//! (BOLT 2's `update_*` messages, onions included) are stored apart, one row
//! per update: an update is written once when it joins the log and deleted
//! once it is folded, rather than again with every write of the channel (50
//! HTLCs in flight made each channel row some 200 kB).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::channel::ledger::{HtlcEntry, Log};
use crate::channel::{Channel, ChannelId};
use crate::onion::failure::AttributionData;

/// The schema version this code writes.
pub const SCHEMA_VERSION: u32 = 7;

/// Each step takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE channels (id BLOB PRIMARY KEY, peer BLOB NOT NULL, state TEXT NOT NULL);
     CREATE TABLE peers (node_id BLOB PRIMARY KEY, address TEXT NOT NULL);
     CREATE TABLE invoices (
        payment_hash BLOB PRIMARY KEY,
        label TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL);
     CREATE TABLE payments (
        id INTEGER PRIMARY KEY,
        payment_hash BLOB NOT NULL,
        record TEXT NOT NULL);",
    // 1 -> 2: payments are found by the HTLC that carries them.
    "ALTER TABLE payments ADD COLUMN channel_id TEXT;
     ALTER TABLE payments ADD COLUMN htlc_id INTEGER;
     UPDATE payments SET channel_id = json_extract(record, '$.channel_id'),
                         htlc_id = json_extract(record, '$.htlc_id');
     CREATE UNIQUE INDEX payments_by_htlc ON payments (channel_id, htlc_id);
     CREATE INDEX payments_by_hash ON payments (payment_hash);",
    // 2 -> 3: the HTLCs of each commitment of theirs we signed (for a penalty
    // once it is revoked, BOLT 5), and, in --dev mode only, our own signed
    // commitments (to stage a breach).
    "CREATE TABLE remote_commitments (
        channel_id BLOB NOT NULL, number INTEGER NOT NULL, htlcs TEXT NOT NULL,
        PRIMARY KEY (channel_id, number));
     CREATE TABLE dev_commitments (
        channel_id BLOB NOT NULL, number INTEGER NOT NULL, tx TEXT NOT NULL,
        PRIMARY KEY (channel_id, number));",
    // 3 -> 4: the network's gossip we accepted (BOLT 7), as received: one
    // row per channel_announcement, per direction's newest channel_update,
    // per node's newest node_announcement.
    "CREATE TABLE gossip (key BLOB PRIMARY KEY, kind INTEGER NOT NULL, raw BLOB NOT NULL);",
    // 4 -> 5: HTLCs we forward, by the incoming HTLC, found again by the
    // outgoing one when it resolves.
    "CREATE TABLE forwards (
        in_channel TEXT NOT NULL, in_htlc INTEGER NOT NULL,
        out_channel TEXT, out_htlc INTEGER,
        received_at INTEGER NOT NULL, record TEXT NOT NULL,
        PRIMARY KEY (in_channel, in_htlc));
     CREATE INDEX forwards_by_out ON forwards (out_channel, out_htlc);",
    // 5 -> 6: each channel's update logs, one row per update (side 0: ours,
    // 1: theirs; idx: the update's absolute index in its log). A channel row
    // written before holds its logs inline, and is read as it is.
    "CREATE TABLE channel_updates (
        channel_id BLOB NOT NULL, side INTEGER NOT NULL, idx INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (channel_id, side, idx)) WITHOUT ROWID;",
    // 6 -> 7: watchtowers (BOLT 13 draft). Their commitments are kept whole
    // (for the txid an appointment is keyed by), and each appointment waits
    // here, per tower, until the tower acknowledges it (state 0 pending,
    // 1 accepted, 2 refused with `error`).
    "ALTER TABLE remote_commitments ADD COLUMN tx BLOB;
     CREATE TABLE tower_appointments (
        tower TEXT NOT NULL, locator BLOB NOT NULL,
        channel_id BLOB NOT NULL, number INTEGER NOT NULL,
        body TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0, error TEXT,
        PRIMARY KEY (tower, locator)) WITHOUT ROWID;",
];

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A record that does not read back.
    #[error("store: a stored record does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// A newer schema than this code knows.
    #[error(
        "store: schema version {0} is newer than this lnkit ({SCHEMA_VERSION}); upgrade lnkit"
    )]
    TooNew(u32),
}

/// An invoice as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    /// `label`.
    pub label: String,
    /// The BOLT 11 string.
    pub bolt11: String,
    /// `payment_hash`, hex.
    pub payment_hash: String,
    /// The preimage, hex.
    pub preimage: String,
    /// `payment_secret`, hex.
    pub payment_secret: String,
    /// The amount asked, if any.
    pub amount_msat: Option<u64>,
    /// `description`.
    pub description: String,
    /// Seconds since 1970.
    pub created_at: u64,
    /// Seconds since 1970.
    pub expires_at: u64,
    /// `min_final_cltv_expiry_delta`.
    pub min_final_cltv_expiry_delta: u32,
    /// When paid.
    pub paid_at: Option<u64>,
    /// What arrived.
    pub amount_received_msat: Option<u64>,
    /// The HTLC that paid it (channel id, HTLC id): a restart fulfils that one again.
    #[serde(default)]
    pub paid_by: Option<(String, u64)>,
    /// A hold invoice: its HTLCs wait for `settleinvoice` (which fills `preimage`) or `cancelinvoice`.
    #[serde(default)]
    pub hold: bool,
    /// Cancelled: its HTLCs are failed.
    #[serde(default)]
    pub canceled: bool,
    /// Every HTLC of the set that paid it (a multi-part payment's parts).
    #[serde(default)]
    pub paid_parts: Vec<(String, u64)>,
}

impl InvoiceRecord {
    /// Record an HTLC that pays the invoice (one of a set's parts, or the
    /// only one); the same HTLC twice counts once.
    pub fn record_htlc(
        &mut self,
        channel: String,
        htlc: u64,
        amount: crate::amount::Msat,
        now: u64,
    ) {
        if self.paid_by_htlc(&channel, htlc) {
            return;
        }
        self.paid_at.get_or_insert(now);
        self.paid_by.get_or_insert((channel.clone(), htlc));
        self.paid_parts.push((channel, htlc));
        self.amount_received_msat = Some(self.amount_received_msat.unwrap_or(0) + amount.0);
    }

    /// Whether this HTLC is one of those that paid the invoice (a restart answers it again).
    pub fn paid_by_htlc(&self, channel: &str, htlc: u64) -> bool {
        let is = |(c, id): &(String, u64)| c == channel && *id == htlc;
        self.paid_by.iter().chain(&self.paid_parts).any(is)
    }
}

/// A payment as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// Its row id.
    #[serde(default)]
    pub id: i64,
    /// `payment_hash`, hex.
    pub payment_hash: String,
    /// The invoice paid.
    pub bolt11: Option<String>,
    /// The payee.
    pub destination: String,
    /// What the payee gets.
    pub amount_msat: u64,
    /// What we sent (with fees).
    pub amount_sent_msat: u64,
    /// `pending`, `complete` or `failed`.
    pub status: String,
    /// Once complete.
    pub preimage: Option<String>,
    /// The channel and HTLC carrying it.
    pub channel_id: String,
    /// The HTLC's id.
    pub htlc_id: u64,
    /// The onion's session key, hex: to decode a failure, even after a restart.
    pub session_key: String,
    /// Seconds since 1970.
    pub created_at: u64,
    /// Seconds since 1970.
    pub completed_at: Option<u64>,
    /// Why it failed.
    pub failure: Option<String>,
    /// The whole payment's amount, when this HTLC is one part of it (0: it is the whole).
    #[serde(default)]
    pub total_msat: u64,
    /// Which attempt of the payment sent this part (1 for the first).
    #[serde(default)]
    pub attempt: u32,
    /// The part's route, from our peer to the payee.
    #[serde(default)]
    pub route: Vec<PartHop>,
    /// The onion's shared secret with each hop, hex: a failure is decoded
    /// with them, even after a restart (empty in older records: `session_key`).
    #[serde(default)]
    pub shared_secrets: Vec<String>,
    /// The failure's BOLT 4 name.
    #[serde(default)]
    pub failcode: Option<String>,
    /// The node that reported the failure.
    #[serde(default)]
    pub erring_node: Option<String>,
    /// The channel out of it that failed (none when the payee reported it).
    #[serde(default)]
    pub erring_channel: Option<String>,
    /// Hold times the hops reported in their attribution data, in route
    /// order, in milliseconds (each hop's HMAC verified).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hold_times_ms: Vec<u64>,
}

/// One hop of a payment's part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PartHop {
    /// The node reached.
    pub id: String,
    /// The channel taken to it (short channel id, or an alias).
    pub channel: String,
    /// 0 or 1 (BOLT 7: 0 leaves the lesser node id).
    pub direction: u8,
    /// What crosses the channel.
    pub amount_msat: u64,
    /// The HTLC's `cltv_expiry` on that channel.
    pub cltv_expiry: u32,
}

/// An HTLC we were asked to forward, as stored (Core Lightning's `listforwards`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardRecord {
    /// The incoming channel.
    pub in_channel: String,
    /// The incoming HTLC's id.
    pub in_htlc_id: u64,
    /// What came in.
    pub in_msat: u64,
    /// The incoming HTLC's `cltv_expiry`.
    pub in_cltv: u32,
    /// The outgoing channel, once an HTLC went out.
    pub out_channel: Option<String>,
    /// The outgoing HTLC's id.
    pub out_htlc_id: Option<u64>,
    /// What the onion asked us to forward.
    pub out_msat: u64,
    /// The outgoing `cltv_expiry`.
    pub out_cltv: u32,
    /// The `short_channel_id` the onion named.
    pub requested_scid: u64,
    /// `payment_hash`, hex.
    pub payment_hash: String,
    /// Our shared secret with the sender, hex: failures going back are wrapped with it.
    pub shared_secret: String,
    /// `offered`, `settled`, `failed` (downstream) or `local_failed` (by us).
    pub status: String,
    /// Once settled.
    pub preimage: Option<String>,
    /// The failure onion sent back, hex (sent again after a restart).
    pub fail_onion: Option<String>,
    /// The failure's name.
    pub failcode: Option<String>,
    /// Why it failed.
    pub failreason: Option<String>,
    /// Seconds since 1970.
    pub received_at: u64,
    /// Seconds since 1970.
    pub resolved_at: Option<u64>,
    /// Milliseconds since 1970 when it came in: our hold time is counted from it.
    #[serde(default)]
    pub received_ms: u64,
    /// The attribution data we sent back with the answer (sent again after a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Box<AttributionData>>,
}

/// The store.
pub struct Store {
    conn: Connection,
    /// What `channel_updates` holds, per channel: the logs as last written,
    /// so a write adds and deletes only what changed. A channel not here is
    /// written whole (its rows replaced) the next time.
    logs: LogCache,
}

type LogCache = HashMap<ChannelId, [Log; 2]>;

impl Store {
    /// Open (creating and migrating as needed).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store {
            conn,
            logs: HashMap::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version on disk.
    pub fn version(&self) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let v = self.version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew(v));
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", i as u32 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The HTLCs of their commitment `number` (none stored: it had none).
    pub fn remote_commitment(
        &self,
        id: &ChannelId,
        number: u64,
    ) -> Result<Vec<HtlcEntry>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT htlcs FROM remote_commitments WHERE channel_id = ?1 AND number = ?2",
                params![&id.0[..], number as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match json {
            Some(j) => serde_json::from_str(&j)?,
            None => vec![],
        })
    }

    /// Their commitment `number` as we signed it (unsigned: its txid), with
    /// its HTLCs, if it was stored whole (a node with watchtowers stores every one).
    pub fn remote_commitment_tx(
        &self,
        id: &ChannelId,
        number: u64,
    ) -> Result<Option<(bitcoin::Transaction, Vec<HtlcEntry>)>, StoreError> {
        let row: Option<(String, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT htlcs, tx FROM remote_commitments WHERE channel_id = ?1 AND number = ?2",
                params![&id.0[..], number as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((htlcs, Some(tx))) = row else {
            return Ok(None);
        };
        let tx = bitcoin::consensus::deserialize(&tx).map_err(|e| {
            StoreError::Sqlite(rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Blob,
                Box::new(e),
            ))
        })?;
        Ok(Some((tx, serde_json::from_str(&htlcs)?)))
    }

    /// A tower's appointments in `state` (0 pending, 1 accepted, 2 refused):
    /// locator and request body, in the order they were made.
    pub fn tower_appointments(
        &self,
        tower: &str,
        state: u8,
    ) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT locator, body FROM tower_appointments WHERE tower = ?1 AND state = ?2
             ORDER BY channel_id, number",
        )?;
        let rows = st.query_map(params![tower, state], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many of a tower's appointments are pending, accepted, refused.
    pub fn tower_counts(&self, tower: &str) -> Result<[u64; 3], StoreError> {
        let mut out = [0u64; 3];
        let mut st = self.conn.prepare(
            "SELECT state, COUNT(*) FROM tower_appointments WHERE tower = ?1 GROUP BY state",
        )?;
        let rows = st.query_map(params![tower], |r| {
            Ok((r.get::<_, u8>(0)?, r.get::<_, u64>(1)?))
        })?;
        for row in rows {
            let (state, n) = row?;
            if let Some(slot) = out.get_mut(usize::from(state)) {
                *slot = n;
            }
        }
        Ok(out)
    }

    /// Record what a tower said of an appointment (1 accepted, 2 refused, with why).
    pub fn set_tower_appointment(
        &self,
        tower: &str,
        locator: &[u8],
        state: u8,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE tower_appointments SET state = ?3, error = ?4 WHERE tower = ?1 AND locator = ?2",
            params![tower, locator, state, error],
        )?;
        Ok(())
    }

    /// Every stored gossip message, announcements first (the order they must be taken in again).
    pub fn gossip(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT raw FROM gossip ORDER BY kind, key")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `--dev`: our signed commitment `number`, hex.
    pub fn dev_commitment(
        &self,
        id: &ChannelId,
        number: u64,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT tx FROM dev_commitments WHERE channel_id = ?1 AND number = ?2",
                params![&id.0[..], number as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Start a transaction: everything written through it lands together.
    /// Inside a group it is a savepoint of the group's transaction, durable
    /// when the group ends; outside, durable when it commits.
    pub fn batch(&mut self) -> Result<Batch<'_>, StoreError> {
        Ok(Batch {
            tx: Some(self.conn.savepoint()?),
            logs: &mut self.logs,
        })
    }

    /// Open a group: every batch until [`Store::end_group`] shares one
    /// transaction and so one fsync (group commit). The caller holds back
    /// whatever depends on those writes until the group has ended.
    pub fn begin_group(&mut self) -> Result<(), StoreError> {
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN")?;
        }
        Ok(())
    }

    /// Commit the open group, if any: durable when this returns.
    pub fn end_group(&mut self) -> Result<(), StoreError> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// A `meta` value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Every channel, its logs included.
    pub fn channels(&self) -> Result<Vec<Channel>, StoreError> {
        let mut st = self.conn.prepare("SELECT state FROM channels")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        let mut channels: Vec<Channel> = rows
            .map(|r| Ok(serde_json::from_str(&r?)?))
            .collect::<Result<_, StoreError>>()?;
        let mut st = self.conn.prepare(
            "SELECT side, body FROM channel_updates WHERE channel_id = ?1 ORDER BY side, idx",
        )?;
        for ch in &mut channels {
            let rows = st.query_map([&ch.id.0[..]], |r| {
                Ok((r.get::<_, u8>(0)?, r.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (side, body) = row?;
                let log = match side {
                    0 => &mut ch.ledger.ours,
                    _ => &mut ch.ledger.theirs,
                };
                log.entries.push_back(serde_json::from_str(&body)?);
            }
        }
        Ok(channels)
    }

    /// The peers we have channels with, and their last address.
    pub fn peers(&self) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
        let mut st = self.conn.prepare("SELECT node_id, address FROM peers")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Invoices, newest last.
    pub fn invoices(&self) -> Result<Vec<InvoiceRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT record FROM invoices ORDER BY rowid")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// The invoice of a payment hash.
    pub fn invoice(&self, payment_hash: &str) -> Result<Option<InvoiceRecord>, StoreError> {
        let hash = hex::decode(payment_hash).unwrap_or_default();
        self.invoice_where("payment_hash = ?1", [hash])
    }

    /// The invoice with this label (labels are unique).
    pub fn invoice_labelled(&self, label: &str) -> Result<Option<InvoiceRecord>, StoreError> {
        self.invoice_where("label = ?1", [label])
    }

    /// The one invoice a unique column picks.
    fn invoice_where(
        &self,
        condition: &str,
        key: impl rusqlite::Params,
    ) -> Result<Option<InvoiceRecord>, StoreError> {
        let rec: Option<String> = self
            .conn
            .query_row(
                &format!("SELECT record FROM invoices WHERE {condition}"),
                key,
                |r| r.get(0),
            )
            .optional()?;
        Ok(rec.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    /// The forward of an incoming HTLC.
    pub fn forward_by_in(
        &self,
        channel_id: &str,
        htlc_id: u64,
    ) -> Result<Option<ForwardRecord>, StoreError> {
        self.forward_where("in_channel = ?1 AND in_htlc = ?2", channel_id, htlc_id)
    }

    /// The forward an outgoing HTLC of ours carries.
    pub fn forward_by_out(
        &self,
        channel_id: &str,
        htlc_id: u64,
    ) -> Result<Option<ForwardRecord>, StoreError> {
        self.forward_where("out_channel = ?1 AND out_htlc = ?2", channel_id, htlc_id)
    }

    fn forward_where(
        &self,
        clause: &str,
        channel_id: &str,
        htlc_id: u64,
    ) -> Result<Option<ForwardRecord>, StoreError> {
        let rec: Option<String> = self
            .conn
            .query_row(
                &format!("SELECT record FROM forwards WHERE {clause}"),
                params![channel_id, htlc_id as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(rec.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    /// Every forward, oldest first.
    pub fn forwards(&self) -> Result<Vec<ForwardRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT record FROM forwards ORDER BY received_at, rowid")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// The payment an HTLC of ours carries.
    pub fn payment_by_htlc(
        &self,
        channel_id: &str,
        htlc_id: u64,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT id, record FROM payments WHERE channel_id = ?1 AND htlc_id = ?2",
                params![channel_id, htlc_id as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(id, rec)| {
            let mut p: PaymentRecord = serde_json::from_str(&rec)?;
            p.id = id;
            Ok(p)
        })
        .transpose()
    }

    /// The payments of a hash.
    pub fn payments_of(&self, payment_hash: &str) -> Result<Vec<PaymentRecord>, StoreError> {
        let hash = hex::decode(payment_hash).unwrap_or_default();
        let mut st = self
            .conn
            .prepare("SELECT record FROM payments WHERE payment_hash = ?1")?;
        let rows = st.query_map([hash], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Payments, oldest first.
    pub fn payments(&self) -> Result<Vec<PaymentRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, record FROM payments ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        rows.map(|r| {
            let (id, rec) = r?;
            let mut p: PaymentRecord = serde_json::from_str(&rec)?;
            p.id = id;
            Ok(p)
        })
        .collect()
    }
}

/// Writes that commit together.
pub struct Batch<'a> {
    /// Taken by [`Batch::commit`]; dropped otherwise, which rolls it back.
    tx: Option<rusqlite::Savepoint<'a>>,
    logs: &'a mut LogCache,
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            // Rolled back: what the cache says was written may not be.
            self.logs.clear();
        }
    }
}

impl Batch<'_> {
    fn tx(&self) -> &rusqlite::Savepoint<'_> {
        self.tx.as_ref().expect("taken only by commit")
    }

    /// Run one statement, prepared once per connection (a busy node writes
    /// the same few statements thousands of times a second).
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
        Ok(self.tx().prepare_cached(sql)?.execute(params)?)
    }

    /// Set a `meta` value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    /// Store a channel (its temporary row, if any, is replaced).
    ///
    /// The logs are taken out of `ch` while the rest is serialized, and put
    /// back: they go to `channel_updates`, only what changed since the last write.
    pub fn put_channel(&mut self, ch: &mut Channel) -> Result<(), StoreError> {
        let cached = self.logs.remove(&ch.id);
        if cached.is_none() && ch.temporary_id != ch.id {
            // Once per channel and process: the row kept under the temporary id goes.
            self.delete_channel(&ch.temporary_id)?;
        }
        let ours = std::mem::take(&mut ch.ledger.ours.entries);
        let theirs = std::mem::take(&mut ch.ledger.theirs.entries);
        let state = serde_json::to_string(ch);
        ch.ledger.ours.entries = ours;
        ch.ledger.theirs.entries = theirs;
        self.exec(
            "INSERT INTO channels (id, peer, state) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET state = ?3",
            params![&ch.id.0[..], &ch.peer.serialize()[..], state?],
        )?;
        let mut stored = match cached {
            Some(logs) => logs,
            None => {
                // Not known to this process: its rows are written afresh.
                self.exec(
                    "DELETE FROM channel_updates WHERE channel_id = ?1",
                    [&ch.id.0[..]],
                )?;
                let empty = |l: &Log| Log {
                    start: l.start,
                    entries: Default::default(),
                };
                [empty(&ch.ledger.ours), empty(&ch.ledger.theirs)]
            }
        };
        self.put_log(&ch.id, 0, &mut stored[0], &ch.ledger.ours)?;
        self.put_log(&ch.id, 1, &mut stored[1], &ch.ledger.theirs)?;
        self.logs.insert(ch.id, stored);
        Ok(())
    }

    /// Bring one stored log (`stored`, what the rows hold) to `log`:
    /// delete what was folded or replaced, insert what is new.
    fn put_log(
        &self,
        id: &ChannelId,
        side: usize,
        stored: &mut Log,
        log: &Log,
    ) -> Result<(), StoreError> {
        let delete = |from: u64, to: u64| {
            self.exec(
                "DELETE FROM channel_updates
                 WHERE channel_id = ?1 AND side = ?2 AND idx >= ?3 AND idx < ?4",
                params![&id.0[..], side, from as i64, to.min(i64::MAX as u64) as i64],
            )
        };
        if log.start < stored.start {
            // Never happens (a log only folds forward); start over.
            delete(0, u64::MAX)?;
            *stored = Log {
                start: log.start,
                entries: Default::default(),
            };
        }
        // Folded: gone from the front.
        if log.start > stored.start {
            delete(stored.start, log.start)?;
            let n = (log.start - stored.start).min(stored.entries.len() as u64) as usize;
            stored.entries.drain(..n);
            stored.start = log.start;
        }
        // Truncated (a disconnect drops unsigned updates), perhaps refilled:
        // everything from the first difference on is written again.
        let same = stored
            .entries
            .iter()
            .zip(&log.entries)
            .take_while(|(a, b)| a == b)
            .count();
        if same < stored.entries.len() {
            delete(log.start + same as u64, u64::MAX)?;
            stored.entries.truncate(same);
        }
        for (i, u) in log.entries.iter().enumerate().skip(same) {
            self.exec(
                "INSERT INTO channel_updates (channel_id, side, idx, body) VALUES (?1, ?2, ?3, ?4)",
                params![
                    &id.0[..],
                    side,
                    (log.start + i as u64) as i64,
                    serde_json::to_string(u)?
                ],
            )?;
            stored.entries.push_back(u.clone());
        }
        Ok(())
    }

    /// Forget a channel (one that never got funded).
    pub fn delete_channel(&mut self, id: &ChannelId) -> Result<(), StoreError> {
        self.exec("DELETE FROM channels WHERE id = ?1", [&id.0[..]])?;
        self.exec(
            "DELETE FROM channel_updates WHERE channel_id = ?1",
            [&id.0[..]],
        )?;
        self.logs.remove(id);
        Ok(())
    }

    /// Remember a peer's address.
    pub fn put_peer(&self, node_id: &[u8], address: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO peers (node_id, address) VALUES (?1, ?2)
             ON CONFLICT(node_id) DO UPDATE SET address = ?2",
            params![node_id, address],
        )?;
        Ok(())
    }

    /// Store an invoice (new or updated).
    pub fn put_invoice(&self, inv: &InvoiceRecord) -> Result<(), StoreError> {
        let hash = hex::decode(&inv.payment_hash).unwrap_or_default();
        self.exec(
            "INSERT INTO invoices (payment_hash, label, record) VALUES (?1, ?2, ?3)
             ON CONFLICT(payment_hash) DO UPDATE SET record = ?3",
            params![hash, inv.label, serde_json::to_string(inv)?],
        )?;
        Ok(())
    }

    /// Store a forward, new or updated: it is keyed by its incoming HTLC.
    pub fn put_forward(&self, f: &ForwardRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO forwards (in_channel, in_htlc, out_channel, out_htlc, received_at, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(in_channel, in_htlc) DO UPDATE SET out_channel = ?3, out_htlc = ?4, record = ?6",
            params![
                f.in_channel,
                f.in_htlc_id as i64,
                f.out_channel,
                f.out_htlc_id.map(|i| i as i64),
                f.received_at as i64,
                serde_json::to_string(f)?
            ],
        )?;
        Ok(())
    }

    /// Store a payment, new or updated: it is keyed by the HTLC that carries it.
    pub fn put_payment(&self, p: &PaymentRecord) -> Result<(), StoreError> {
        let hash = hex::decode(&p.payment_hash).unwrap_or_default();
        self.exec(
            "INSERT INTO payments (payment_hash, channel_id, htlc_id, record) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(channel_id, htlc_id) DO UPDATE SET record = ?4",
            params![hash, p.channel_id, p.htlc_id as i64, serde_json::to_string(p)?],
        )?;
        Ok(())
    }

    /// The HTLCs of their commitment `number`, stored when we signed it.
    pub fn put_remote_commitment(
        &self,
        id: &ChannelId,
        number: u64,
        htlcs: &[HtlcEntry],
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR REPLACE INTO remote_commitments (channel_id, number, htlcs) VALUES (?1, ?2, ?3)",
            params![&id.0[..], number as i64, serde_json::to_string(htlcs)?],
        )?;
        Ok(())
    }

    /// Their commitment `number` whole (for a watchtower's appointment once revoked).
    pub fn put_remote_commitment_tx(
        &self,
        id: &ChannelId,
        number: u64,
        htlcs: &[HtlcEntry],
        tx: &bitcoin::Transaction,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR REPLACE INTO remote_commitments (channel_id, number, htlcs, tx) VALUES (?1, ?2, ?3, ?4)",
            params![&id.0[..], number as i64, serde_json::to_string(htlcs)?, bitcoin::consensus::serialize(tx)],
        )?;
        Ok(())
    }

    /// An appointment for `tower`, pending until it acknowledges it.
    pub fn put_tower_appointment(
        &self,
        tower: &str,
        locator: &[u8],
        id: &ChannelId,
        number: u64,
        body: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR REPLACE INTO tower_appointments (tower, locator, channel_id, number, body, state) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            params![tower, locator, &id.0[..], number as i64, body],
        )?;
        Ok(())
    }

    /// `--dev`: our signed commitment `number`, to broadcast once revoked.
    pub fn put_dev_commitment(
        &self,
        id: &ChannelId,
        number: u64,
        tx: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR REPLACE INTO dev_commitments (channel_id, number, tx) VALUES (?1, ?2, ?3)",
            params![&id.0[..], number as i64, tx],
        )?;
        Ok(())
    }

    /// A gossip message accepted: `key` names what it replaces (its channel, direction or node).
    pub fn put_gossip(&self, key: &[u8], kind: u16, raw: &[u8]) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR REPLACE INTO gossip (key, kind, raw) VALUES (?1, ?2, ?3)",
            params![key, kind, raw],
        )?;
        Ok(())
    }

    /// Commit: durable when this returns (when its group ends, inside one).
    pub fn commit(mut self) -> Result<(), StoreError> {
        Ok(self.tx.take().expect("taken once").commit()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_is_at_the_current_version_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let s = Store::open(&path).unwrap();
        assert_eq!(s.version().unwrap(), SCHEMA_VERSION);
        let mode: String = s
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(s);
        let mut s = Store::open(&path).unwrap();
        let b = s.batch().unwrap();
        b.set_meta("k", "v").unwrap();
        b.commit().unwrap();
        assert_eq!(s.meta("k").unwrap().as_deref(), Some("v"));
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew(99))));
    }

    #[test]
    fn a_version_1_store_migrates_forward_with_its_payments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let rec = PaymentRecord {
            id: 0,
            payment_hash: hex::encode([1; 32]),
            bolt11: None,
            destination: "02".into(),
            amount_msat: 5,
            amount_sent_msat: 5,
            status: "pending".into(),
            preimage: None,
            channel_id: hex::encode([2; 32]),
            htlc_id: 7,
            session_key: String::new(),
            created_at: 0,
            completed_at: None,
            failure: None,
            ..Default::default()
        };
        conn.execute(
            "INSERT INTO payments (payment_hash, record) VALUES (?1, ?2)",
            params![vec![1u8; 32], serde_json::to_string(&rec).unwrap()],
        )
        .unwrap();
        drop(conn);
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.version().unwrap(), SCHEMA_VERSION);
        let found = s
            .payment_by_htlc(&hex::encode([2; 32]), 7)
            .unwrap()
            .unwrap();
        assert_eq!((found.amount_msat, found.status.as_str()), (5, "pending"));
        let b = s.batch().unwrap();
        b.put_payment(&PaymentRecord {
            htlc_id: 8,
            status: "complete".into(),
            ..rec.clone()
        })
        .unwrap();
        b.put_payment(&PaymentRecord {
            status: "failed".into(),
            ..rec
        })
        .unwrap();
        b.commit().unwrap();
        assert_eq!(
            s.payment_by_htlc(&hex::encode([2; 32]), 8)
                .unwrap()
                .unwrap()
                .status,
            "complete"
        );
        assert_eq!(
            s.payment_by_htlc(&hex::encode([2; 32]), 7)
                .unwrap()
                .unwrap()
                .status,
            "failed"
        );
        assert_eq!(s.payments_of(&hex::encode([1; 32])).unwrap().len(), 2);
    }

    /// A log's rows follow it through appends, folds, and a truncation
    /// refilled with different updates at the same indexes.
    #[test]
    fn a_log_is_stored_row_by_row_through_folds_and_replacements() {
        use crate::channel::ledger::Update;
        use crate::tx::commitment::FeeratePerKw;
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("l.sqlite")).unwrap();
        let id = ChannelId([7; 32]);
        let log = |start: u64, fees: &[u32]| Log {
            start,
            entries: fees.iter().map(|f| Update::Fee(FeeratePerKw(*f))).collect(),
        };
        let rows = |s: &Store| -> Vec<(i64, String)> {
            let mut st = s
                .conn
                .prepare("SELECT idx, body FROM channel_updates WHERE channel_id = ?1 AND side = 1 ORDER BY idx")
                .unwrap();
            st.query_map([&id.0[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let expect = |l: &Log| -> Vec<(i64, String)> {
            l.entries
                .iter()
                .enumerate()
                .map(|(i, u)| {
                    (
                        (l.start + i as u64) as i64,
                        serde_json::to_string(u).unwrap(),
                    )
                })
                .collect()
        };
        let mut stored = log(0, &[]);
        for next in [
            log(0, &[1, 2, 3]),
            log(2, &[3, 4]),
            // Truncated to index 2 and refilled: index 3 now holds another update.
            log(2, &[3, 9, 10]),
            log(5, &[]),
            log(5, &[11]),
        ] {
            let b = s.batch().unwrap();
            b.put_log(&id, 1, &mut stored, &next).unwrap();
            b.commit().unwrap();
            assert_eq!(stored, next, "the cache is the log");
            assert_eq!(rows(&s), expect(&next), "the rows are the log");
        }
    }

    #[test]
    fn a_forward_is_found_by_either_htlc_and_updated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("f.sqlite")).unwrap();
        let offered = ForwardRecord {
            in_channel: "aa".into(),
            in_htlc_id: 3,
            in_msat: 1_001_010,
            in_cltv: 234,
            out_channel: Some("bb".into()),
            out_htlc_id: Some(9),
            out_msat: 1_000_000,
            out_cltv: 200,
            requested_scid: 42,
            payment_hash: "cc".into(),
            shared_secret: "dd".into(),
            status: "offered".into(),
            preimage: None,
            fail_onion: None,
            failcode: None,
            failreason: None,
            received_at: 1,
            resolved_at: None,
            received_ms: 1_000,
            attribution: None,
        };
        let b = s.batch().unwrap();
        b.put_forward(&offered).unwrap();
        b.commit().unwrap();
        assert_eq!(s.forward_by_out("bb", 9).unwrap(), Some(offered.clone()));
        assert_eq!(s.forward_by_out("bb", 8).unwrap(), None);
        let settled = ForwardRecord {
            status: "settled".into(),
            preimage: Some("ee".into()),
            ..offered
        };
        let b = s.batch().unwrap();
        b.put_forward(&settled).unwrap();
        b.commit().unwrap();
        assert_eq!(s.forward_by_in("aa", 3).unwrap(), Some(settled.clone()));
        assert_eq!(s.forwards().unwrap(), vec![settled]);
    }
}
