//! The ELF notes and the 32-bit entry point.
//!
//! - `XEN_ELFNOTE_PHYS32_ENTRY` (type 18, owner "Xen") tells a PVH loader where to enter;
//!   QEMU 7.2 wants its descriptor 8 bytes long.
//! - The `Novillo` note (type 1) names the board, so that `probe` knows how to start the
//!   image.
//! - `pvh_start32` hands over to the shared long-mode entry with `boot::main` as
//!   the continuation.

core::arch::global_asm!(
    r#"
    .section .note.novillo.pvh, "a", @note
    .balign 4
    .long 4, 8, 18
    .asciz "Xen"
    .balign 4
    .quad pvh_start32

    .section .note.novillo.board, "a", @note
    .balign 4
    .long 8, 8, 1
    .asciz "Novillo"
    .asciz "microvm"
    .balign 4

    .section .text.novillo_entry, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    movl ${main}, %ecx
    jmp novillo_enter_long_mode
    .code64
    "#,
    main = sym crate::boot::main,
    options(att_syntax)
);
