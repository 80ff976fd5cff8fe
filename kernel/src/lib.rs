//! The Novillo kernel: what an application sees.
//!
//! The kernel runs on whatever board the application was built for and knows it only
//! through the [`hal`] traits: no port I/O, no MMIO and no `asm!` here. It provides
//!
//! - the application entry ([`main!`], [`board!`]) and the exit ([`process`]);
//! - [`print!`] / [`println!`] on the board's console, and the [`log`] facade;
//! - threads pinned to cores, one cooperative scheduler per core ([`thread`]), and
//!   [`sync`]: blocking `Mutex`, `Condvar`, channels, one-time initialisation, per-core data;
//! - panic and CPU-exception reports, ending only the thread that failed ([`fault`]);
//! - the heap allocator ([`heap`]);
//! - disks ([`block`]), found when first asked for, whose interrupts wake the waiting
//!   threads, and files on their FAT volumes ([`fs`]);
//! - TCP/IP sockets ([`net`]), started when first used;
//! - time ([`time`]), the command line ([`env`]) and facts about the machine ([`system`]);
//! - a small harness for in-guest test suites ([`testing`]).
//!
//! # An application
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! use apps as _; // links the board picked with `--features bsp-...`
//!
//! kernel::main!(main);
//!
//! fn main() {
//!     kernel::println!("Hello from Novillo");
//! }
//! ```

#![cfg_attr(not(test), no_std)]
// Unsafe code lives in the modules that allow it: `start` (the entry symbols), `heap` (the
// allocator), `sched` (the context switch), `sync` (the locks' shared cells), `console`
// (taking the console over in a report), `device` (buffers handed to drivers) and
// `time::system` (the board's wall clock, reached through a linked symbol).
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

pub mod block;
#[allow(unsafe_code)] // Forcing the console lock for a last report.
pub mod console;
#[allow(unsafe_code)] // Device requests hand buffer addresses to drivers.
mod device;
pub mod env;
pub mod fault;
pub mod fs;
#[allow(unsafe_code)] // The allocator hands out raw memory.
pub mod heap;
mod irq;
pub mod logger;
pub mod net;
pub mod process;
#[allow(unsafe_code)] // The context-switch boundary.
mod sched;
#[allow(unsafe_code)] // The entry symbols that link board, kernel and application.
mod start;
#[allow(unsafe_code)] // Locks hand out their protected data.
pub mod sync;
pub mod system;
pub mod testing;
pub mod thread;
pub mod time;

#[doc(hidden)]
pub use device::{DeviceParts as __DeviceParts, discover as __discover};
pub use hal;
pub use start::{init, start};

/// Hooks for host tests, which drive the fake cores of `hal::mock` by hand.
#[doc(hidden)]
pub mod host_test {
    /// Runs the ready threads of the current core until none is ready.
    pub fn turn() {
        crate::sched::turn();
    }

    /// Whether the current core would halt now: nothing in its inbox, no device
    /// interrupt pending.
    pub fn would_idle() -> bool {
        crate::sched::would_idle()
    }

    /// What the current core's loop does between turns: halt, unless it has work.
    pub fn idle_once() {
        crate::sched::halt();
    }

    /// Lets threads be created on cores `0..count`, as if they had started.
    pub fn assume_running_cores(count: usize) {
        crate::sched::set_running_cores(count);
    }
}

#[doc(hidden)]
pub use alloc::format as __format;
