//! The global descriptor table, task-state segment and per-core block of one core.
//!
//! Long mode ignores segment bases and limits; the GDT is here for the code and data
//! selectors and for the TSS, whose interrupt stack table gives two exceptions stacks of
//! their own: a double fault, so that a kernel stack overflow is reported instead of
//! resetting the machine, and a page fault, so that a thread running into the guard page
//! below its stack gets a page-fault report (the CPU could not push the exception frame on
//! the overflowing stack, and would make it a double fault).
//!
//! Each core's GS base points at its [`CoreLocal`] block, whose first word is the core's
//! number: `mov rax, gs:[0]` answers "which core am I" in one load on any core, with no
//! table to search and no APIC register to read (a memory-mapped read that costs a VM exit
//! under a hypervisor).

use core::arch::asm;
use core::mem::{MaybeUninit, offset_of, size_of};

use crate::x86_64::instructions;

/// The kernel code segment selector.
pub const KERNEL_CODE: u16 = 0x08;
/// The kernel data segment selector.
pub const KERNEL_DATA: u16 = 0x10;
/// The TSS selector.
pub const TSS: u16 = 0x18;
/// The interrupt-stack-table slot of the double-fault stack (1-based, as the IDT names it).
pub const DOUBLE_FAULT_IST: u8 = 1;
/// The interrupt-stack-table slot of the page-fault stack.
pub const PAGE_FAULT_IST: u8 = 2;

/// The size of each of a core's two exception stacks.
pub const EXCEPTION_STACK: usize = 16 * 1024;

/// The MSR that holds the GS base.
const GS_BASE_MSR: u32 = 0xc000_0101;

/// The 64-bit task-state segment.
#[derive(Debug, Default)]
#[repr(C, packed(4))]
struct TaskStateSegment {
    reserved0: u32,
    privilege_stacks: [u64; 3],
    reserved1: u64,
    interrupt_stacks: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    io_map_base: u16,
}

/// A core's own small block of data, found through its GS base.
#[derive(Debug)]
#[repr(C)]
pub struct CoreLocal {
    /// The core's number (at `gs:[0]`).
    index: u64,
    /// The TSC at the start of the core's APIC timer calibration run.
    calibration_tsc: u64,
    /// The timer's count at that moment.
    calibration_count: u64,
    /// The core's APIC timer rate in kHz, or 0 before it is known.
    timer_khz: u64,
}

/// Reads the word at `offset` in the current core's [`CoreLocal`].
fn local_read(offset: usize) -> u64 {
    let value: u64;
    // SAFETY: every core points GS at its own `CoreLocal` (see `CoreTables::load`) before it
    // runs code that reads it; the offsets are those of its fields.
    unsafe {
        asm!("mov {}, gs:[{}]", out(reg) value, in(reg) offset, options(nostack, preserves_flags, readonly))
    };
    value
}

/// Writes the word at `offset` in the current core's [`CoreLocal`].
fn local_write(offset: usize, value: u64) {
    // SAFETY: as for `local_read`; nothing but the core itself reads its block, and no
    // reference to it is held.
    unsafe {
        asm!("mov gs:[{}], {}", in(reg) offset, in(reg) value, options(nostack, preserves_flags))
    };
}

impl CoreLocal {
    /// The number of the core this runs on.
    pub fn index() -> usize {
        local_read(offset_of!(Self, index)) as usize
    }

    /// The timer's count and the TSC at the start of this core's calibration run.
    pub fn calibration_start() -> (u32, u64) {
        (
            local_read(offset_of!(Self, calibration_count)) as u32,
            local_read(offset_of!(Self, calibration_tsc)),
        )
    }

    /// Records the timer's count and the TSC at the start of this core's calibration run.
    pub fn set_calibration_start((count, tsc): (u32, u64)) {
        local_write(offset_of!(Self, calibration_count), u64::from(count));
        local_write(offset_of!(Self, calibration_tsc), tsc);
    }

    /// This core's APIC timer rate in kHz, or 0 before it is known.
    pub fn timer_khz() -> u64 {
        local_read(offset_of!(Self, timer_khz))
    }

    /// Records this core's APIC timer rate.
    pub fn set_timer_khz(khz: u64) {
        local_write(offset_of!(Self, timer_khz), khz);
    }
}

/// One core's descriptor tables, per-core block and exception stacks: about 32 KiB.
#[derive(Debug)]
#[repr(C, align(16))]
pub struct CoreTables {
    local: CoreLocal,
    gdt: [u64; 5],
    tss: TaskStateSegment,
    double_fault_stack: MaybeUninit<[u8; EXCEPTION_STACK]>,
    page_fault_stack: MaybeUninit<[u8; EXCEPTION_STACK]>,
}

impl CoreTables {
    /// Fills the tables in `slot` (whatever it held: it may be uninitialised memory) for
    /// core number `core` and makes them the current core's: loads the GDT, reloads every
    /// segment register, loads the task register and points the GS base at the per-core
    /// block.
    ///
    /// # Safety
    /// Must run on the core that will own these tables, once, with interrupts masked; the
    /// slot must be used by nothing else and stay where it is for ever (hence `'static`).
    pub unsafe fn load(slot: &'static mut MaybeUninit<CoreTables>, core: usize) {
        let this = slot.as_mut_ptr();
        // Write every field but the stacks, which need no initial value: a slot costs no
        // image bytes and no time to zero.
        // SAFETY: `this` points at the caller's slot, which is ours and 'static; the writes
        // go through raw field pointers, so no reference to uninitialised memory is made.
        unsafe {
            (&raw mut (*this).local).write(CoreLocal {
                index: core as u64,
                calibration_tsc: 0,
                calibration_count: 0,
                timer_khz: 0,
            });
            let stack_top = |stack: *mut MaybeUninit<[u8; EXCEPTION_STACK]>| {
                (stack as usize + EXCEPTION_STACK) as u64 & !0xf
            };
            let mut interrupt_stacks = [0; 7];
            interrupt_stacks[usize::from(DOUBLE_FAULT_IST - 1)] =
                stack_top(&raw mut (*this).double_fault_stack);
            interrupt_stacks[usize::from(PAGE_FAULT_IST - 1)] =
                stack_top(&raw mut (*this).page_fault_stack);
            let tss = &raw mut (*this).tss;
            tss.write(TaskStateSegment {
                interrupt_stacks,
                // No I/O permission bitmap: its offset points past the segment's end.
                io_map_base: size_of::<TaskStateSegment>() as u16,
                ..TaskStateSegment::default()
            });
            let tss = tss as u64;
            let limit = (size_of::<TaskStateSegment>() - 1) as u64;
            (&raw mut (*this).gdt).write([
                0,
                0x00af_9a00_0000_ffff, // 64-bit code, ring 0
                0x00cf_9200_0000_ffff, // data, ring 0
                // Available 64-bit TSS, present, with its base split over the descriptor.
                limit | (tss & 0xff_ffff) << 16 | 0x89 << 40 | ((tss >> 24) & 0xff) << 56,
                tss >> 32,
            ]);
        }
        let pointer = DescriptorPointer {
            limit: (size_of::<[u64; 5]>() - 1) as u16,
            // SAFETY: as above; only the address is taken.
            base: unsafe { &raw const (*this).gdt } as u64,
        };
        // SAFETY: the GDT is 'static and has the code and data descriptors at the selectors
        // loaded here; the far return reloads CS with the same flat code segment, and the TSS
        // descriptor is available (not busy), as LTR requires. FS and GS get the null
        // selector; GS's base is then set through its MSR, to the block written above.
        unsafe {
            asm!(
                "lgdt [{pointer}]",
                "push {code}",
                "lea {tmp}, [rip + 2f]",
                "push {tmp}",
                "retfq",
                "2:",
                "mov ds, {data:e}",
                "mov es, {data:e}",
                "mov ss, {data:e}",
                "mov fs, {null:e}",
                "mov gs, {null:e}",
                "ltr {tss:x}",
                pointer = in(reg) &raw const pointer,
                code = const KERNEL_CODE as u64,
                data = in(reg) u32::from(KERNEL_DATA),
                null = in(reg) 0u32,
                tss = in(reg) TSS,
                tmp = out(reg) _,
            );
            instructions::wrmsr(GS_BASE_MSR, &raw const (*this).local as u64);
        }
    }
}

/// The operand of LGDT and LIDT.
#[repr(C, packed(2))]
pub(crate) struct DescriptorPointer {
    pub(crate) limit: u16,
    pub(crate) base: u64,
}
