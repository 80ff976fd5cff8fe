//! Mounts a mutated FAT volume (see the crate docs for the input) and walks, reads and
//! writes it: every input must end in `Ok` or `Err`, never a panic or a hang.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Some((disk, steps)) = novillo_fuzz::disk(input) {
        novillo_fuzz::walk(disk, steps);
    }
});
