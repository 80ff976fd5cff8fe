//! Novillo's applications: examples, benchmarks and in-guest test suites.
//!
//! This library only picks the board, by feature: `--features bsp-microvm` or
//! `--features bsp-qemu-pc`. Each application links it with `use apps as _;` and declares
//! its `main` with `kernel::main!`.

#![no_std]
#![forbid(unsafe_code)]

#[cfg(all(feature = "bsp-microvm", feature = "bsp-qemu-pc"))]
compile_error!("pick one board: `--features bsp-microvm` or `--features bsp-qemu-pc`, not both");

#[cfg(not(any(feature = "bsp-microvm", feature = "bsp-qemu-pc")))]
compile_error!(
    "pick a board: `cargo run -p apps --bin hello --features bsp-microvm` (or `--features bsp-qemu-pc`)"
);

#[cfg(all(feature = "bsp-microvm", not(feature = "bsp-qemu-pc")))]
kernel::board!(bsp_microvm::Microvm);

#[cfg(all(feature = "bsp-qemu-pc", not(feature = "bsp-microvm")))]
kernel::board!(bsp_qemu_pc::QemuPc);
