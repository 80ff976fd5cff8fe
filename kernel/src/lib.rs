//! The Novillo kernel: what an application sees.
//!
//! The kernel runs on whatever board the application was built for and knows it only
//! through the [`hal`] traits: no port I/O, no MMIO and no `asm!` here. It provides
//!
//! - the application entry ([`main!`], [`board!`]) and the exit ([`process`]);
//! - [`print!`] / [`println!`] on the board's console, and the [`log`] facade;
//! - panic and CPU-exception reports ([`fault`]);
//! - the heap allocator ([`heap`]);
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
// allocator) and `console` (taking the console over in a report).
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

#[allow(unsafe_code)] // Forcing the console lock for a last report.
pub mod console;
pub mod env;
pub mod fault;
#[allow(unsafe_code)] // The allocator hands out raw memory.
pub mod heap;
pub mod logger;
pub mod process;
#[allow(unsafe_code)] // The entry symbols that link board, kernel and application.
mod start;
pub mod system;
pub mod testing;
pub mod time;

pub use hal;
pub use start::{init, start};

#[doc(hidden)]
pub use alloc::format as __format;
