//! Buses, through which devices are found.

pub mod pci;
pub mod virtio_mmio;
