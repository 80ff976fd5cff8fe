//! Trap entry: the first instructions of every exception and interrupt.
//!
//! Each vector has a naked stub that makes the stack look the same whether or not the CPU
//! pushed an error code, then jumps to one common entry that saves every general register
//! into a [`TrapFrame`] and calls the handler the board installed with [`set_handler`].
//! When the handler returns, the registers in the frame are restored and the interrupted
//! code resumes, so a handler can change where it resumes.

use core::arch::naked_asm;
use core::sync::atomic::{AtomicUsize, Ordering};

use hal::trap::Fault;

use crate::x86_64::instructions;

/// The registers of interrupted code, as the trap entry saved them.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
#[allow(missing_docs)] // The register names say it all.
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// The vector that was taken.
    pub vector: u64,
    /// The CPU's error code, or 0 for vectors without one.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// The number of CPU exception vectors.
pub const EXCEPTIONS: usize = 32;

/// The names of the CPU exceptions, by vector.
const NAMES: [&str; EXCEPTIONS] = [
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point error",
    "virtualization exception",
    "control protection exception",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection exception",
    "VMM communication exception",
    "security exception",
    "reserved",
];

/// The exceptions for which the CPU pushes an error code.
const fn has_error_code(vector: u64) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

/// The name of exception `vector`, or `"interrupt"` past the exceptions.
pub fn exception_name(vector: u64) -> &'static str {
    usize::try_from(vector)
        .ok()
        .and_then(|v| NAMES.get(v))
        .copied()
        .unwrap_or("interrupt")
}

impl TrapFrame {
    /// Whether this trap is a CPU exception rather than an interrupt.
    pub fn is_exception(&self) -> bool {
        self.vector < EXCEPTIONS as u64
    }

    /// Describes this exception for the kernel. `cr2` is the page-fault address register,
    /// read by the caller; it is passed on for a page fault, and for a double fault, which
    /// a page fault that could not be delivered (a stack overflow into a guard page) turns
    /// into.
    pub fn fault(&self, cr2: u64) -> Fault {
        Fault {
            vector: self.vector as u8,
            name: exception_name(self.vector),
            instruction_pointer: self.rip,
            stack_pointer: self.rsp,
            frame_pointer: self.rbp,
            error_code: has_error_code(self.vector).then_some(self.error_code),
            address: matches!(self.vector, 8 | 14).then_some(cr2),
        }
    }
}

/// What a board does with a trap.
pub type TrapHandler = fn(&mut TrapFrame);

static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Sends every later trap, on every core, to `handler`.
pub fn set_handler(handler: TrapHandler) {
    HANDLER.store(handler as usize, Ordering::Release);
}

extern "C" fn dispatch(frame: &mut TrapFrame) {
    let handler = HANDLER.load(Ordering::Acquire);
    if handler == 0 {
        // Nobody to tell: a trap before the board was ready.
        instructions::halt_forever();
    }
    // SAFETY: HANDLER only ever holds 0 or a `TrapHandler` stored by `set_handler`.
    let handler: TrapHandler = unsafe { core::mem::transmute::<usize, TrapHandler>(handler) };
    handler(frame);
}

/// Saves the registers into a `TrapFrame` below the vector and error code the stub pushed,
/// calls `dispatch`, and returns from the trap with the frame's registers.
#[unsafe(naked)]
extern "C" fn common_entry() {
    naked_asm!(
        "push rax", "push rbx", "push rcx", "push rdx", "push rsi", "push rdi", "push rbp",
        "push r8", "push r9", "push r10", "push r11", "push r12", "push r13", "push r14", "push r15",
        // 22 quadwords (176 bytes) above the 16-byte-aligned point where the CPU began
        // pushing: the stack is aligned for the call.
        "mov rdi, rsp",
        "cld",
        "call {dispatch}",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
        "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
        "add rsp, 16",
        "iretq",
        dispatch = sym dispatch,
    );
}

/// The local APIC timer's vector.
pub const TIMER_VECTOR: u8 = 0xf0;
/// The vector of the IPI that wakes an idle core.
pub const WAKE_VECTOR: u8 = 0xf1;
/// The local APIC's spurious-interrupt vector (its low four bits set, as old APICs want).
pub const SPURIOUS_VECTOR: u8 = 0xff;

macro_rules! stub {
    ($vector:expr, $name:ident) => {
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            naked_asm!(
                ".if {has_code} == 0",
                "push 0",
                ".endif",
                "push {vector}",
                "jmp {common}",
                has_code = const has_error_code($vector as u64) as u8,
                vector = const $vector,
                common = sym common_entry,
            );
        }
    };
}

macro_rules! stubs {
    (
        exceptions: $($vector:literal => $name:ident),* ;
        interrupts: $($interrupt:ident => $handler:ident),* $(,)?
    ) => {
        $(stub!($vector, $name);)*
        $(stub!($interrupt, $handler);)*

        /// The trap entries of the CPU exceptions, by vector, for the IDT.
        pub const EXCEPTION_ENTRIES: [unsafe extern "C" fn(); EXCEPTIONS] = [$($name),*];

        /// The trap entries of the interrupts, with their vectors, for the IDT.
        pub const INTERRUPT_ENTRIES: [(u8, unsafe extern "C" fn()); [$($interrupt),*].len()] =
            [$(($interrupt, $handler)),*];
    };
}

stubs! {
    exceptions:
    0 => exception_0, 1 => exception_1, 2 => exception_2, 3 => exception_3,
    4 => exception_4, 5 => exception_5, 6 => exception_6, 7 => exception_7,
    8 => exception_8, 9 => exception_9, 10 => exception_10, 11 => exception_11,
    12 => exception_12, 13 => exception_13, 14 => exception_14, 15 => exception_15,
    16 => exception_16, 17 => exception_17, 18 => exception_18, 19 => exception_19,
    20 => exception_20, 21 => exception_21, 22 => exception_22, 23 => exception_23,
    24 => exception_24, 25 => exception_25, 26 => exception_26, 27 => exception_27,
    28 => exception_28, 29 => exception_29, 30 => exception_30, 31 => exception_31;
    interrupts:
    TIMER_VECTOR => timer_interrupt, WAKE_VECTOR => wake_interrupt,
    SPURIOUS_VECTOR => spurious_interrupt,
}

/// The first device vector: line *n* of [`crate::platform::irq::lines`] raises
/// `DEVICE_VECTOR_BASE + n`.
pub const DEVICE_VECTOR_BASE: u8 = 0x30;
/// How many device vectors there are, one per line.
pub const DEVICE_VECTORS: usize = hal::irq::MAX_LINES;

/// The size of one device vector's stub in [`device_entries`].
pub const DEVICE_STUB_SIZE: usize = 4;

/// The trap entries of the device vectors: [`DEVICE_VECTORS`] stubs of
/// [`DEVICE_STUB_SIZE`] bytes, the one for `DEVICE_VECTOR_BASE + n` at `n ×
/// DEVICE_STUB_SIZE`. Each pushes its vector and jumps to a shared tail that slips a zero
/// error code under it; four bytes a vector rather than a full stub and a table entry,
/// which every image carries (`cargo probe size`).
///
/// # Safety
/// Only the CPU enters these stubs, through an IDT gate.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn device_entries() {
    naked_asm!(
        ".set vector, {base}",
        ".rept {count}",
        // `push imm8` (the vectors stay below 0x80, so sign extension keeps them) and a
        // short `jmp` to the tail: 4 bytes.
        ".byte 0x6a, vector",
        ".byte 0xeb, 2f - . - 1",
        ".set vector, vector + 1",
        ".endr",
        "2:",
        "push qword ptr [rsp]",
        "mov qword ptr [rsp + 8], 0",
        "jmp {common}",
        base = const DEVICE_VECTOR_BASE,
        count = const DEVICE_VECTORS,
        common = sym common_entry,
    );
}

#[cfg(test)]
mod tests {
    use super::{TrapFrame, exception_name};

    #[test]
    fn page_fault_carries_error_code_and_address() {
        let frame = TrapFrame {
            vector: 14,
            error_code: 2,
            rip: 0x1000,
            rsp: 0x2000,
            ..TrapFrame::default()
        };
        let fault = frame.fault(0xdead);
        assert_eq!(fault.name, "page fault");
        assert_eq!(fault.error_code, Some(2));
        assert_eq!(fault.address, Some(0xdead));
        assert_eq!(fault.instruction_pointer, 0x1000);
    }

    #[test]
    fn invalid_opcode_has_neither() {
        let fault = TrapFrame {
            vector: 6,
            error_code: 0,
            ..TrapFrame::default()
        }
        .fault(0xdead);
        assert_eq!(fault.name, "invalid opcode");
        assert_eq!(fault.error_code, None);
        assert_eq!(fault.address, None);
        assert_eq!(exception_name(200), "interrupt");
    }
}
