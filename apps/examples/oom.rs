//! Uses up the whole heap on purpose, then fails, to show that failures are reported
//! without the heap:
//! - `oom main-panic`: `main` panics: status 101 and the usual report;
//! - `oom main-alloc`: `main` allocates: status 101 and "ran out of memory";
//! - `oom thread-panic`, `oom thread-alloc`: the same in a thread, whose `join` returns the
//!   error; `main` goes on and exits 0 when the error is the expected one.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::hint::black_box;

use apps as _;
use kernel::process::ExitCode;
use kernel::thread::{Builder, ThreadError};

kernel::main!(main);

/// What the failing code allocates once the heap is used up.
const LAST_ALLOCATION: usize = 4096;

fn main() -> ExitCode {
    match kernel::env::args().next() {
        Some("main-panic") => panic_with_no_heap(),
        Some("main-alloc") => allocate_with_no_heap(),
        Some("thread-panic") => in_a_thread(
            panic_with_no_heap,
            |error| matches!(error, ThreadError::Panicked(message) if message.starts_with("the heap is used up")),
        ),
        Some("thread-alloc") => in_a_thread(allocate_with_no_heap, |error| {
            *error
                == ThreadError::OutOfMemory {
                    size: LAST_ALLOCATION,
                }
        }),
        other => {
            kernel::println!(
                "usage: oom main-panic|main-alloc|thread-panic|thread-alloc (got {other:?})"
            );
            ExitCode::FAILURE
        }
    }
}

/// Leaks every block the heap will still give, largest first, down to its smallest unit,
/// and returns how many bytes that took.
fn use_up_the_heap() -> usize {
    let mut taken = 0;
    let large = (12..31).rev().map(|shift| 1usize << shift);
    let small = (1..=LAST_ALLOCATION / 16).rev().map(|units| units * 16);
    for size in large.chain(small) {
        loop {
            let mut block = Vec::<u8>::new();
            if block.try_reserve_exact(size).is_err() {
                break;
            }
            core::mem::forget(block);
            taken += size;
        }
    }
    taken
}

fn panic_with_no_heap() -> ExitCode {
    let taken = use_up_the_heap();
    kernel::println!("used up the heap ({taken} bytes)");
    panic!("the heap is used up ({taken} bytes taken)");
}

fn allocate_with_no_heap() -> ExitCode {
    let taken = use_up_the_heap();
    kernel::println!("used up the heap ({taken} bytes)");
    let block: Vec<u8> = Vec::with_capacity(black_box(LAST_ALLOCATION));
    kernel::println!("allocated {} bytes after all", block.capacity());
    ExitCode::FAILURE
}

/// Runs `fail` in a thread on this core, and checks that `join` returns the error
/// `expected` accepts.
fn in_a_thread(fail: fn() -> ExitCode, expected: fn(&ThreadError) -> bool) -> ExitCode {
    let thread = Builder::new()
        .name("hog")
        .spawn(fail)
        .expect("spawn the thread");
    match thread.join() {
        Err(error) if expected(&error) => {
            kernel::println!("join gave the error: {error}");
            kernel::println!("main goes on after the thread failed");
            ExitCode::SUCCESS
        }
        other => {
            kernel::println!("join gave {other:?}");
            ExitCode::FAILURE
        }
    }
}
