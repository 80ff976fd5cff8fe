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

/// Resets the machine the way any x86 machine resets: a fault with no IDT to deliver it
/// (a triple fault). `ud2`, not `int3`, which hangs some software KVMs.
pub fn triple_fault() -> ! {
    // An IDT of limit 0 at address 0: every vector is out of bounds.
    let empty = [0u16; 5];
    // SAFETY: the machine resets; no Rust code runs after this, so nothing is broken.
    unsafe {
        asm!("cli", "lidt [{}]", "ud2", in(reg) &empty, options(noreturn, nostack));
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

/// Reads a model-specific register.
///
/// # Safety
/// `msr` must exist on this CPU, or RDMSR raises #GP.
pub unsafe fn rdmsr(msr: u32) -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: the caller vouches that the MSR exists; reading one has no side effects.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags))
    };
    u64::from(high) << 32 | u64::from(low)
}

/// Writes a model-specific register.
///
/// # Safety
/// `msr` must exist, and writing `value` to it must not break memory safety.
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the caller vouches for the MSR and the value.
    unsafe {
        asm!(
            "wrmsr",
            in("ecx") msr,
            in("eax") value as u32,
            in("edx") (value >> 32) as u32,
            options(nostack, preserves_flags),
        )
    };
}

/// Reads CR3: the physical address of the current top-level page table, and flags.
pub fn cr3() -> u64 {
    let value: u64;
    // SAFETY: reading CR3 has no side effects; the kernel runs in ring 0.
    unsafe { asm!("mov {}, cr3", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Drops the TLB entries of the page that holds `address` on this core.
pub fn invlpg(address: usize) {
    // SAFETY: INVLPG only drops cached translations, which the CPU refetches from the page
    // tables; it cannot make memory unsafe.
    unsafe { asm!("invlpg [{}]", in(reg) address, options(nostack, preserves_flags)) };
}

/// Runs `f` with interrupts masked on this core, then puts the interrupt flag back as it
/// was: a section an interrupt handler on the same core cannot enter.
pub fn without_interrupts<T>(f: impl FnOnce() -> T) -> T {
    let flags: u64;
    // SAFETY: saving RFLAGS and masking interrupts touches no memory but the stack slot.
    unsafe { asm!("pushfq", "pop {}", "cli", out(reg) flags, options(nomem)) };
    let result = f();
    if flags & (1 << 9) != 0 {
        // SAFETY: interrupts were on before `cli` above; turning them back on restores that.
        unsafe { asm!("sti", options(nomem, nostack)) };
    }
    result
}
