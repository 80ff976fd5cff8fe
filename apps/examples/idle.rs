//! An idle guest: prints `IDLE-READY`, then sleeps, on every core. `probe bench idle`
//! measures what it costs the host.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use apps as _;
use kernel::thread::{self, Builder};
use kernel::time::Duration;

kernel::main!(main);

fn main() {
    // A sleeping thread on every core, so that every core has a timer armed, as a server
    // with a timeout on each core would.
    for core in 1..thread::available_cores() {
        Builder::new()
            .core(core)
            .spawn(sleep_for_ever)
            .expect("a thread on each core");
    }
    kernel::println!("IDLE-READY on {} cores", thread::available_cores());
    sleep_for_ever();
}

fn sleep_for_ever() {
    loop {
        thread::sleep(Duration::from_secs(1));
    }
}
