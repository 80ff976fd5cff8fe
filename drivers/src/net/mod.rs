//! Network devices: [`virtio::VirtioNet`] (virtio-net on any virtio transport) and
//! [`e1000::E1000`] (the Intel 82540EM), both behind [`hal::net::NetDevice`].

pub mod e1000;
pub mod virtio;
