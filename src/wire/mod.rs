//! BOLT 1 encodings: BigSize, truncated and signed integers, TLV streams.
//! The message codec and BOLT 8 transport come later (issue 5).

pub mod bigsize;
pub mod features;
pub mod gossip;
pub mod message;
pub mod noise;
pub mod peer;
pub mod tlv;

pub use bigsize::BigSize;
