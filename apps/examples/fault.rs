//! Takes a CPU exception on purpose: `fault ud2` runs an invalid instruction, `fault pf`
//! reads through a null pointer. The kernel reports the exception and the guest exits with
//! status 102.
//!
//! This is the one application that uses `unsafe`: safe Rust cannot fault the CPU.

#![no_std]
#![no_main]

use apps as _;

kernel::main!(main);

fn main() -> kernel::process::ExitCode {
    match kernel::env::args().next() {
        Some("ud2") => {
            kernel::println!("executing ud2");
            // SAFETY: none; this faults on purpose, and the kernel never returns here.
            unsafe { core::arch::asm!("ud2") };
        }
        Some("pf") => {
            kernel::println!("reading address 0");
            let null = core::ptr::null::<u64>();
            // SAFETY: none; this faults on purpose, and the kernel never returns here.
            let value = unsafe { core::ptr::read_volatile(null) };
            kernel::println!("read {value}");
        }
        other => kernel::println!("usage: fault ud2|pf (got {other:?})"),
    }
    kernel::process::ExitCode::FAILURE
}
