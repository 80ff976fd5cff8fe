//! The Multiboot header, the board note and the 32-bit entry point.
//!
//! The header sets flag 16 (the address fields are valid), which a 64-bit ELF needs: QEMU
//! then loads the file from `load_addr` to `load_end_addr` as it lies on disk and zeroes up
//! to `bss_end_addr`. Flag 1 asks for the memory map. `multiboot_start32` hands over to the
//! shared long-mode entry with `boot::main` as the continuation.

core::arch::global_asm!(
    r#"
    .set MULTIBOOT_MAGIC, 0x1badb002
    .set MULTIBOOT_FLAGS, (1 << 1) | (1 << 16)

    .section .multiboot, "a"
    .balign 4
multiboot_header:
    .long MULTIBOOT_MAGIC, MULTIBOOT_FLAGS, -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)
    .long multiboot_header, __kernel_start, __load_end, __kernel_end, multiboot_start32

    .section .note.novillo.board, "a", @note
    .balign 4
    .long 8, 8, 1
    .asciz "Novillo"
    .asciz "qemu-pc"
    .balign 4

    .section .text.novillo_entry, "ax"
    .code32
    .global multiboot_start32
multiboot_start32:
    movl ${main}, %ecx
    jmp novillo_enter_long_mode
    .code64
    "#,
    main = sym crate::boot::main,
    options(att_syntax)
);
