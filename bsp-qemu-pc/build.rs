//! Puts this board's linker script where the final link finds it as `novillo.ld`.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("link.ld", out.join("novillo.ld")).expect("copy link.ld to OUT_DIR");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rerun-if-changed=link.ld");
}
