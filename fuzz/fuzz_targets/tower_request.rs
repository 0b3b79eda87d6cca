//! A tower's API on untrusted request bodies: any bytes that parse as JSON
//! go to every endpoint of a tower on an in-memory store. Nothing may panic;
//! each request is answered or refused with a teos error code.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run tower_request` (from the repository root).
#![no_main]

#[path = "../targets/tower_request.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
