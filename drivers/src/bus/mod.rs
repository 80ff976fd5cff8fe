//! Buses, through which devices are found.

pub mod pci;
