//! The global descriptor table and task-state segment of one core.
//!
//! Long mode ignores segment bases and limits; the GDT is here for the code and data
//! selectors and for the TSS, whose interrupt stack table gives a double fault a stack of
//! its own, so that a kernel stack overflow is reported instead of resetting the machine.

use core::arch::asm;
use core::mem::size_of;

/// The kernel code segment selector.
pub const KERNEL_CODE: u16 = 0x08;
/// The kernel data segment selector.
pub const KERNEL_DATA: u16 = 0x10;
/// The TSS selector.
pub const TSS: u16 = 0x18;
/// The interrupt-stack-table slot of the double-fault stack (1-based, as the IDT names it).
pub const DOUBLE_FAULT_IST: u8 = 1;

const DOUBLE_FAULT_STACK: usize = 16 * 1024;

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

/// One core's descriptor tables and its double-fault stack.
#[derive(Debug)]
#[repr(C, align(16))]
pub struct CoreTables {
    gdt: [u64; 5],
    tss: TaskStateSegment,
    double_fault_stack: [u8; DOUBLE_FAULT_STACK],
}

impl CoreTables {
    /// Empty tables, to be filled by [`CoreTables::load`].
    pub const fn new() -> Self {
        Self {
            gdt: [0; 5],
            tss: TaskStateSegment {
                reserved0: 0,
                privilege_stacks: [0; 3],
                reserved1: 0,
                interrupt_stacks: [0; 7],
                reserved2: 0,
                reserved3: 0,
                io_map_base: 0,
            },
            double_fault_stack: [0; DOUBLE_FAULT_STACK],
        }
    }

    /// Fills the tables and makes them the current core's: loads the GDT, reloads every
    /// segment register and loads the task register.
    ///
    /// # Safety
    /// Must run on the core that will own these tables, with interrupts masked, and the
    /// tables must stay where they are for ever (hence `'static`).
    pub unsafe fn load(&'static mut self) {
        // All zeros until here, so that a `static` of these tables costs no image bytes.
        // No I/O permission bitmap: its offset points past the segment's end.
        self.tss.io_map_base = size_of::<TaskStateSegment>() as u16;
        let stack_top = self.double_fault_stack.as_ptr_range().end as u64;
        self.tss.interrupt_stacks[usize::from(DOUBLE_FAULT_IST - 1)] = stack_top & !0xf;
        let tss = &raw const self.tss as u64;
        let limit = (size_of::<TaskStateSegment>() - 1) as u64;
        self.gdt = [
            0,
            0x00af_9a00_0000_ffff, // 64-bit code, ring 0
            0x00cf_9200_0000_ffff, // data, ring 0
            // Available 64-bit TSS, present, with its base split over the descriptor.
            limit | (tss & 0xff_ffff) << 16 | 0x89 << 40 | ((tss >> 24) & 0xff) << 56,
            tss >> 32,
        ];
        let pointer = DescriptorPointer {
            limit: (size_of::<[u64; 5]>() - 1) as u16,
            base: self.gdt.as_ptr() as u64,
        };
        // SAFETY: the GDT is 'static and has the code and data descriptors at the selectors
        // loaded here; the far return reloads CS with the same flat code segment, and the TSS
        // descriptor is available (not busy), as LTR requires.
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
                "ltr {tss:x}",
                pointer = in(reg) &raw const pointer,
                code = const KERNEL_CODE as u64,
                data = in(reg) u32::from(KERNEL_DATA),
                tss = in(reg) TSS,
                tmp = out(reg) _,
            );
        }
    }
}

impl Default for CoreTables {
    fn default() -> Self {
        Self::new()
    }
}

/// The operand of LGDT and LIDT.
#[repr(C, packed(2))]
pub(crate) struct DescriptorPointer {
    pub(crate) limit: u16,
    pub(crate) base: u64,
}
