//! Frames from the wire into `kernel::net`'s stack: anything goes in, nothing panics.
//! `cargo +nightly fuzz run net_ingress -- -runs=1000000`

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kernel::net::fuzz::ingress(data);
});
