//! The hardware abstraction layer of Novillo.
//!
//! The kernel is written against these traits only; drivers and boards implement them. Each
//! device kind has one trait, shaped like [`embedded_io`]: an error type whose values tell
//! their [`kind`](block::Error::kind), one or two required methods, and documented rules for
//! when a call blocks and what it returns when there is nothing to do.
//!
//! | module | trait | what it stands for |
//! |---|---|---|
//! | [`console`] | [`Console`](console::Console) | a byte stream for humans: a serial port |
//! | [`block`] | [`BlockDevice`](block::BlockDevice) | an array of 512-byte sectors, split-phase: submit, then poll |
//! | [`irq`] | [`Interrupts`](irq::Interrupts), [`InterruptSource`](irq::InterruptSource) | device interrupt lines, and a device that raises them |
//! | [`device`] | [`Discover`](device::Discover), [`DeviceSink`](device::DeviceSink) | handing a board's devices to the kernel |
//! | [`net`] | [`NetDevice`](net::NetDevice) | an Ethernet interface that receives and sends whole frames |
//! | [`time`] | [`Clock`](time::Clock), [`WallClock`](time::WallClock) | the monotonic clock, and where the time of day comes from |
//! | [`cpu`] | [`CpuIdle`](cpu::CpuIdle), [`Cores`](cpu::Cores) | halting a core, finding and waking cores |
//! | [`context`] | [`ContextSwitch`](context::ContextSwitch) | saving one thread's registers and resuming another's |
//! | [`power`] | [`PowerOff`](power::PowerOff) | leaving the machine with a status |
//! | [`trap`] | [`Traps`](trap::Traps), [`Fault`](trap::Fault) | CPU exceptions, as the kernel sees them |
//! | [`board`] | [`Board`](board::Board) | everything one board hands the kernel at boot |
//!
//! With the `mock` feature, [`mock`] has a fake of every trait for host tests.
//!
//! # For driver authors
//! Take `&mut self`: sharing one device among many users is the kernel's job. Never block
//! where a trait says a call returns at once, and return errors, never panic, on bad input
//! from the device.
//!
//! # For board authors
//! Implement [`Board`](board::Board) once, from a single `init()` that can run only once; an
//! optional device is an `Option`. Devices the kernel finds later, on demand (disks), come
//! from the board's [`Discover`](device::Discover) value.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "mock")]
extern crate alloc;

pub mod block;
pub mod board;
pub mod console;
pub mod context;
pub mod cpu;
pub mod device;
pub mod irq;
pub mod memory;
pub mod net;
pub mod power;
pub mod time;
pub mod trap;

#[cfg(feature = "mock")]
pub mod mock;
