//! The Multiboot header, the board note and the 32-bit entry point.
//!
//! The header sets flag 16 (the address fields are valid), which a 64-bit ELF needs: QEMU
//! then loads the file from `load_addr` to `load_end_addr` as it lies on disk and zeroes up
//! to `bss_end_addr`. Flag 1 asks for the memory map. `multiboot_start32` finds where the
//! RAM above 1 MiB ends, for the shared early memory check, and hands over to the shared
//! long-mode entry with `boot::main` as the continuation.

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
    /* edi = the end of the RAM from 1 MiB up (see drivers::x86_64::entry): 1 MiB plus
       `mem_upper` KiB when the flags announce it, read before anything is written. */
    movl $0xffffffff, %edi
    cmpl ${loader_magic}, %eax
    jne 1f
    testl $1, (%ebx)
    jz 1f
    cmpl $0x3ffc00, 8(%ebx)         /* 4 GiB and more: the image fits */
    jae 1f
    movl 8(%ebx), %edi
    shll $10, %edi
    addl $0x100000, %edi
1:  movl ${main}, %ecx
    jmp novillo_enter_long_mode
    .code64
    "#,
    main = sym crate::boot::main,
    loader_magic = const crate::multiboot::LOADER_MAGIC,
    options(att_syntax)
);
