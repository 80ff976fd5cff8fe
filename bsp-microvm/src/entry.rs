//! The ELF notes and the 32-bit entry point.
//!
//! - `XEN_ELFNOTE_PHYS32_ENTRY` (type 18, owner "Xen") tells a PVH loader where to enter;
//!   QEMU 7.2 wants its descriptor 8 bytes long.
//! - The `Novillo` note (type 1) names the board, so that `probe` knows how to start the
//!   image.
//! - `pvh_start32` finds where the RAM that holds the image ends, for the shared early
//!   memory check, and hands over to the shared long-mode entry with `boot::main` as the
//!   continuation.

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
    /* edi = the end of the memory map's RAM entry that holds the image (see
       drivers::x86_64::entry), read before anything is written: the RAM may end inside
       the image. ebx stays the start info; eax means nothing under PVH. */
    movl $0xffffffff, %edi
    cmpl ${magic}, (%ebx)
    jne 4f
    cmpl $1, 4(%ebx)                /* version 1 has the memory map */
    jb 4f
    movl 40(%ebx), %esi             /* the map, below 4 GiB */
    movl 48(%ebx), %ecx             /* its entries */
    movl $0x100000, %edi            /* RAM ends at 1 MiB unless an entry holds the image */
1:  testl %ecx, %ecx
    jz 4f
    cmpl $1, 16(%esi)               /* RAM */
    jne 3f
    cmpl $0, 4(%esi)
    jne 3f
    movl (%esi), %eax
    cmpl $0x100000, %eax            /* starts at or below 1 MiB */
    ja 3f
    addl 8(%esi), %eax              /* its end, 64 bits wide */
    movl 12(%esi), %edx
    adcl $0, %edx
    jnz 2f
    cmpl $0x100000, %eax            /* and ends above it */
    jbe 3f
    movl %eax, %edi
    jmp 4f
2:  movl $0xffffffff, %edi          /* past 4 GiB: the image fits */
    jmp 4f
3:  addl ${entry_len}, %esi
    decl %ecx
    jmp 1b
4:  movl ${main}, %ecx
    jmp novillo_enter_long_mode
    .code64
    "#,
    main = sym crate::boot::main,
    magic = const crate::pvh::MAGIC,
    entry_len = const crate::pvh::MEMMAP_ENTRY_LEN,
    options(att_syntax)
);
