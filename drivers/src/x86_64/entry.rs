//! From the loader's 32-bit protected mode to 64-bit long mode.
//!
//! PVH and Multiboot both enter a kernel in 32-bit protected mode with paging off. A board's
//! 32-bit entry reads from the loader's memory map where the RAM that holds the image ends
//! (into `edi`, `0xffff_ffff` when the map does not say), loads the address of its 64-bit
//! continuation into `ecx` and jumps to `novillo_enter_long_mode`, which:
//!
//! 0. checks that the RAM holds the image and the heap one core needs
//!    ([`memory_needed`]); if not, it prints one line on COM1 saying how much RAM the
//!    firmware reports and how much is needed, and stops with
//!    [`NOT_ENOUGH_MEMORY`](hal::board::NOT_ENOUGH_MEMORY). It writes no memory and has no
//!    stack, and the board's linker script keeps it (with the board's entry) in the image's
//!    first page, so that it works when only that page is RAM;
//! 1. records the time-stamp counter in [`boot_tsc`] (the "first instruction" that boot
//!    times count from);
//! 2. builds identity-mapped page tables for the first 4 GiB: 2 MiB pages, except the first
//!    2 MiB, mapped in 4 KiB pages with page 0 left out so that a null pointer faults;
//! 3. turns on PAE, long mode and paging, loads a three-entry GDT and jumps to 64-bit code;
//! 4. zeroes `.bss`, switches to a 64 KiB boot stack, and calls the continuation, an
//!    `extern "C" fn(boot_info: u64, magic: u64) -> !`, with the loader's `ebx` (its boot
//!    information) and `eax` (its magic number).
//!
//! The board's linker script must define `__bss_start` and `__bss_end` (16-byte aligned)
//! and place the sections `.boot_page_tables` and `.boot_stack` outside `.bss`: the tables
//! are live while `.bss` is zeroed, and the stack needs no zeroing (64 KiB of stores is a
//! measurable part of a boot under TCG). It puts the sections `.text.novillo_entry` and
//! `.text.novillo_entry.*` first, within the image's first 4 KiB.

use crate::x86_64::gdt::CoreTables;

/// The time-stamp counter at the board's first instruction, or 0 on the host.
pub fn boot_tsc() -> u64 {
    #[cfg(target_os = "none")]
    {
        // SAFETY: written once by the 32-bit entry before any Rust code runs, read-only after.
        unsafe { core::ptr::read_volatile(&raw const novillo_boot_tsc) }
    }
    #[cfg(not(target_os = "none"))]
    0
}

#[cfg(target_os = "none")]
unsafe extern "C" {
    static novillo_boot_tsc: u64;
}

// The page-table layout: PML4, PDPT, four page directories (4 GiB of 2 MiB pages), and one
// page table for the first 2 MiB.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .boot_page_tables, "aw", @nobits
    .balign 4096
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4 * 4096
boot_pt:   .skip 4096

    .section .boot_stack, "aw", @nobits
    .balign 16
boot_stack: .skip 64 * 1024
boot_stack_top:

    .section .data.novillo_boot_tsc, "aw"
    .balign 8
    .global novillo_boot_tsc
novillo_boot_tsc: .quad 0

    .section .rodata.boot_gdt, "a"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code, ring 0 */
    .quad 0x00cf92000000ffff        /* 0x10: data, ring 0 */
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .text.novillo_entry.long_mode, "ax"
    .code32
    .global novillo_enter_long_mode
novillo_enter_long_mode:
    cmpl $(__kernel_end + {needed}), %edi
    jb novillo_not_enough_memory
    movl %eax, %ebp                 /* loader magic */
    rdtsc
    movl %eax, novillo_boot_tsc
    movl %edx, novillo_boot_tsc + 4
    movl %ecx, %esp                 /* the continuation; there is no stack yet */

    movl $boot_pml4, %edi           /* zero all seven tables */
    xorl %eax, %eax
    movl $(7 * 1024), %ecx
    rep stosl

    movl $(boot_pdpt + 3), boot_pml4
    movl $boot_pdpt, %edi           /* four present, writable PDPT entries */
    movl $(boot_pd + 3), %eax
    movl $4, %ecx
1:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b

    movl $boot_pd, %edi             /* 2048 present, writable 2 MiB pages */
    movl $0x83, %eax
    movl $2048, %ecx
2:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 2b

    movl $(boot_pt + 3), boot_pd    /* the first 2 MiB in 4 KiB pages, page 0 absent */
    movl $(boot_pt + 8), %edi
    movl $(4096 + 3), %eax
    movl $511, %ecx
3:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 3b

    movl %cr4, %eax                 /* PAE */
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx          /* EFER.LME */
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    movl %cr0, %eax                 /* paging, protection, write-protect in ring 0 */
    orl $0x80010001, %eax
    movl %eax, %cr0
    lgdt boot_gdt_pointer
    ljmp $0x08, $4f

    .code64
4:  movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    movl %ebx, %r12d                /* zero-extended: boot info, magic, continuation */
    movl %ebp, %r13d
    movl %esp, %r14d
    leaq __bss_start(%rip), %rdi
    leaq __bss_end(%rip), %rcx
    subq %rdi, %rcx
    shrq $3, %rcx
    xorl %eax, %eax
    rep stosq
    leaq boot_stack_top(%rip), %rsp
    movq %r12, %rdi
    movq %r13, %rsi
    xorl %ebp, %ebp                 /* the end of the frame chain, for backtraces */
    call *%r14
    ud2

    /* RAM ends at edi, below what the image needs: say so on COM1 and stop. There is no
       stack and the RAM may end inside the image, so this writes no memory: the return
       address of each helper is in ebp, and the RAM's end is kept in esp. */
    .section .text.novillo_entry.memory, "ax"
    .code32
novillo_not_enough_memory:
    movl %edi, %esp
    movl $.Lfound, %esi
    movl $1f, %ebp
    jmp .Lputs
1:  movl %esp, %esi
    shrl $10, %esi
    movl $2f, %ebp
    jmp .Lputdec
2:  movl $.Lneeds, %esi
    movl $3f, %ebp
    jmp .Lputs
3:  movl $(__kernel_end + {needed} + 1023), %esi
    shrl $10, %esi
    movl $4f, %ebp
    jmp .Lputdec
4:  movl $.Lper_core, %esi
    movl $5f, %ebp
    jmp .Lputs
5:  movl ${per_core_kib}, %esi
    movl $6f, %ebp
    jmp .Lputdec
6:  movl $.Lmore, %esi
    movl $7f, %ebp
    jmp .Lputs
7:  movw ${exit_port}, %dx
    movl ${exit_value}, %eax
    outl %eax, %dx
    movw ${pm1a_control}, %dx       /* ACPI S5 where a PC has no isa-debug-exit */
    movw $0x2000, %ax
    outw %ax, %dx
8:  cli
    hlt
    jmp 8b

.Lputs:                             /* the string at esi; clobbers eax, ebx, edx */
    movb (%esi), %bl
    testb %bl, %bl
    jz 2f
    movw $0x3fd, %dx                /* COM1's line status: wait for room */
1:  inb %dx, %al
    testb $0x20, %al
    jz 1b
    movw $0x3f8, %dx
    movb %bl, %al
    outb %al, %dx
    incl %esi
    jmp .Lputs
2:  jmp *%ebp

.Lputdec:                           /* esi in decimal; clobbers eax, ebx, ecx, edx, edi */
    movl $1000000000, %ecx
    xorl %edi, %edi                 /* non-zero once a digit was printed */
1:  movl %esi, %eax
    xorl %edx, %edx
    divl %ecx
    movl %edx, %esi
    orl %eax, %edi
    cmpl $1, %ecx
    je 2f
    testl %edi, %edi
    jz 4f
2:  addl $0x30, %eax
    movb %al, %bl
    movw $0x3fd, %dx
3:  inb %dx, %al
    testb $0x20, %al
    jz 3b
    movw $0x3f8, %dx
    movb %bl, %al
    outb %al, %dx
4:  movl %ecx, %eax
    xorl %edx, %edx
    movl $10, %ecx
    divl %ecx
    movl %eax, %ecx
    testl %ecx, %ecx
    jnz 1b
    jmp *%ebp

.Lfound:    .asciz "\nnovillo: not enough memory: the firmware reports RAM up to "
.Lneeds:    .asciz " KiB, this image needs at least "
.Lper_core: .asciz " KiB (with 1 core; each further core needs "
.Lmore:     .asciz " KiB more)\n"
    "#,
    needed = const memory_needed(1),
    per_core_kib = const PER_CORE.div_ceil(1024),
    exit_port = const crate::power::qemu::DEBUG_EXIT_PORT,
    exit_value = const hal::board::NOT_ENOUGH_MEMORY as u32 + 16,
    pm1a_control = const PC_PM1A_CONTROL,
    options(att_syntax)
);

/// The PM1a control port of QEMU's PC (PIIX4, as SeaBIOS sets it up), where the early
/// memory check writes S5 when there is no `isa-debug-exit`; nothing listens there on
/// microvm.
#[cfg(target_os = "none")]
const PC_PM1A_CONTROL: u16 = 0x604;

/// The memory each core past the first takes: its share of the kernel's heap and its
/// descriptor tables.
const PER_CORE: usize = hal::board::HEAP_PER_CORE + size_of::<CoreTables>();

/// The memory past the end of the image that booting with `cores` cores needs: the
/// kernel's heap ([`hal::board::heap_needed`]), the further cores' descriptor tables (split
/// off the heap's top) and the alignment they may cost.
pub const fn memory_needed(cores: usize) -> u64 {
    (hal::board::heap_needed(1) + cores.saturating_sub(1) * PER_CORE + align_of::<CoreTables>())
        as u64
}

/// The end of the kernel image in memory, from the board's linker script.
pub fn image_end() -> u64 {
    #[cfg(target_os = "none")]
    {
        unsafe extern "C" {
            static __kernel_end: u8;
        }
        &raw const __kernel_end as u64
    }
    #[cfg(not(target_os = "none"))]
    0
}

/// The memory mapped at boot: the first 4 GiB.
pub const MAPPED_LIMIT: u64 = 1 << 32;
