//! BOLT 4 "Onion Routing Protocol": the Sphinx packet, hop payloads, failure
//! onions (with attribution data) and route blinding.

pub mod blinding;
pub mod failure;
pub mod keys;
pub mod packet;
pub mod payload;
