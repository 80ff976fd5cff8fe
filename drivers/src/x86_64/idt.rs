//! The interrupt descriptor table.

use core::arch::asm;
use core::mem::size_of;

use crate::x86_64::gdt::{DescriptorPointer, KERNEL_CODE};

/// One IDT gate.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    /// A ring-0 interrupt gate to `handler` on interrupt stack `ist`.
    fn interrupt(handler: usize, ist: u8) -> Self {
        let address = handler as u64;
        Self {
            offset_low: address as u16,
            selector: KERNEL_CODE,
            ist: ist & 0x7,
            attributes: 0x8e, // present, DPL 0, 64-bit interrupt gate
            offset_middle: (address >> 16) as u16,
            offset_high: (address >> 32) as u32,
            reserved: 0,
        }
    }
}

/// An interrupt descriptor table of 256 gates.
#[derive(Debug)]
#[repr(C, align(16))]
pub struct Idt {
    gates: [Gate; 256],
}

impl Idt {
    /// A table whose gates are all absent (an interrupt on one is a #GP, then a #DF).
    pub const fn new() -> Self {
        const ABSENT: Gate = Gate {
            offset_low: 0,
            selector: 0,
            ist: 0,
            attributes: 0,
            offset_middle: 0,
            offset_high: 0,
            reserved: 0,
        };
        Self {
            gates: [ABSENT; 256],
        }
    }

    /// Points `vector` at the trap entry at `handler` as a ring-0 interrupt gate (interrupts
    /// masked on entry), on interrupt stack `ist` (0: the current stack).
    pub fn set(&mut self, vector: u8, handler: usize, ist: u8) {
        self.gates[usize::from(vector)] = Gate::interrupt(handler, ist);
    }

    /// [`set`](Self::set) on a table cores may have loaded: writes the one gate through
    /// `table`, with no reference to the whole table.
    ///
    /// # Safety
    /// `table` is valid for writes, nothing else writes that gate at the same time, and no
    /// core delivers `vector` while it changes.
    pub unsafe fn set_shared(table: *mut Self, vector: u8, handler: usize, ist: u8) {
        // SAFETY: the caller's promises; the index is a `u8`, inside the 256 gates.
        unsafe {
            (&raw mut (*table).gates[usize::from(vector)]).write(Gate::interrupt(handler, ist));
        }
    }

    /// Makes the table at `table` the current core's. A pointer, not a reference: gates of
    /// a loaded table may still be written ([`set_shared`](Self::set_shared)).
    ///
    /// # Safety
    /// Every present gate must point at a valid trap entry, and the table must stay where
    /// it is for ever.
    pub unsafe fn load(table: *const Self) {
        let pointer = DescriptorPointer {
            limit: (size_of::<Self>() - 1) as u16,
            // `repr(C)`: the gates are at the table's address.
            base: table as u64,
        };
        // SAFETY: the caller vouches for the table's place and its gates.
        unsafe {
            asm!("lidt [{}]", in(reg) &raw const pointer, options(readonly, nostack, preserves_flags))
        };
    }
}

impl Default for Idt {
    fn default() -> Self {
        Self::new()
    }
}
