//! The PC-compatible machine around the processor, as QEMU's `pc` and `microvm` both
//! have it: the firmware's tables, the interrupt controllers, the PIT, the CMOS clock
//! and starting the other cores.

pub mod firmware;
pub mod irq;
pub mod pit;
pub mod rtc;
pub mod smp;
