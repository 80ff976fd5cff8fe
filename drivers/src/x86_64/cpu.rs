//! Setting up a core: descriptor tables and exception routing.

use core::sync::atomic::{AtomicUsize, Ordering};

use hal::cpu::Cores;
use hal::trap::{FaultHandler, Traps};

use crate::x86_64::gdt::{CoreTables, DOUBLE_FAULT_IST};
use crate::x86_64::idt::Idt;
use crate::x86_64::instructions;
use crate::x86_64::trap::{self, EXCEPTION_ENTRIES, TrapFrame};

/// The fault handler in charge: the board's early one, then the kernel's.
static FAULT_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// CPU exceptions, routed to the [`FaultHandler`] in charge. Interrupts are ignored until
/// some driver claims them.
#[derive(Debug)]
pub struct Exceptions(());

impl Traps for Exceptions {
    fn set_fault_handler(&mut self, handler: FaultHandler) {
        FAULT_HANDLER.store(handler as usize, Ordering::Release);
    }
}

fn on_trap(frame: &mut TrapFrame) {
    if !frame.is_exception() {
        return;
    }
    let fault = frame.fault(instructions::cr2());
    let handler = FAULT_HANDLER.load(Ordering::Acquire);
    if handler == 0 {
        instructions::halt_forever();
    }
    // SAFETY: FAULT_HANDLER only ever holds 0 or a `FaultHandler` stored by this module.
    let handler: FaultHandler = unsafe { core::mem::transmute::<usize, FaultHandler>(handler) };
    handler(&fault);
}

/// Sets up the boot core: its GDT and TSS (with a double-fault stack), an IDT with every
/// CPU exception, and `early` as the fault handler until the kernel installs its own
/// through the returned [`Exceptions`].
///
/// # Safety
/// Runs once, on the boot core, with interrupts masked, before anything relies on the old
/// descriptor tables.
pub unsafe fn init_boot_core(early: FaultHandler) -> Exceptions {
    static mut TABLES: CoreTables = CoreTables::new();
    static mut IDT: Idt = Idt::new();
    let mut exceptions = Exceptions(());
    exceptions.set_fault_handler(early);
    trap::set_handler(on_trap);
    #[allow(clippy::deref_addrof)]
    // `&mut *(&raw mut S)` is how edition 2024 borrows a `static mut`.
    // SAFETY: this runs once, on one core, so nothing else holds a reference to TABLES or
    // IDT; both are 'static, and every gate points at a trap entry.
    unsafe {
        let tables = &mut *(&raw mut TABLES);
        tables.load();
        let idt = &mut *(&raw mut IDT);
        for (vector, entry) in EXCEPTION_ENTRIES.into_iter().enumerate() {
            let ist = if vector == 8 { DOUBLE_FAULT_IST } else { 0 };
            idt.set(vector as u8, entry, ist);
        }
        idt.load();
    }
    exceptions
}

/// The machine's cores while only the boot core runs: the others are counted (from the MP
/// table) but not started yet, so every call runs on core 0 and no core is idle to wake.
#[derive(Clone, Copy, Debug)]
pub struct BootCoreOnly {
    count: usize,
}

impl BootCoreOnly {
    /// A machine of `count` cores (at least one).
    pub fn new(count: usize) -> Self {
        Self {
            count: count.max(1),
        }
    }
}

impl Cores for BootCoreOnly {
    fn count(&self) -> usize {
        self.count
    }

    fn current(&self) -> usize {
        0
    }

    fn wake(&self, _core: usize) {}
}
