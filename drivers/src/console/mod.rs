//! Consoles: where the kernel's and the application's text goes.

pub mod uart16550;
pub mod vga;
