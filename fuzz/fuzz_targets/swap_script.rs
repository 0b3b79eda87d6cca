//! Read untrusted swap scripts and leaves as a service would send them to
//! `lnkit swap verify`. Nothing may panic; anything accepted must rebuild to
//! the very same bytes.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run swap_script` (stable toolchain; or `cargo +nightly fuzz run swap_script`) (from the repository root).
#![no_main]

#[path = "../targets/swap_script.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
