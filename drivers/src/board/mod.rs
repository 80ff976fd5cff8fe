//! What every x86_64 board's boot path shares once the long-mode entry
//! ([`crate::x86_64::entry`]) called it, so that a board holds only its loader's protocol
//! and its device list:
//!
//! - [`loader`]: which boot protocol entered the image;
//! - [`common`]: the loader's data ([`common::BootData`]), the heap and the memory check,
//!   and what every board finds the same way: the clock, the cores and the interrupt
//!   controllers ([`common::find_common`]);
//! - [`wall`]: the time of day, from `time=` on the command line or the CMOS clock;
//! - [`kit`]: the steps every board takes in the same order, its messages on COM1 and the
//!   [`hal::board::Board`] it hands the kernel.

pub mod common;
pub mod kit;
pub mod loader;
pub mod wall;
