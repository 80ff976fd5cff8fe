//! The PC boot sector and loader: 16-bit code that a PC BIOS runs from sector 0 of the
//! image, assembled into probe itself and copied into every image `probe image` writes.
//!
//! It lives in probe, not in the PC board's ELF, because it is the disk's, not the kernel's:
//! it loads any kernel through the Multiboot hand-off, needs no second build, and costs the
//! kernel image nothing (`hello`'s size budget). It is assembled by the same stable
//! toolchain as probe (LLVM's assembler through `global_asm!`), as data: every address in it
//! is a difference of its own labels plus 0x7c00, so it needs no relocation and runs where
//! the BIOS puts it.
//!
//! What it does (sector 0, the MBR, then stage 2 at 0x7e00):
//! 1. MBR: checks the int 13h extensions, reads stage 2 and the command line sectors behind
//!    it with one extended read, jumps to stage 2;
//! 2. stage 2: turns on A20 (port 0x92), takes the E820 memory map, checks that the kernel
//!    fits in the RAM that starts at 1 MiB, reads the kernel in chunks of at most 127
//!    sectors (what every BIOS accepts) into a buffer at 0x10000 and copies each chunk to
//!    its place above 1 MiB in unreal mode, summing its words; checks the Multiboot magic
//!    at the kernel's start and the sum;
//! 3. builds the Multiboot information (memory sizes, command line, memory map) at 0x1000,
//!    enters 32-bit protected mode and jumps to the kernel's entry with `eax` = 0x2badb002
//!    and `ebx` = the information, as QEMU's `-kernel` does.
//!
//! On an error it prints `novillo loader: ` and what went wrong on the screen (the BIOS
//! teletype) and on COM1, and halts with interrupts off: no reboot loop.
//!
//! Low memory while it runs: the Multiboot information at 0x1000, the memory map from
//! 0x1100, the stack below 0x7c00, the loader and the command line from 0x7c00, the read
//! buffer at 0x10000..0x1fe00. The kernel copies what it needs out of the information
//! before it uses low memory.

use std::sync::OnceLock;

use super::params;

/// The most sectors one int 13h extended read asks for: some BIOSes refuse more than 127.
const CHUNK_SECTORS: u32 = 127;

/// The physical address the loader copies the kernel's chunks through.
const BUFFER: u32 = 0x1_0000;
/// Where the Multiboot information goes, and the memory map after it.
const INFO: u32 = 0x1000;
/// The Multiboot information's length up to the memory map's address, in bytes.
const INFO_LEN: u32 = 52;
const MMAP: u32 = 0x1100;
/// The memory map's end: room for 128 entries of 24 bytes.
const MMAP_END: u32 = MMAP + 128 * 24;

// The registers on entry: the BIOS left the boot drive in DL and jumped to 0:7c00 (or
// 7c0:0). Interfaces used, each where it is called: int 13h AH=41h (do the extensions
// exist), int 13h AH=42h (read sectors by LBA), int 15h EAX=E820h (the memory map), int 12h
// (the conventional memory size, for Multiboot's mem_lower), int 10h AH=0Eh (a character on
// the screen), port 0x92 (A20) and COM1 at 0x3f8 (a character on the serial line).
core::arch::global_asm!(
    r#"
    .pushsection .rodata.novillo_pc_loader, "a"
    .balign 512
    .global novillo_pc_loader_start
    .global novillo_pc_loader_end
novillo_pc_loader_start:
    .code16
    .set BASE, 0x7c00
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $BASE, %sp
    ljmp $0, $(1f - novillo_pc_loader_start + BASE)  /* CS:IP = 0:7c.., whatever the BIOS used */
1:  sti
    cld
    movb %dl, drive - novillo_pc_loader_start + BASE

    /* int 13h AH=41h: are the extensions there, with the extended read (CX bit 0)? The
       old CHS read cannot reach past 8 GiB and its geometry is the BIOS's guess. */
    movb $0x41, %ah
    movw $0x55aa, %bx
    int $0x13
    movw $(no_extensions - novillo_pc_loader_start + BASE), %si
    jc fail
    cmpw $0xaa55, %bx
    jne fail
    testb $1, %cl
    jz fail

    /* Stage 2 and the command line, from sector 1 to 0x7e00, in one read. */
    movw BASE + {boot_sectors}, %ax
    movw %ax, dap_count - novillo_pc_loader_start + BASE
    movw $(BASE + 0x200), dap_offset - novillo_pc_loader_start + BASE
    movl $1, dap_lba - novillo_pc_loader_start + BASE
    call read
    jmp stage2

/* Reads the sectors the DAP names. int 13h AH=42h: the extended read by LBA, the one BIOS
   disk call that works on every disk the BIOS boots (IDE, AHCI, virtio, USB). */
read:
    movb $0x42, %ah
    movb drive - novillo_pc_loader_start + BASE, %dl
    movw $(dap - novillo_pc_loader_start + BASE), %si
    int $0x13
    movw $(read_error - novillo_pc_loader_start + BASE), %si
    jc fail
    ret

/* Prints the loader's prefix and the message at SI, then halts for good. */
fail:
    pushw %si
    /* COM1 at 115200 8N1 (the BIOS may have left it unset): divisor 1, no interrupts. */
    movw $0x3f9, %dx
    xorb %al, %al
    outb %al, %dx
    movb $0x80, %al
    addb $2, %dl
    outb %al, %dx
    movb $1, %al
    subb $3, %dl
    outb %al, %dx
    movb $3, %al
    addb $3, %dl
    outb %al, %dx
    movw $(prefix - novillo_pc_loader_start + BASE), %si
    call print
    popw %si
    call print
    cli
2:  hlt
    jmp 2b

/* Prints the NUL-terminated text at SI. */
print:
    lodsb
    testb %al, %al
    jz 4f
    movb %al, %bl
    movw $0x3fd, %dx
    movw $0x4000, %cx               /* bounded: a COM1 nobody drains stops no message */
3:  inb %dx, %al
    testb $0x20, %al
    loopz 3b
    movb %bl, %al
    subb $5, %dl
    outb %al, %dx
    /* int 10h AH=0Eh: the video BIOS's teletype writes the character on the screen in
       whatever text mode it set; without a video BIOS the call does nothing. */
    movb $0x0e, %ah
    movw $0x0007, %bx
    int $0x10
    jmp print
4:  ret

prefix:        .asciz "novillo loader: "
no_extensions: .asciz "no int 13h extensions\r\n"
read_error:    .asciz "disk read error\r\n"

    .balign 4
dap:        .byte 16, 0
dap_count:  .word 0
dap_offset: .word 0
dap_segment:.word 0
dap_lba:    .quad 0
drive:      .byte 0

    .balign 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code, base 0, 4 GiB */
    .quad 0x00cf92000000ffff        /* 0x10: data, base 0, 4 GiB */
gdtr:
    .word 23
    .long gdt - novillo_pc_loader_start + BASE

    .org novillo_pc_loader_start + {params}
    .fill {params_len}, 1, 0
    .org novillo_pc_loader_start + 0x1fe
    .byte 0x55, 0xaa

/* Stage 2, at 0x7e00. */
stage2:
    /* The Multiboot information, zeroed: the fields below fill it. */
    movw ${info}, %di
    xorw %ax, %ax
    movw $({info_len} / 2), %cx
    rep stosw

    /* A20 through port 0x92 ("fast A20", system control port A): bit 1 on, bit 0 (a
       reset) off. Every BIOS-era chipset and hypervisor has it; the keyboard controller
       route is slower and QEMU starts with A20 on anyway. */
    inb $0x92, %al
    orb $2, %al
    andb $0xfe, %al
    outb %al, $0x92

    /* int 15h EAX=E820h: the BIOS memory map, the only call that lists RAM above 4 GiB
       and the holes below it. Each entry goes 4 bytes past a size word of 20, as in
       Multiboot's map. */
    movw ${mmap}, %di
    xorl %ebx, %ebx
5:  movl $20, (%di)
    addw $4, %di
    movl $0xe820, %eax
    movl $20, %ecx
    movl $0x534d4150, %edx
    int $0x15
    jc 6f
    cmpl $0x534d4150, %eax
    jne 6f
    addw $20, %di
    testl %ebx, %ebx
    jz 7f
    cmpw ${mmap_end}, %di
    jb 5b
    jmp 7f
6:  subw $4, %di                    /* the slot the BIOS did not fill */
7:  movw %di, %ax
    subw ${mmap}, %ax               /* the map's length */
    movw $(no_map - novillo_pc_loader_start + BASE), %si
    jz fail
    movw %ax, {info} + 44

    /* EDX = the end of the RAM that holds 1 MiB (at most 4 GiB), from the map. */
    xorl %edx, %edx
    movw ${mmap}, %si
8:  cmpw %di, %si
    jae 10f
    cmpl $1, 20(%si)
    jne 9f
    cmpl $0, 8(%si)
    jne 9f
    movl 4(%si), %eax
    cmpl $0x100000, %eax
    ja 9f
    addl 12(%si), %eax
    movl 16(%si), %ecx
    adcl $0, %ecx
    jz 11f
    movl $0xfffffc00, %eax
11: cmpl $0x100000, %eax
    jbe 9f
    movl %eax, %edx
9:  addw $24, %si
    jmp 8b
10:
    /* The kernel's bytes must land in that RAM. */
    movl BASE + {kernel_sectors}, %eax
    shll $9, %eax
    addl BASE + {load_addr}, %eax
    movw $(too_big - novillo_pc_loader_start + BASE), %si
    jc fail
    cmpl %edx, %eax
    ja fail
    subl $0x100000, %edx
    shrl $10, %edx
    movl %edx, {info} + 8           /* mem_upper, KiB from 1 MiB */

    /* The kernel: chunks of at most 127 sectors into the buffer, each copied to its place
       in unreal mode and summed on the way. */
    movl BASE + {kernel_lba}, %eax
    movl %eax, dap_lba - novillo_pc_loader_start + BASE
    movl BASE + {load_addr}, %eax
    movl %eax, dest - novillo_pc_loader_start + BASE
    movl BASE + {kernel_sectors}, %eax
    movl %eax, left - novillo_pc_loader_start + BASE
12: movl left - novillo_pc_loader_start + BASE, %eax
    testl %eax, %eax
    jz 15f
    cmpl ${chunk}, %eax
    jbe 13f
    movl ${chunk}, %eax
13: movw %ax, dap_count - novillo_pc_loader_start + BASE
    movw %ax, count - novillo_pc_loader_start + BASE
    movw $0, dap_offset - novillo_pc_loader_start + BASE
    movw $({buffer} >> 4), dap_segment - novillo_pc_loader_start + BASE
    call read
    call unreal
    movl ${buffer}, %esi
    movl dest - novillo_pc_loader_start + BASE, %edi
    cmpl BASE + {load_addr}, %edi
    jne 14f
    cmpl $0x1badb002, (%esi)        /* the kernel starts with its Multiboot header */
    movw $(bad_magic - novillo_pc_loader_start + BASE), %si
    jne fail
    movl ${buffer}, %esi
14: movzwl count - novillo_pc_loader_start + BASE, %ecx
    shll $7, %ecx                   /* words of 4 bytes */
    movl sum - novillo_pc_loader_start + BASE, %edx
16: movl (%esi), %eax
    addl %eax, %edx
    movl %eax, (%edi)
    addl $4, %esi
    addl $4, %edi
    loop 16b
    movl %edx, sum - novillo_pc_loader_start + BASE
    movl %edi, dest - novillo_pc_loader_start + BASE
    sti
    movzwl count - novillo_pc_loader_start + BASE, %eax
    subl %eax, left - novillo_pc_loader_start + BASE
    addl %eax, dap_lba - novillo_pc_loader_start + BASE
    jmp 12b
15: movl sum - novillo_pc_loader_start + BASE, %eax
    cmpl BASE + {checksum}, %eax
    movw $(bad_sum - novillo_pc_loader_start + BASE), %si
    jne fail

    /* The rest of the Multiboot information: flags, lower memory, command line, map. */
    movl $((1 << 0) | (1 << 2) | (1 << 6)), {info}
    int $0x12                       /* int 12h: KiB of conventional memory (mem_lower) */
    movw %ax, {info} + 4
    movl $(cmdline - novillo_pc_loader_start + BASE), {info} + 16
    movl ${mmap}, {info} + 48

    /* 32-bit protected mode, flat, interrupts off, paging off: Multiboot's machine state. */
    cli
    lgdtl gdtr - novillo_pc_loader_start + BASE
    movl %cr0, %eax
    orb $1, %al
    movl %eax, %cr0
    ljmpl $0x08, $(enter32 - novillo_pc_loader_start + BASE)

/* DS with a 4 GiB limit in real mode ("unreal mode") for the copy, with interrupts off.
   Again before every copy: a BIOS call may reload the segment caches. */
unreal:
    cli
    lgdtl gdtr - novillo_pc_loader_start + BASE
    movl %cr0, %eax
    orb $1, %al
    movl %eax, %cr0
    movw $0x10, %bx
    movw %bx, %ds
    andb $0xfe, %al
    movl %eax, %cr0
    xorw %bx, %bx
    movw %bx, %ds
    ret

    .code32
enter32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $0x2badb002, %eax
    movl ${info}, %ebx
    jmpl *BASE + {entry}
    .code16

no_map:    .asciz "no E820 memory map\r\n"
too_big:   .asciz "the kernel does not fit in RAM\r\n"
bad_magic: .asciz "no kernel (bad Multiboot magic)\r\n"
bad_sum:   .asciz "kernel checksum mismatch (a damaged image?)\r\n"

    .balign 4
dest:  .long 0
left:  .long 0
sum:   .long 0
count: .word 0

    .balign 512
cmdline:
novillo_pc_loader_end:
    .code64
    .popsection
    "#,
    params = const params::AT,
    params_len = const params::END - params::AT,
    kernel_lba = const params::KERNEL_LBA,
    kernel_sectors = const params::KERNEL_SECTORS,
    load_addr = const params::LOAD_ADDR,
    entry = const params::ENTRY,
    checksum = const params::CHECKSUM,
    boot_sectors = const params::BOOT_SECTORS,
    chunk = const CHUNK_SECTORS,
    buffer = const BUFFER,
    info = const INFO,
    info_len = const INFO_LEN,
    mmap = const MMAP,
    mmap_end = const MMAP_END,
    options(att_syntax)
);

unsafe extern "C" {
    static novillo_pc_loader_start: u8;
    static novillo_pc_loader_end: u8;
}

/// The loader's bytes: the MBR (sector 0, parameters and partition table empty), then
/// stage 2, padded to whole sectors. The command line's sectors go right after it.
pub(crate) fn bytes() -> &'static [u8] {
    static BYTES: OnceLock<&'static [u8]> = OnceLock::new();
    BYTES.get_or_init(|| {
        let start = &raw const novillo_pc_loader_start;
        let end = &raw const novillo_pc_loader_end;
        // SAFETY: both symbols delimit the loader's bytes in probe's read-only data, end
        // after start.
        unsafe { std::slice::from_raw_parts(start, end as usize - start as usize) }
    })
}
