//! A console: a byte stream for people, such as a 16550 serial port.
//!
//! The console is [`embedded_io`] through and through: a board's console implements
//! [`Write`], [`Read`] and [`ReadReady`], and so is a [`Console`]. Errors are embedded-io's,
//! with [`embedded_io::Error::kind`].
//!
//! # Contract
//! - `write` blocks until the device has taken at least one byte and returns how many; an
//!   empty buffer returns `Ok(0)` at once. `flush` returns once every byte has left.
//! - `read` blocks until at least one byte has arrived; `read_ready` says, without blocking,
//!   whether a `read` would return at once. A console with no input side is never ready.
//!
//! # For driver authors
//! A serial port whose line is gone may drop bytes rather than block forever: a console is
//! for people, and the kernel writes its panic reports through it.

pub use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};

/// A byte stream for people: see the [module docs](self) for the contract.
pub trait Console: Write + Read + ReadReady {}

impl<T: Write + Read + ReadReady + ?Sized> Console for T {}
