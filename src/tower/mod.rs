//! The watchtower (BOLT 13 draft, as The Eye of Satoshi implements it): a
//! node hands a tower, for each revoked state, the penalty transaction
//! encrypted under the revoked commitment's own txid. The tower learns
//! nothing until that commitment is broadcast; then it can decrypt the
//! penalty and broadcast it.

pub mod appointment;
pub mod http;
pub mod run;
pub mod service;
pub mod store;
pub mod watcher;
