//! BOLT 3 transactions. Today the funding transaction (Appendix B); the
//! commitment, HTLC, penalty and closing transactions follow in later issues.

pub mod funding;
