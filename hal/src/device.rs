//! Handing a board's devices to the kernel.
//!
//! # Contract
//! - A board's [`Discover`] value runs once, on a thread, with interrupts on and the heap
//!   up, the first time an application asks for a device. It finds the board's devices and
//!   hands each that started to the [`DeviceSink`]: 0..n of each kind.
//! - A device handed over is the kernel's for ever (`&'static mut`): the board leaks it.
//! - A device that fails to start is logged (`log::warn!`) and left out, never a panic.
//!
//! # For driver authors
//! Implement [`BlockDevice`] with [`ErrorKind`] as the request error, and
//! [`InterruptSource`]: that makes a [`BlockDriver`]; [`NetDevice`] and
//! [`InterruptSource`] make a [`NetDriver`]. Your own error type is for start-up
//! failures, which the board logs.
//!
//! # For board authors
//! Keep `Discover` a small value (ideally zero-sized): the kernel holds it from boot until
//! the first request, and an application that never asks for a device never runs it.

use crate::block::{BlockDevice, ErrorKind};
use crate::irq::{InterruptSource, Line};
use crate::net::NetDevice;

/// A block device the kernel can drive, with its errors in the shared words.
pub trait BlockDriver: BlockDevice<Error = ErrorKind> + InterruptSource + Send {}

impl<T: BlockDevice<Error = ErrorKind> + InterruptSource + Send> BlockDriver for T {}

/// A network device the kernel can drive.
pub trait NetDriver: NetDevice + InterruptSource + Send {}

impl<T: NetDevice + InterruptSource + Send> NetDriver for T {}

/// Where a board puts what it found.
pub trait DeviceSink {
    /// A block device raising its interrupts on `line`; `name` is for logs, such as
    /// `"virtio-blk 00:04.0"`.
    fn block(&mut self, name: &'static str, device: &'static mut dyn BlockDriver, line: Line);

    /// A network device raising its interrupts on `line`; `name` is for logs, such as
    /// `"virtio-net 00:03.0"`.
    fn net(&mut self, name: &'static str, device: &'static mut dyn NetDriver, line: Line);
}

/// Finding a board's devices: see the [module docs](self) for the contract.
pub trait Discover: Send + 'static {
    /// Finds the devices and hands them to `sink`.
    fn discover(self, sink: &mut dyn DeviceSink);
}

/// The devices of a board that has none the kernel drives.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDevices;

impl Discover for NoDevices {
    fn discover(self, _sink: &mut dyn DeviceSink) {}
}
