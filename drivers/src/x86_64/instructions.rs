//! Single instructions that need no more than a line of safe wrapping.

use core::arch::asm;

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; CR4.TSD is never set, so it cannot fault.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Reads CR2, the address of the last page fault.
pub fn cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effects; the kernel runs in ring 0.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Masks interrupts and halts for ever: the end of the line when nothing else works.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: with interrupts masked, HLT stops this core until an NMI or reset.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// The result of one CPUID leaf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpuid {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
}

/// Runs CPUID for `leaf`, sub-leaf 0.
pub fn cpuid(leaf: u32) -> Cpuid {
    let r = core::arch::x86_64::__cpuid_count(leaf, 0);
    Cpuid {
        eax: r.eax,
        ebx: r.ebx,
        ecx: r.ecx,
        edx: r.edx,
    }
}
