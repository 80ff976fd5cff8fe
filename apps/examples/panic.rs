//! Panics on purpose: the kernel prints where and why, and the guest exits with status 101.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use apps as _;

kernel::main!(main);

fn main() {
    let disks: [&str; 0] = [];
    let first = disks.first().copied();
    kernel::println!("about to panic");
    panic!("no disk to serve from (found {})", first.map_or(0, |_| 1));
}
