//! What every x86_64 board's boot path shares once the long-mode entry handed over:
//! telling which loader entered the image, the loader's data, the heap and memory checks,
//! and finding the clock, the cores and the interrupt controllers.

pub mod common;
pub mod kit;
pub mod loader;
