//! Starting and waking the other cores through their local APICs.
//!
//! Cores are numbered `0..count` in the order the MADT or MP table lists their APIC IDs,
//! with the boot core moved first as core 0. Each core finds its own number through its GS
//! base (see [`crate::x86_64::gdt::CoreLocal`]).
//!
//! # Starting a core
//!
//! A core that has not run yet waits for a start-up IPI, which starts it in 16-bit real
//! mode at a page below 1 MiB. [`ApicCores::start_all`] copies the trampoline to that page
//! (a usable page of the memory map, 0x8000 when it can), fills the mailbox at the end of
//! the page, and sends INIT, then STARTUP, to every core it starts before it waits for any:
//! under TCG a core takes milliseconds to answer, so the cores start side by side instead
//! of one after the other. The trampoline turns on protected mode, then long mode with the
//! boot page tables, reads its APIC ID from its local APIC, takes the stack set aside for
//! that ID and calls [`ap_main`], which finds its core number the same way, loads the
//! core's own GDT, TSS, per-core block and the shared IDT, enables its local APIC, reports
//! to the boot core and calls the kernel's entry. The cores share one mailbox: what they
//! write there (the far pointers) is the same for all.
//!
//! The MP specification waits 10 ms after INIT and 200 µs after each STARTUP. The 10 ms
//! are for the discrete 82489DX APIC; like Linux on every family 6 (Intel) or 0xF (AMD)
//! processor, which is every 64-bit one, the STARTUP follows the INIT at once. The second
//! STARTUP is only sent to the cores that have not answered within 200 µs of the first (a
//! core that runs ignores it anyway), and every wait is bounded, with the TSC.

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering, fence};

use hal::cpu::{CoreEntry, Cores, CpuIdle, StartError};
use hal::memory::Region;
use hal::time::{Clock, Instant};

use crate::platform::firmware::mptable::MAX_CORES;
use crate::platform::irq::lapic::{Ipi, LocalApic, MmioRegisters, reg};
use crate::x86_64::cpu;
use crate::x86_64::gdt::{CoreLocal, CoreTables};
use crate::x86_64::idle::HaltIdle;
use crate::x86_64::instructions;
use crate::x86_64::trap::WAKE_VECTOR;
use crate::x86_64::tsc::TscClock;

/// The page the trampoline goes to when the memory map allows.
pub const PREFERRED_TRAMPOLINE: u64 = 0x8000;
/// The end of the memory a start-up IPI can name and that is RAM on a PC.
const LOW_MEMORY_END: u64 = 0xa_0000;

/// How long a started core has to answer before the second STARTUP, in microseconds.
const FIRST_ANSWER_US: u64 = 200;
/// How long a started core has to answer at most, in microseconds. Under TCG a core's
/// first instructions are translated before they run, which takes milliseconds.
const LAST_ANSWER_US: u64 = 500_000;

/// The mailbox: where the trampoline finds what it needs, at the end of its page.
mod mailbox {
    /// The mailbox's offset in the trampoline page.
    pub(super) const AT: usize = 0xf00;
    /// The trampoline's GDT: null, 32-bit code, data, 64-bit code.
    pub(super) const GDT: usize = AT;
    /// LGDT's operand: a 16-bit limit and a 32-bit base (the trampoline fills it).
    pub(super) const GDTR: usize = AT + 0x20;
    /// The far pointer to the 32-bit code (the trampoline fills it).
    pub(super) const FAR32: usize = AT + 0x28;
    /// The far pointer to the 64-bit code (the trampoline fills it).
    pub(super) const FAR64: usize = AT + 0x30;
    /// The boot page tables (CR3).
    pub(super) const CR3: usize = AT + 0x38;
    /// The address of [`super::STACK_BY_APIC_ID`].
    pub(super) const STACKS: usize = AT + 0x40;
    /// [`super::ap_main`]'s address.
    pub(super) const AP_MAIN: usize = AT + 0x48;
    /// The [`super::CoreTables`] slot of core 1; core `n`'s follows at `n - 1` slots on.
    pub(super) const TABLES: usize = AT + 0x58;
    /// The kernel's entry for the core.
    pub(super) const ENTRY: usize = AT + 0x60;
    /// The local APIC's address.
    pub(super) const APIC: usize = AT + 0x68;
}

// The mailbox ends within the trampoline's page.
const _: () = assert!(mailbox::APIC + 8 <= 0x1000);

const TRAMPOLINE_CODE32: u64 = 0x00cf_9a00_0000_ffff;
const TRAMPOLINE_DATA: u64 = 0x00cf_9200_0000_ffff;
const TRAMPOLINE_CODE64: u64 = 0x00af_9a00_0000_ffff;

// The trampoline, copied to a page below 1 MiB and entered there with CS = page >> 4 and
// IP = 0. It finds its own address in CS, so it runs at any page. It has no stack until
// long mode, so it stores the far pointers it jumps through into the mailbox.
core::arch::global_asm!(
    r#"
    .section .rodata.novillo_trampoline, "a"
    .balign 16
    .global novillo_trampoline_start
    .global novillo_trampoline_end
novillo_trampoline_start:
    .code16
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    movzwl %ax, %ebx
    shll $4, %ebx                   /* ebx = the page's address, for the rest of the way */
    leal {gdt}(%ebx), %eax
    movw $31, {gdtr}
    movl %eax, {gdtr} + 2
    leal (.Ltrampoline32 - novillo_trampoline_start)(%ebx), %eax
    movl %eax, {far32}
    movw $0x08, {far32} + 4
    lgdtl {gdtr}
    movl %cr0, %eax
    andl $0x9fffffff, %eax          /* caches on (CD, NW), as the boot core has them */
    orl $1, %eax                    /* protection */
    movl %eax, %cr0
    ljmpl *{far32}

    .code32
.Ltrampoline32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    leal (.Ltrampoline64 - novillo_trampoline_start)(%ebx), %eax
    movl %eax, {far64}(%ebx)
    movw $0x18, {far64} + 4(%ebx)
    movl %cr4, %eax                 /* PAE */
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl {cr3}(%ebx), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx          /* EFER.LME */
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    movl %cr0, %eax                 /* paging and write-protect in ring 0 */
    orl $0x80010000, %eax
    movl %eax, %cr0
    ljmpl *{far64}(%ebx)

    .code64
.Ltrampoline64:
    movq {apic}(%rbx), %rax         /* this core's APIC ID picks its stack */
    movl {apic_id}(%rax), %esi
    shrl $24, %esi
    movq {stacks}(%rbx), %rax
    movq (%rax,%rsi,8), %rsp
    leaq {at}(%rbx), %rdi
    callq *{ap_main}(%rbx)
    ud2
novillo_trampoline_end:
    "#,
    at = const mailbox::AT,
    gdt = const mailbox::GDT,
    gdtr = const mailbox::GDTR,
    far32 = const mailbox::FAR32,
    far64 = const mailbox::FAR64,
    cr3 = const mailbox::CR3,
    apic = const mailbox::APIC,
    apic_id = const reg::ID,
    stacks = const mailbox::STACKS,
    ap_main = const mailbox::AP_MAIN,
    options(att_syntax)
);

unsafe extern "C" {
    static novillo_trampoline_start: u8;
    static novillo_trampoline_end: u8;
}

/// The trampoline's code.
fn trampoline() -> &'static [u8] {
    let start = &raw const novillo_trampoline_start;
    let end = &raw const novillo_trampoline_end;
    // SAFETY: both symbols delimit the trampoline's bytes in `.rodata`, end after start.
    unsafe { core::slice::from_raw_parts(start, end as usize - start as usize) }
}

/// The page to copy the trampoline to: a page of usable RAM below 640 KiB (a start-up
/// IPI names a page below 1 MiB), 0x8000 when the map allows, else the lowest other one.
pub fn trampoline_page(map: &[Region]) -> Option<u64> {
    let usable = |page: u64| {
        map.iter()
            .any(|r| r.usable && r.start <= page && page + 0x1000 <= r.start.saturating_add(r.len))
    };
    (PREFERRED_TRAMPOLINE..LOW_MEMORY_END)
        .chain(0x1000..PREFERRED_TRAMPOLINE)
        .step_by(0x1000)
        .find(|&page| usable(page))
}

/// The APIC IDs in core order: `boot` first, then the others in table order. A boot
/// processor missing from the table is added.
pub fn core_order(table: &[u8], boot: u8) -> ([u8; MAX_CORES], usize) {
    let mut ids = [0; MAX_CORES];
    ids[0] = boot;
    let mut count = 1;
    for &id in table.iter().filter(|&&id| id != boot) {
        if count == MAX_CORES {
            break;
        }
        ids[count] = id;
        count += 1;
    }
    (ids, count)
}

/// A core's state, as [`ApicCores`] tracks it.
const NOT_STARTED: u8 = 0;
const STARTING: u8 = 1;
const RUNNING: u8 = 2;

/// The APIC IDs an xAPIC can name, for the tables a starting core looks itself up in.
const APIC_IDS: usize = 256;
/// The top of the stack of the core being started with each APIC ID; read by the
/// trampoline.
static STACK_BY_APIC_ID: [AtomicU64; APIC_IDS] = [const { AtomicU64::new(0) }; APIC_IDS];
/// The core number of the core being started with each APIC ID; read by [`ap_main`].
static CORE_BY_APIC_ID: [AtomicU8; APIC_IDS] = [const { AtomicU8::new(0) }; APIC_IDS];
/// The boot core's APIC ID, which each started core wakes once it has answered.
static BOOT_APIC_ID: AtomicU8 = AtomicU8::new(0);
/// Set by each started core once it runs its entry.
static ANSWERED: [AtomicBool; MAX_CORES] = [const { AtomicBool::new(false) }; MAX_CORES];
/// Held while cores are being started: there is one trampoline page and one mailbox.
static STARTING_LOCK: AtomicBool = AtomicBool::new(false);

/// The machine's cores, started and woken through the local APICs.
#[derive(Debug)]
pub struct ApicCores {
    apic: LocalApic<MmioRegisters>,
    clock: TscClock,
    apic_ids: [u8; MAX_CORES],
    count: usize,
    state: [AtomicU8; MAX_CORES],
    /// The memory map, where [`Cores::start`] looks for the trampoline's page.
    memory_map: &'static [Region],
    /// The address of `count - 1` [`CoreTables`] slots, for cores 1 and up.
    tables: usize,
}

impl ApicCores {
    /// The cores with the APIC IDs `apic_ids` (in table order; the boot core, the current
    /// one, is put first whether listed or not), starting with a trampoline in a page of
    /// `memory_map` (see [`trampoline_page`]), with `tables` for the cores' descriptor
    /// tables (its length limits the count to one more).
    ///
    /// # Safety
    /// Runs on the boot core after [`cpu::enable_interrupt_controller`] with the same APIC;
    /// the memory map must be true, its usable RAM below 640 KiB used by nothing else from
    /// the first [`Cores::start`] on, and `tables` used by nothing else, for ever.
    pub unsafe fn new(
        apic: MmioRegisters,
        clock: TscClock,
        apic_ids: &[u8],
        memory_map: &'static [Region],
        tables: &'static mut [MaybeUninit<CoreTables>],
    ) -> Self {
        let apic = LocalApic::new(apic);
        let (apic_ids, count) = core_order(apic_ids, apic.id());
        let count = count.min(tables.len() + 1);
        let state = [const { AtomicU8::new(NOT_STARTED) }; MAX_CORES];
        state[0].store(RUNNING, Ordering::Relaxed);
        Self {
            apic,
            clock,
            apic_ids,
            count,
            state,
            memory_map,
            tables: tables.as_mut_ptr() as usize,
        }
    }

    /// The local APIC IDs of the cores, by core number (the boot core first), then zeros
    /// up to [`MAX_CORES`]: a whole table, which copies without a length check.
    pub fn apic_ids(&self) -> &[u8; MAX_CORES] {
        &self.apic_ids
    }

    /// Waits up to `micros` for every core in `cores` to answer; true if they all did. The
    /// boot core halts meanwhile (each core wakes it as it answers), so that under TCG its
    /// host thread leaves the host's processors to the starting cores'.
    fn all_answered_within(&self, cores: &[(usize, usize)], micros: u64) -> bool {
        let all_answered = || {
            cores
                .iter()
                .all(|&(core, _)| ANSWERED[core].load(Ordering::Acquire))
        };
        let deadline = Instant::from_nanos(
            self.clock
                .now()
                .as_nanos()
                .saturating_add(micros.saturating_mul(1000)),
        );
        // SAFETY: `new`'s caller enabled this core's APIC at this address, and the IDT
        // handles the timer and wake vectors.
        let idle = unsafe { HaltIdle::new(self.clock, *self.apic.registers()) };
        while !all_answered() && self.clock.now() < deadline {
            idle.idle(Some(deadline), &mut || !all_answered());
        }
        all_answered()
    }

    /// Copies the trampoline to `page`, fills the mailbox and the per-APIC-ID stacks for
    /// `cores` (core number and stack top each), sends every core its start-up signals,
    /// then waits for them all at once.
    ///
    /// # Safety
    /// As for [`Cores::start`], for every core, with the start lock held.
    unsafe fn start_locked(&self, page: u64, cores: &[(usize, usize)], entry: CoreEntry) {
        let code = trampoline();
        let base = page as usize;
        let put = |offset: usize, value: u64| {
            // SAFETY: the mailbox lies within the trampoline page, which `new`'s caller gave
            // us; no trampoline runs from it while we hold the lock (a core that never
            // answered may still run it, and reads only what every start writes alike).
            unsafe { ((base + offset) as *mut u64).write_volatile(value) }
        };
        // SAFETY: the page is ours (as above) and the code is shorter than the mailbox's
        // offset (`trampoline_fits_before_its_mailbox` checks it).
        unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), base as *mut u8, code.len()) };
        for (i, descriptor) in [0, TRAMPOLINE_CODE32, TRAMPOLINE_DATA, TRAMPOLINE_CODE64]
            .into_iter()
            .enumerate()
        {
            put(mailbox::GDT + 8 * i, descriptor);
        }
        put(mailbox::CR3, instructions::cr3());
        put(mailbox::STACKS, STACK_BY_APIC_ID.as_ptr() as u64);
        put(mailbox::AP_MAIN, ap_main as *const () as u64);
        put(mailbox::TABLES, self.tables as u64);
        put(mailbox::ENTRY, entry as *const () as u64);
        put(mailbox::APIC, self.apic.registers().base() as u64);
        BOOT_APIC_ID.store(self.apic_ids[0], Ordering::Relaxed);
        for &(core, stack_top) in cores {
            let id = usize::from(self.apic_ids[core]);
            STACK_BY_APIC_ID[id].store(stack_top as u64, Ordering::Relaxed);
            CORE_BY_APIC_ID[id].store(core as u8, Ordering::Relaxed);
        }
        fence(Ordering::SeqCst);
        let startup = Ipi::Startup((page >> 12) as u8);
        // A core whose APIC does not take the signals simply never answers.
        for &(core, _) in cores {
            let id = self.apic_ids[core];
            let _ = self
                .apic
                .send_ipi(id, Ipi::Init)
                .and_then(|()| self.apic.send_ipi(id, startup));
        }
        if self.all_answered_within(cores, FIRST_ANSWER_US) {
            return;
        }
        for &(core, _) in cores {
            if !ANSWERED[core].load(Ordering::Acquire) {
                let _ = self.apic.send_ipi(self.apic_ids[core], startup);
            }
        }
        self.all_answered_within(cores, LAST_ANSWER_US);
    }

    /// Starts `cores` (core number and stack top each) together and tells `report` how each
    /// went, in the order given.
    ///
    /// # Safety
    /// As for [`Cores::start`], for every core.
    // Shared by `start` and `start_all`: one copy in the image (`cargo probe size`).
    #[inline(never)]
    unsafe fn start_cores(
        &self,
        cores: &[(usize, usize)],
        entry: CoreEntry,
        report: &mut dyn FnMut(usize, Result<(), StartError>),
    ) {
        let mut starting = [(0, 0); MAX_CORES];
        let mut count = 0;
        for &(core, stack_top) in cores {
            if core == 0 || core >= self.count {
                report(core, Err(StartError::NoSuchCore));
            } else if self.state[core]
                .compare_exchange(NOT_STARTED, STARTING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                report(core, Err(StartError::AlreadyStarted));
            } else {
                starting[count] = (core, stack_top);
                count += 1;
            }
        }
        let starting = &starting[..count];
        if starting.is_empty() {
            return;
        }
        // A core that does not answer stays STARTING: it may still answer late, so it is
        // never started again.
        // Looked for here rather than at boot: the boot does not pay for it.
        if let Some(page) = trampoline_page(self.memory_map) {
            while STARTING_LOCK
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                core::hint::spin_loop();
            }
            // SAFETY: the caller's promises about the stacks are `start_locked`'s, and we
            // hold the lock.
            unsafe { self.start_locked(page, starting, entry) };
            STARTING_LOCK.store(false, Ordering::Release);
        }
        for &(core, _) in starting {
            if ANSWERED[core].load(Ordering::Acquire) {
                self.state[core].store(RUNNING, Ordering::Release);
                report(core, Ok(()));
            } else {
                report(core, Err(StartError::NoAnswer));
            }
        }
    }
}

impl Cores for ApicCores {
    fn count(&self) -> usize {
        self.count
    }

    fn current(&self) -> usize {
        CoreLocal::index()
    }

    fn here() -> Option<usize> {
        Some(CoreLocal::index())
    }

    fn wake(&self, core: usize) {
        if core < self.count
            && core != self.current()
            && self.state[core].load(Ordering::Acquire) == RUNNING
        {
            // A stuck ICR would mean a broken APIC; the wake-up is then lost, and the core
            // wakes at its next deadline.
            let _ = self
                .apic
                .send_ipi(self.apic_ids[core], Ipi::Fixed(WAKE_VECTOR));
        }
    }

    unsafe fn start(
        &self,
        core: usize,
        stack_top: usize,
        entry: CoreEntry,
    ) -> Result<(), StartError> {
        let mut outcome = Err(StartError::NoAnswer);
        // SAFETY: the caller's promises are `start_cores`'.
        unsafe {
            self.start_cores(&[(core, stack_top)], entry, &mut |_, result| {
                outcome = result
            })
        };
        outcome
    }

    unsafe fn start_all(
        &self,
        stack_tops: &[usize],
        entry: CoreEntry,
        report: &mut dyn FnMut(usize, Result<(), StartError>),
    ) {
        let mut cores = [(0, 0); MAX_CORES];
        let count = stack_tops.len().min(MAX_CORES);
        for (index, &stack_top) in stack_tops[..count].iter().enumerate() {
            cores[index] = (index + 1, stack_top);
        }
        // SAFETY: the caller's promises are `start_cores`'.
        unsafe { self.start_cores(&cores[..count], entry, report) };
        for core in count + 1..=stack_tops.len() {
            report(core, Err(StartError::NoSuchCore));
        }
    }
}

/// Where a started core enters Rust, on its own stack, with interrupts masked and the
/// trampoline's GDT: sets the core up, reports, and runs the kernel's entry.
extern "C" fn ap_main(mailbox: *const u8, apic_id: u32) -> ! {
    let get = |offset: usize| {
        // SAFETY: the trampoline passes its mailbox, which the boot core filled and does
        // not touch until this core answers.
        unsafe {
            mailbox
                .add(offset - mailbox::AT)
                .cast::<u64>()
                .read_volatile()
        }
    };
    let core = usize::from(CORE_BY_APIC_ID[apic_id as usize % APIC_IDS].load(Ordering::Acquire));
    let slot = (get(mailbox::TABLES) as usize + (core - 1) * size_of::<CoreTables>())
        as *mut MaybeUninit<CoreTables>;
    let apic = get(mailbox::APIC) as usize;
    // SAFETY: `start` filled ENTRY from a `CoreEntry`.
    let entry = unsafe { core::mem::transmute::<usize, CoreEntry>(get(mailbox::ENTRY) as usize) };
    // SAFETY: this core's slot is its own (one per core number, each core started once);
    // the boot core set up the IDT and its APIC at the same address before starting us.
    unsafe {
        cpu::init_other_core(&mut *slot, core);
        cpu::enable_interrupt_controller(apic);
    }
    ANSWERED[core].store(true, Ordering::Release);
    // SAFETY: the boot core's APIC is at the same address as ours, as `new` requires.
    let apic = LocalApic::new(unsafe { MmioRegisters::new(apic) });
    // A lost wake-up only makes the boot core wait for its timer.
    let _ = apic.send_ipi(
        BOOT_APIC_ID.load(Ordering::Relaxed),
        Ipi::Fixed(WAKE_VECTOR),
    );
    entry(core)
}

#[cfg(test)]
mod tests {
    use hal::memory::Region;

    use super::{core_order, mailbox, trampoline, trampoline_page};

    fn ram(start: u64, len: u64) -> Region {
        Region {
            start,
            len,
            usable: true,
        }
    }

    #[test]
    fn trampoline_goes_to_0x8000_or_the_lowest_usable_page() {
        assert_eq!(trampoline_page(&[ram(0, 0x9_fc00)]), Some(0x8000));
        assert_eq!(
            trampoline_page(&[ram(0, 0x8000), ram(0x9_0000, 0x1000)]),
            Some(0x9_0000)
        );
        assert_eq!(trampoline_page(&[ram(0x1000, 0x7800)]), Some(0x1000));
        assert_eq!(trampoline_page(&[ram(0x10_0000, 0x100_0000)]), None);
        let reserved = Region {
            usable: false,
            ..ram(0, 0x9_fc00)
        };
        assert_eq!(trampoline_page(&[reserved]), None);
    }

    #[test]
    fn boot_core_comes_first() {
        let (ids, count) = core_order(&[0, 1, 2, 3], 2);
        assert_eq!(&ids[..count], &[2, 0, 1, 3]);
        let (ids, count) = core_order(&[], 5);
        assert_eq!(&ids[..count], &[5]);
    }

    #[test]
    fn trampoline_fits_before_its_mailbox() {
        let code = trampoline();
        assert!(!code.is_empty() && code.len() <= mailbox::AT);
    }
}
