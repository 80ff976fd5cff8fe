//! Links every application with the linker script of the board it was built for, which the
//! board's own build script put on the library search path as `novillo.ld`.

fn main() {
    println!("cargo:rustc-link-arg=-Tnovillo.ld");
    println!("cargo:rustc-link-arg=--gc-sections");
}
