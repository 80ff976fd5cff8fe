//! Setting up a core: descriptor tables, the shared IDT, and trap routing.
//!
//! CPU exceptions go to the [`FaultHandler`] in charge. The local APIC timer, the wake-up
//! IPI and the APIC's spurious interrupt exist only to end a `hlt`: their handler
//! acknowledges them (all but the spurious one, which must not be) and returns. The device
//! vectors ([`DEVICE_VECTOR_BASE`] on) first go to the device handler
//! ([`set_device_handler`]), then are acknowledged the same way.

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

use hal::trap::{FaultHandler, Traps};

use crate::platform::irq::lapic::{LocalApic, MmioRegisters};
use crate::platform::irq::pic;
use crate::x86_64::gdt::{CoreLocal, CoreTables, DOUBLE_FAULT_IST, PAGE_FAULT_IST};
use crate::x86_64::idt::Idt;
use crate::x86_64::instructions;
use crate::x86_64::trap::{
    self, DEVICE_STUB_SIZE, DEVICE_VECTOR_BASE, DEVICE_VECTORS, EXCEPTION_ENTRIES,
    INTERRUPT_ENTRIES, SPURIOUS_VECTOR, TrapFrame,
};

/// The fault handler in charge: the board's early one, then the kernel's.
static FAULT_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// The local APIC's address, once [`enable_interrupts_controller`] set it up.
static LOCAL_APIC: AtomicUsize = AtomicUsize::new(0);

/// What a device vector calls, with the line's number (0 until set).
static DEVICE_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// The IDT every core loads: filled by the boot core before any other core runs, then only
/// the device gates are written, once, by [`set_device_handler`].
static mut IDT: Idt = Idt::new();

/// CPU exceptions, routed to the [`FaultHandler`] in charge.
#[derive(Debug)]
pub struct Exceptions(());

impl Traps for Exceptions {
    fn set_fault_handler(&mut self, handler: FaultHandler) {
        FAULT_HANDLER.store(handler as usize, Ordering::Release);
    }
}

/// Sends every later device vector, on every core, to `handler`, with the vector's
/// distance from [`DEVICE_VECTOR_BASE`]; it runs in interrupt context, before the local
/// APIC's end-of-interrupt. The first call points the device vectors' IDT gates at their
/// trap entries: not at boot, so that an image that never asks for a device carries none
/// of this (`cargo probe size`). Call it before routing any device line.
pub fn set_device_handler(handler: fn(usize)) {
    static GATES: spin::Once = spin::Once::new();
    DEVICE_HANDLER.store(handler as usize, Ordering::Release);
    GATES.call_once(|| {
        let idt = &raw mut IDT;
        let entries = trap::device_entries as *const () as usize;
        for line in 0..DEVICE_VECTORS {
            let vector = DEVICE_VECTOR_BASE + line as u8;
            // SAFETY: `GATES` lets one caller in, once; only `platform::irq::lines` routes
            // device lines, and it calls this first, so no core delivers these vectors
            // while their gates change (CPUs read the IDT only to deliver); each gate
            // points at a device trap entry.
            unsafe { Idt::set_shared(idt, vector, entries + line * DEVICE_STUB_SIZE, 0) };
        }
        trap::set_handler(on_device_trap);
    });
}

/// [`on_trap`] with the device vectors first given to the device handler: the trap handler
/// once [`set_device_handler`] ran.
fn on_device_trap(frame: &mut TrapFrame) {
    let device = frame.vector.wrapping_sub(u64::from(DEVICE_VECTOR_BASE)) as usize;
    let handler = DEVICE_HANDLER.load(Ordering::Acquire);
    if device < DEVICE_VECTORS && handler != 0 {
        // SAFETY: DEVICE_HANDLER only ever holds 0 or a `fn(usize)` stored by
        // `set_device_handler`.
        let handler = unsafe { core::mem::transmute::<usize, fn(usize)>(handler) };
        handler(device);
    }
    on_trap(frame);
}

fn on_trap(frame: &mut TrapFrame) {
    if !frame.is_exception() {
        let base = LOCAL_APIC.load(Ordering::Relaxed);
        if frame.vector != u64::from(SPURIOUS_VECTOR) && base != 0 {
            // SAFETY: LOCAL_APIC only holds the address `enable_interrupt_controller` was
            // given, whose caller vouched for it.
            LocalApic::new(unsafe { MmioRegisters::new(base) }).end_of_interrupt();
        }
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

/// Sets up the boot core as core 0: its GDT, TSS (with double-fault and page-fault
/// stacks) and per-core block, an IDT with every CPU exception and the three interrupts
/// (the device vectors come with [`set_device_handler`]), and `early` as the fault handler
/// until the kernel installs its own through the returned [`Exceptions`].
///
/// # Safety
/// Runs once, on the boot core, with interrupts masked, before anything relies on the old
/// descriptor tables and before any other core starts.
pub unsafe fn init_boot_core(early: FaultHandler) -> Exceptions {
    // Not zeroed at boot (see the boards' `.noinit`): `CoreTables::load` writes what it
    // needs, and the 32 KiB of stacks need nothing.
    #[unsafe(link_section = ".noinit.core_tables")]
    static mut TABLES: MaybeUninit<CoreTables> = MaybeUninit::uninit();
    let mut exceptions = Exceptions(());
    exceptions.set_fault_handler(early);
    trap::set_handler(on_trap);
    #[allow(clippy::deref_addrof)]
    // `&mut *(&raw mut S)` is how edition 2024 borrows a `static mut`.
    // SAFETY: this runs once, on one core, before any other core runs, so nothing else holds
    // a reference to TABLES or IDT; both are 'static, and every gate points at a trap entry.
    unsafe {
        CoreTables::load(&mut *(&raw mut TABLES), 0);
        let idt = &mut *(&raw mut IDT);
        let exceptions = EXCEPTION_ENTRIES
            .into_iter()
            .enumerate()
            .map(|(vector, entry)| (vector as u8, entry));
        for (vector, entry) in exceptions.chain(INTERRUPT_ENTRIES) {
            let ist = match vector {
                8 => DOUBLE_FAULT_IST,
                14 => PAGE_FAULT_IST,
                _ => 0,
            };
            idt.set(vector, entry as usize, ist);
        }
        Idt::load(&raw const IDT);
    }
    exceptions
}

/// Sets up a core started after the boot core as core number `core`: its own GDT, TSS
/// and per-core block in `slot`, and the shared IDT.
///
/// # Safety
/// Runs once per core, on that core, with interrupts masked, after [`init_boot_core`];
/// `slot` must be used by nothing else, for ever.
pub unsafe fn init_other_core(slot: &'static mut MaybeUninit<CoreTables>, core: usize) {
    // SAFETY: the caller's promises are `load`'s; the boot core filled the IDT before this
    // core started, and later writes (`set_device_handler`) keep every gate valid.
    unsafe {
        CoreTables::load(slot, core);
        Idt::load(&raw const IDT);
    }
}

/// Masks the 8259s and enables the current core's local APIC at `base`, with the timer's
/// calibration run started (see [`crate::platform::irq::lapic`]). Every core calls it once.
///
/// # Safety
/// `base` must be the local APIC's identity-mapped address, in xAPIC mode; runs with
/// interrupts masked, after the core's tables are loaded.
pub unsafe fn enable_interrupt_controller(base: usize) {
    // SAFETY: the 8259s are at their standard ports on every PC-like machine, and only the
    // boot path touches them.
    unsafe { pic::mask_all() };
    LOCAL_APIC.store(base, Ordering::Relaxed);
    // SAFETY: the caller vouches for the address.
    let apic = LocalApic::new(unsafe { MmioRegisters::new(base) });
    apic.enable(SPURIOUS_VECTOR);
    CoreLocal::set_calibration_start(apic.count_at_tsc());
}
