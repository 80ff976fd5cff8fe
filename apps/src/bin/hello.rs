//! Says hello and what it runs on, then exits 0.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use apps as _;
use kernel::{println, system};

kernel::main!(main);

fn main() {
    let heap = system::heap();
    println!("Hello from Novillo!");
    println!("board:  {}", system::board());
    println!("cores:  {}", system::core_count());
    println!(
        "running: {} with a scheduler each",
        kernel::thread::available_cores()
    );
    println!(
        "memory: {} MiB, heap {} KiB free of {} KiB",
        system::memory_bytes() >> 20,
        heap.free >> 10,
        heap.total >> 10
    );
    // Integer arithmetic in u64: formatting a float would pull 10 KiB of code into the
    // image, a u128 (`as_micros`) 1.4 KiB, a u32 a quarter of one.
    let boot = system::boot_time();
    println!(
        "boot:   {}.{:03} ms from the first instruction to main",
        boot.as_secs() * 1000 + u64::from(boot.subsec_millis()),
        u64::from(boot.subsec_micros() % 1000)
    );
}
