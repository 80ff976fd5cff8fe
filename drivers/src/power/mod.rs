//! Leaving the machine: powering it off with a status.

pub mod qemu;
