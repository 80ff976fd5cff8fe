//! Block device drivers, each behind [`hal::block::BlockDevice`].

pub mod virtio;
