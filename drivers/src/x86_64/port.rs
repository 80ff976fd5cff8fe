//! Port I/O.

use core::arch::asm;

/// Reads a byte from an I/O port.
///
/// # Safety
/// Reading `port` must have no effect that breaks memory safety; some devices change state
/// when read.
pub unsafe fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: the caller vouches for the port.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack, preserves_flags))
    };
    value
}

/// Writes a byte to an I/O port.
///
/// # Safety
/// Writing `value` to `port` must not break memory safety (a DMA engine, say).
pub unsafe fn outb(port: u16, value: u8) {
    // SAFETY: the caller vouches for the port and the value.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    };
}

/// Reads `buf.len() / 2` 16-bit words from an I/O port into `buf` (`rep insw`: one
/// instruction, where a loop of word reads costs an exit per word under a hypervisor).
///
/// # Safety
/// As for [`inb`].
pub unsafe fn insw(port: u16, buf: &mut [u8]) {
    // SAFETY: the caller vouches for the port; `rdi` and `rcx` cover `buf`'s whole words,
    // and the ABI leaves the direction flag clear.
    unsafe {
        asm!(
            "rep insw",
            in("dx") port,
            inout("rdi") buf.as_mut_ptr() => _,
            inout("rcx") buf.len() / 2 => _,
            options(nostack, preserves_flags)
        )
    };
}

/// Writes `buf.len() / 2` 16-bit words from `buf` to an I/O port (`rep outsw`).
///
/// # Safety
/// As for [`outb`].
pub unsafe fn outsw(port: u16, buf: &[u8]) {
    // SAFETY: the caller vouches for the port; `rsi` and `rcx` cover `buf`'s whole words,
    // and the ABI leaves the direction flag clear.
    unsafe {
        asm!(
            "rep outsw",
            in("dx") port,
            inout("rsi") buf.as_ptr() => _,
            inout("rcx") buf.len() / 2 => _,
            options(nostack, preserves_flags, readonly)
        )
    };
}

/// Writes a 16-bit word to an I/O port.
///
/// # Safety
/// As for [`outb`].
pub unsafe fn outw(port: u16, value: u16) {
    // SAFETY: the caller vouches for the port and the value.
    unsafe {
        asm!("out dx, ax", in("dx") port, in("ax") value, options(nomem, nostack, preserves_flags))
    };
}

/// Writes a 32-bit word to an I/O port.
///
/// # Safety
/// As for [`outb`].
pub unsafe fn outl(port: u16, value: u32) {
    // SAFETY: the caller vouches for the port and the value.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    };
}

/// Reads a 32-bit word from an I/O port.
///
/// # Safety
/// As for [`inb`].
pub unsafe fn inl(port: u16) -> u32 {
    let value: u32;
    // SAFETY: the caller vouches for the port.
    unsafe {
        asm!("in eax, dx", in("dx") port, out("eax") value, options(nomem, nostack, preserves_flags))
    };
    value
}
