//! Block device drivers, each behind [`hal::block::BlockDevice`]: virtio-blk and ATA.

pub mod ata;
pub mod virtio;
