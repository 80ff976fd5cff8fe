//! Fakes of every `hal` trait, for host tests (feature `mock`).
//!
//! Each fake records what it was asked to do, so a test can check it afterwards, and takes
//! its inputs (time, received frames, console input, finished disk requests) from the test.
//! [`block_contract`] is the suite every block driver must pass.

mod block;
mod console;
#[cfg(target_arch = "x86_64")]
mod context;
mod contract;
mod cpu;
mod disk;
mod guard;
mod irq;
mod net;
mod platform;
mod time;

pub use block::RamDisk;
pub use console::RecordingConsole;
#[cfg(target_arch = "x86_64")]
pub use context::StackSwitch;
pub use contract::{BlockHarness, block_contract};
pub use cpu::{FakeCores, RecordingIdle};
pub use disk::FakeDisk;
pub use guard::FakeGuard;
pub use irq::FakeInterrupts;
pub use net::FakeNic;
pub use platform::{FakeDevices, FakePower, FakeTraps, MockPlatform, board};
pub use time::{FakeWallClock, ManualClock};
