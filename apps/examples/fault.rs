//! Takes a CPU exception on purpose: `fault ud2` runs an invalid instruction, `fault pf`
//! reads through a null pointer. The kernel reports the exception and its backtrace, and
//! the guest exits with status 102.
//!
//! `fault deep` takes the page fault in a thread, three calls deep (`first` calls `second`
//! calls `third`): the thread's report names the three functions in its backtrace, `join`
//! returns the fault, and the guest exits 0.
//!
//! This is the one application that uses `unsafe`: safe Rust cannot fault the CPU.

#![no_std]
#![no_main]

use apps as _;
use kernel::thread::{self, ThreadError};

kernel::main!(main);

fn main() -> kernel::process::ExitCode {
    match kernel::env::args().next() {
        Some("ud2") => {
            kernel::println!("executing ud2");
            // SAFETY: none; this faults on purpose, and the kernel never returns here.
            unsafe { core::arch::asm!("ud2") };
        }
        Some("pf") => {
            let value = read_null();
            kernel::println!("read {value}");
        }
        Some("deep") => return deep(),
        other => kernel::println!("usage: fault ud2|pf|deep (got {other:?})"),
    }
    kernel::process::ExitCode::FAILURE
}

/// Faults in a thread three calls deep and checks that `join` says so.
fn deep() -> kernel::process::ExitCode {
    let faulted = thread::Builder::new()
        .name("deep")
        .spawn(first)
        .map(thread::JoinHandle::join);
    kernel::println!("join: {faulted:?}");
    match faulted {
        Ok(Err(ThreadError::Fault { vector: 14, .. })) => kernel::process::ExitCode::SUCCESS,
        _ => kernel::process::ExitCode::FAILURE,
    }
}

#[inline(never)]
fn first() -> u64 {
    second() + 1
}

#[inline(never)]
fn second() -> u64 {
    third() + 1
}

#[inline(never)]
fn third() -> u64 {
    read_null() + 1
}

/// Reads address 0, which no page maps.
#[inline(never)]
fn read_null() -> u64 {
    kernel::println!("reading address 0");
    let null = core::ptr::null::<u64>();
    // SAFETY: none; this faults on purpose, and the kernel never returns here.
    unsafe { core::ptr::read_volatile(null) }
}
