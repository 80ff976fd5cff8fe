//! Fakes of every `hal` trait, for host tests (feature `mock`).
//!
//! Each fake records what it was asked to do, so a test can check it afterwards, and takes
//! its inputs (time, received frames, console input) from the test.

mod block;
mod console;
#[cfg(target_arch = "x86_64")]
mod context;
mod cpu;
mod guard;
mod net;
mod platform;
mod time;

pub use block::RamDisk;
pub use console::RecordingConsole;
#[cfg(target_arch = "x86_64")]
pub use context::StackSwitch;
pub use cpu::{FakeCores, RecordingIdle};
pub use guard::FakeGuard;
pub use net::{FakeNic, FakeRxToken, FakeTxToken};
pub use platform::{FakePower, FakeTraps, MockPlatform, board};
pub use time::ManualClock;
