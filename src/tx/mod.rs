//! BOLT 3 transactions: funding (Appendix B), commitment with its HTLC
//! second stage (Appendix C and F), and what spends them (BOLT 5).

pub mod bump;
pub mod close;
pub mod commitment;
pub mod funding;
pub mod htlc;
pub mod penalty;
pub mod sweep;
pub mod view;
