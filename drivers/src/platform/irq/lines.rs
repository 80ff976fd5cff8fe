//! The board's interrupt lines: which I/O APIC pin (GSI) each line is, on which vector,
//! and [`IoApicInterrupts`], the [`Interrupts`] controller the kernel drives them through.
//!
//! Line *n* raises vector [`VECTOR_BASE`]` + n` on the core it is routed to. A board claims
//! a line for each device's GSI at discovery ([`claim_gsi`]); devices on the same GSI get
//! the same line, which is how a shared PCI interrupt is shared. The trap path calls
//! [`top_half`] for those vectors: a level-triggered pin is masked there, before the local
//! APIC's end-of-interrupt, so that it cannot fire again until the kernel has acked the
//! device and calls [`Interrupts::unmask`]. A device with MSI-X gets a line of its own
//! ([`claim_msi`]): edge-triggered, never masked, routed by rewriting its table entry's
//! destination.
//!
//! The table is atomics only: the top half reads it with no lock, and an application that
//! never asks for a device never links anything here but [`IoApicInterrupts::new`].

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use hal::irq::{InterruptHandler, Interrupts, Line, MAX_LINES};

use crate::platform::firmware::mptable::MAX_CORES;
use crate::platform::irq::ioapic::{self, IoApic, MmioRegisters, Registers, Signal};
use crate::platform::smp::ApicCores;
use crate::x86_64::cpu;

/// The vector of line 0; line *n* is `VECTOR_BASE + n`.
pub const VECTOR_BASE: u8 = 0x30;
/// The most I/O APICs the table keeps.
pub const MAX_IOAPICS: usize = 4;
/// The most interrupt source overrides the table keeps.
pub const MAX_OVERRIDES: usize = 16;

/// An I/O APIC, as the firmware lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApicInfo {
    /// Its I/O APIC ID.
    pub id: u8,
    /// Its physical address.
    pub address: u32,
    /// The GSI of its pin 0.
    pub gsi_base: u32,
}

/// An ISA IRQ that reaches another GSI, or signals unlike an ISA pin (edge, active high).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Override {
    /// The ISA IRQ.
    pub irq: u8,
    /// The GSI it reaches.
    pub gsi: u32,
    /// Level (`Some(true)`), edge, or as the bus says (`None`).
    pub level: Option<bool>,
    /// Active low (`Some(true)`), high, or as the bus says (`None`).
    pub active_low: Option<bool>,
}

impl Override {
    /// The override of ISA IRQ `irq` onto `gsi` with the MPS/ACPI flags `flags`: bits 0..2
    /// polarity (01 high, 11 low, else the bus's), bits 2..4 trigger (01 edge, 11 level).
    pub fn from_flags(irq: u8, gsi: u32, flags: u16) -> Self {
        let field = |bits: u16| match bits & 3 {
            1 => Some(false),
            3 => Some(true),
            _ => None,
        };
        Self {
            irq,
            gsi,
            level: field(flags >> 2),
            active_low: field(flags),
        }
    }
}

/// What the firmware says about interrupt routing: the I/O APICs and the ISA overrides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routing {
    ioapics: [Option<IoApicInfo>; MAX_IOAPICS],
    overrides: [Option<Override>; MAX_OVERRIDES],
}

impl Routing {
    /// Nothing listed.
    pub const fn new() -> Self {
        Self {
            ioapics: [None; MAX_IOAPICS],
            overrides: [None; MAX_OVERRIDES],
        }
    }

    /// What a machine without tables has: one I/O APIC at its usual address, GSI = pin.
    pub const fn standard() -> Self {
        let mut routing = Self::new();
        routing.ioapics[0] = Some(IoApicInfo {
            id: 0,
            address: ioapic::DEFAULT_ADDRESS as u32,
            gsi_base: 0,
        });
        routing
    }

    /// Adds an I/O APIC; `false` when the table is full.
    pub fn push_ioapic(&mut self, info: IoApicInfo) -> bool {
        push(&mut self.ioapics, info)
    }

    /// Adds an override; `false` when the table is full.
    pub fn push_override(&mut self, entry: Override) -> bool {
        push(&mut self.overrides, entry)
    }

    /// The I/O APICs listed.
    pub fn ioapics(&self) -> impl Iterator<Item = IoApicInfo> + '_ {
        self.ioapics.iter().flatten().copied()
    }

    /// The overrides listed.
    pub fn overrides(&self) -> impl Iterator<Item = Override> + '_ {
        self.overrides.iter().flatten().copied()
    }

    /// The GSI and signal of ISA IRQ `irq` (a PCI function's interrupt line): the
    /// override's where there is one, else GSI `irq`; `bus` fills what it leaves open.
    pub fn isa_irq(&self, irq: u8, bus: Signal) -> (u32, Signal) {
        match self.overrides().find(|o| o.irq == irq) {
            Some(o) => (
                o.gsi,
                Signal {
                    level: o.level.unwrap_or(bus.level),
                    active_low: o.active_low.unwrap_or(bus.active_low),
                },
            ),
            None => (u32::from(irq), bus),
        }
    }
}

impl Default for Routing {
    fn default() -> Self {
        Self::new()
    }
}

fn push<T: Copy>(slots: &mut [Option<T>], item: T) -> bool {
    match slots.iter_mut().find(|slot| slot.is_none()) {
        Some(slot) => {
            *slot = Some(item);
            true
        }
        None => false,
    }
}

/// Why a GSI got no line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// No I/O APIC has a pin for this GSI.
    NoPin(u32),
    /// Every line is taken.
    Full,
    /// The GSI was claimed before with another trigger mode or polarity.
    SignalMismatch(u32),
}

impl core::fmt::Display for ClaimError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoPin(gsi) => write!(f, "no I/O APIC has a pin for GSI {gsi}"),
            Self::Full => write!(f, "all {MAX_LINES} interrupt lines are taken"),
            Self::SignalMismatch(gsi) => write!(
                f,
                "GSI {gsi} was claimed before with another trigger mode or polarity"
            ),
        }
    }
}

/// A line's entry, packed in a `u64`: 0 while free.
const USED: u64 = 1 << 63;
const LEVEL: u64 = 1 << 62;
const ACTIVE_LOW: u64 = 1 << 61;
/// An MSI-X line: the low 32 bits are its table entry's address, not a GSI.
const MSI: u64 = 1 << 60;

fn pack(gsi: u32, ioapic: usize, pin: u8, signal: Signal) -> u64 {
    let mut entry = USED | u64::from(gsi) | (ioapic as u64) << 32 | u64::from(pin) << 40;
    if signal.level {
        entry |= LEVEL;
    }
    if signal.active_low {
        entry |= ACTIVE_LOW;
    }
    entry
}

/// A claimed line: its GSI, I/O APIC (index into the table), pin and signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    gsi: u32,
    ioapic: usize,
    pin: u8,
    signal: Signal,
    msi: bool,
}

fn unpack(entry: u64) -> Option<Entry> {
    (entry & USED != 0).then_some(Entry {
        gsi: entry as u32,
        ioapic: (entry >> 32) as usize & 0xff,
        pin: (entry >> 40) as u8,
        signal: Signal {
            level: entry & LEVEL != 0,
            active_low: entry & ACTIVE_LOW != 0,
        },
        msi: entry & MSI != 0,
    })
}

fn vector(line: Line) -> u8 {
    // MAX_LINES is 32: the sum stays below 0x50.
    VECTOR_BASE + line.index() as u8
}

/// The lines, the I/O APICs they reach and the cores' local APIC IDs.
#[derive(Debug)]
pub struct LineTable {
    ioapics: [AtomicUsize; MAX_IOAPICS],
    gsi_bases: [AtomicU32; MAX_IOAPICS],
    lines: [AtomicU64; MAX_LINES],
    claims: spin::Mutex<()>,
}

impl LineTable {
    /// No lines, no I/O APIC, every core's APIC ID 0.
    pub const fn new() -> Self {
        Self {
            ioapics: [const { AtomicUsize::new(0) }; MAX_IOAPICS],
            gsi_bases: [const { AtomicU32::new(0) }; MAX_IOAPICS],
            lines: [const { AtomicU64::new(0) }; MAX_LINES],
            claims: spin::Mutex::new(()),
        }
    }

    /// Takes the I/O APICs from `routing`, unless some line was claimed already (its pin
    /// must not move); the [standard](Routing::standard) one when `routing` lists none.
    pub fn set_ioapics(&self, routing: &Routing) {
        let _claims = self.claims.lock();
        if self.lines[0].load(Ordering::Relaxed) != 0 {
            return;
        }
        let standard = Routing::standard();
        let listed = if routing.ioapics().next().is_some() {
            routing
        } else {
            &standard
        };
        for (i, info) in listed.ioapics().enumerate() {
            self.ioapics[i].store(info.address as usize, Ordering::Relaxed);
            self.gsi_bases[i].store(info.gsi_base, Ordering::Relaxed);
        }
    }

    /// The line of `gsi`, claimed now with `signal` and programmed masked, or the line
    /// claimed for it before (a shared line). `bank(address)` reaches the I/O APIC at
    /// `address`.
    pub fn claim_gsi<R: Registers>(
        &self,
        gsi: u32,
        signal: Signal,
        bank: impl Fn(usize) -> R,
    ) -> Result<Line, ClaimError> {
        let _claims = self.claims.lock();
        if self.ioapics[0].load(Ordering::Relaxed) == 0 {
            self.ioapics[0].store(ioapic::DEFAULT_ADDRESS, Ordering::Relaxed);
        }
        let mut free = None;
        for (index, slot) in self.lines.iter().enumerate() {
            match unpack(slot.load(Ordering::Relaxed)) {
                Some(entry) if entry.msi => {}
                Some(entry) if entry.gsi == gsi && entry.signal == signal => {
                    return Line::new(index).ok_or(ClaimError::Full);
                }
                Some(entry) if entry.gsi == gsi => return Err(ClaimError::SignalMismatch(gsi)),
                Some(_) => {}
                None => {
                    free.get_or_insert(index);
                }
            }
        }
        let line = free.and_then(Line::new).ok_or(ClaimError::Full)?;
        let (index, pin) = self.pin_of(gsi, &bank).ok_or(ClaimError::NoPin(gsi))?;
        let address = self.ioapics[index].load(Ordering::Relaxed);
        IoApic::new(bank(address)).set_masked(pin, vector(line), signal);
        self.lines[line.index()].store(pack(gsi, index, pin, signal), Ordering::Release);
        Ok(line)
    }

    /// A new edge-triggered line for the MSI-X table entry at `table_entry` (an address
    /// below 4 GiB), never shared.
    pub fn claim_msi(&self, table_entry: u32) -> Result<Line, ClaimError> {
        let _claims = self.claims.lock();
        let free = self
            .lines
            .iter()
            .position(|slot| slot.load(Ordering::Relaxed) == 0);
        let line = free.and_then(Line::new).ok_or(ClaimError::Full)?;
        self.lines[line.index()].store(USED | MSI | u64::from(table_entry), Ordering::Release);
        Ok(line)
    }

    /// The MSI-X table entry address of `line`, if it is an MSI line.
    pub fn msi_entry(&self, line: Line) -> Option<u32> {
        let entry = unpack(self.lines.get(line.index())?.load(Ordering::Acquire))?;
        entry.msi.then_some(entry.gsi)
    }

    /// The I/O APIC (index) and pin of `gsi`: the chip with the highest GSI base at or
    /// below it, if it has that many pins.
    fn pin_of<R: Registers>(&self, gsi: u32, bank: &impl Fn(usize) -> R) -> Option<(usize, u8)> {
        let (index, base) = (0..MAX_IOAPICS)
            .filter(|&i| self.ioapics[i].load(Ordering::Relaxed) != 0)
            .map(|i| (i, self.gsi_bases[i].load(Ordering::Relaxed)))
            .filter(|&(_, base)| base <= gsi)
            .max_by_key(|&(_, base)| base)?;
        let pin = gsi - base;
        let pins = IoApic::new(bank(self.ioapics[index].load(Ordering::Relaxed))).pins();
        u8::try_from(pin)
            .ok()
            .filter(|&pin| usize::from(pin) < pins)
            .map(|pin| (index, pin))
    }

    fn entry<R: Registers>(
        &self,
        line: Line,
        bank: impl Fn(usize) -> R,
    ) -> Option<(Entry, IoApic<R>)> {
        let entry = unpack(self.lines.get(line.index())?.load(Ordering::Acquire))?;
        if entry.msi {
            return None;
        }
        let address = self.ioapics[entry.ioapic].load(Ordering::Relaxed);
        Some((entry, IoApic::new(bank(address))))
    }

    /// Sends `line` to the local APIC `apic_id` and unmasks it; nothing for a line never
    /// claimed.
    pub fn route<R: Registers>(&self, line: Line, apic_id: u8, bank: impl Fn(usize) -> R) {
        if let Some((entry, chip)) = self.entry(line, bank) {
            chip.route(entry.pin, vector(line), entry.signal, apic_id);
        }
    }

    /// Masks or unmasks `line`'s pin.
    pub fn set_mask<R: Registers>(&self, line: Line, masked: bool, bank: impl Fn(usize) -> R) {
        if let Some((entry, chip)) = self.entry(line, bank) {
            chip.set_mask(entry.pin, vector(line), entry.signal, masked);
        }
    }

    /// What the top half does for `line` before its end-of-interrupt: masks the pin if
    /// it is level-triggered (an MSI line is edge: nothing to mask). `false` for a line
    /// never claimed.
    pub fn before_eoi<R: Registers>(&self, line: Line, bank: impl Fn(usize) -> R) -> bool {
        if self.msi_entry(line).is_some() {
            return true;
        }
        match self.entry(line, bank) {
            Some((entry, chip)) => {
                if entry.signal.level {
                    chip.set_mask(entry.pin, vector(line), entry.signal, true);
                }
                true
            }
            None => false,
        }
    }
}

impl Default for LineTable {
    fn default() -> Self {
        Self::new()
    }
}

/// The machine's line table.
static TABLE: LineTable = LineTable::new();
/// The cores' local APIC IDs, by core number: written once at boot, before any other core
/// runs, and only read from then on. A plain array copied whole, not atomics or a slice:
/// the copy is in every image (`cargo probe size`).
static mut APIC_IDS: [u8; MAX_CORES] = [0; MAX_CORES];
/// The kernel's handler, once installed (0 until then).
static HANDLER: AtomicUsize = AtomicUsize::new(0);

fn mmio(address: usize) -> MmioRegisters {
    // SAFETY: every address in TABLE is an I/O APIC's, from the firmware tables or the
    // standard one, inside the identity-mapped first 4 GiB.
    unsafe { MmioRegisters::new(address) }
}

/// Takes the firmware's I/O APICs; call before the first [`claim_gsi`].
pub fn set_ioapics(routing: &Routing) {
    TABLE.set_ioapics(routing);
}

/// The line of `gsi` (see [`LineTable::claim_gsi`]).
pub fn claim_gsi(gsi: u32, signal: Signal) -> Result<Line, ClaimError> {
    TABLE.claim_gsi(gsi, signal, mmio)
}

/// The address and data of an MSI message: fixed delivery, edge, `vector` on the local
/// APIC `apic_id`.
pub fn msi_message(apic_id: u8, vector: u8) -> (u32, u32) {
    (0xfee0_0000 | u32::from(apic_id) << 12, u32::from(vector))
}

/// A new MSI line whose message the MSI-X table entry at `table_entry` sends; the entry
/// is programmed for the boot core, unmasked.
///
/// # Safety
/// `table_entry` is the identity-mapped address of an MSI-X table entry (16 bytes) of a
/// function that nothing else programs.
pub unsafe fn claim_msi(table_entry: u32) -> Result<Line, ClaimError> {
    let line = TABLE.claim_msi(table_entry)?;
    // SAFETY: the caller's promise.
    unsafe { write_msi_entry(table_entry, apic_id(0), vector(line)) };
    Ok(line)
}

fn apic_id(core: usize) -> u8 {
    #[allow(clippy::deref_addrof)]
    // `&*(&raw const S)` is how edition 2024 borrows a `static mut`.
    // SAFETY: written once by `IoApicInterrupts::new`, at boot, and only read from then on.
    let ids = unsafe { &*(&raw const APIC_IDS) };
    ids.get(core).copied().unwrap_or(0)
}

/// Programs the MSI-X table entry at `table_entry`: message address, data, unmasked.
///
/// # Safety
/// As [`claim_msi`].
unsafe fn write_msi_entry(table_entry: u32, apic_id: u8, vector: u8) {
    let (address, data) = msi_message(apic_id, vector);
    let entry = table_entry as usize as *mut u32;
    // SAFETY: the caller's promise: 16 bytes of the entry, written as 32-bit words.
    unsafe {
        entry.write_volatile(address);
        entry.add(1).write_volatile(0);
        entry.add(2).write_volatile(data);
        entry.add(3).write_volatile(0);
    }
}

/// The top half of device vector `VECTOR_BASE + index`, called by the trap path in
/// interrupt context before the local APIC's end-of-interrupt: masks a level pin and
/// tells the kernel. A line with no handler yet stays masked.
fn top_half(index: usize) {
    let Some(line) = Line::new(index) else { return };
    if !TABLE.before_eoi(line, mmio) {
        return;
    }
    let handler = HANDLER.load(Ordering::Acquire);
    if handler != 0 {
        // SAFETY: HANDLER only ever holds 0 or an `InterruptHandler` stored by `set_handler`.
        let handler: InterruptHandler =
            unsafe { core::mem::transmute::<usize, InterruptHandler>(handler) };
        handler(line);
    }
}

/// The machine's I/O APIC lines, as the kernel sees them: zero-sized, the state is the
/// module's table.
#[derive(Debug)]
pub struct IoApicInterrupts(());

impl IoApicInterrupts {
    /// The controller for `cores`, whose APIC IDs the lines' destinations name.
    ///
    /// # Safety
    /// Runs once, on the boot core, before any other core runs.
    pub unsafe fn new(cores: &ApicCores) -> Self {
        // SAFETY: the caller's promise: nothing else reads or writes APIC_IDS yet.
        unsafe { (&raw mut APIC_IDS).write(*cores.apic_ids()) };
        Self(())
    }
}

impl Interrupts for IoApicInterrupts {
    fn set_handler(&mut self, handler: InterruptHandler) {
        HANDLER.store(handler as usize, Ordering::Release);
        cpu::set_device_handler(top_half);
    }

    fn route(&self, line: Line, core: usize) {
        // The device gates exist before any line is routed, handler or not.
        cpu::set_device_handler(top_half);
        let apic_id = apic_id(core);
        match TABLE.msi_entry(line) {
            // SAFETY: only `claim_msi` makes MSI lines, from an entry its caller vouched for.
            Some(entry) => unsafe { write_msi_entry(entry, apic_id, vector(line)) },
            None => TABLE.route(line, apic_id, mmio),
        }
    }

    fn unmask(&self, line: Line) {
        TABLE.set_mask(line, false, mmio);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use hal::irq::Line;
    use hal::irq::MAX_LINES;

    use super::{ClaimError, IoApicInfo, LineTable, Override, Routing, msi_message};
    use crate::platform::irq::ioapic::Signal;
    use crate::platform::irq::ioapic::tests::FakeIoApic;

    const EDGE_HIGH: Signal = Signal {
        level: false,
        active_low: false,
    };

    /// Two I/O APICs of 24 pins, at 0x1000 (GSI 0..24) and 0x2000 (GSI 24..48).
    fn two_chips() -> (LineTable, [FakeIoApic; 2]) {
        let chips = [FakeIoApic::default(), FakeIoApic::default()];
        for chip in &chips {
            chip.values.borrow_mut().insert(0x01, 0x0017_0020);
        }
        let table = LineTable::new();
        let mut routing = Routing::new();
        for (id, (address, gsi_base)) in [(0x1000, 0), (0x2000, 24)].into_iter().enumerate() {
            assert!(routing.push_ioapic(IoApicInfo {
                id: id as u8,
                address,
                gsi_base,
            }));
        }
        table.set_ioapics(&routing);
        (table, chips)
    }

    fn bank<'a>(chips: &'a [FakeIoApic; 2]) -> impl Fn(usize) -> &'a FakeIoApic {
        move |address| &chips[address / 0x1000 - 1]
    }

    #[test]
    fn a_claimed_gsi_is_programmed_masked_on_its_chip() {
        let (table, chips) = two_chips();
        let line = table.claim_gsi(26, Signal::LEVEL_HIGH, bank(&chips));
        assert_eq!(line, Ok(Line::new(0).unwrap()));
        assert!(chips[0].writes.borrow().is_empty());
        assert_eq!(*chips[1].writes.borrow(), [(0x14, 0x1_8030)]);
    }

    #[test]
    fn devices_on_one_gsi_share_its_line() {
        let (table, chips) = two_chips();
        let first = table.claim_gsi(11, Signal::LEVEL_HIGH, bank(&chips));
        let other = table.claim_gsi(10, Signal::LEVEL_HIGH, bank(&chips));
        let shared = table.claim_gsi(11, Signal::LEVEL_HIGH, bank(&chips));
        assert_eq!(first, shared);
        assert_ne!(first, other);
        assert_eq!(
            table.claim_gsi(11, EDGE_HIGH, bank(&chips)),
            Err(ClaimError::SignalMismatch(11))
        );
        assert_eq!(
            chips[0].writes.borrow().len(),
            2,
            "the shared pin is programmed once"
        );
    }

    #[test]
    fn gsis_without_a_pin_and_a_full_table_are_errors() {
        let (table, chips) = two_chips();
        assert_eq!(
            table.claim_gsi(48, Signal::LEVEL_HIGH, bank(&chips)),
            Err(ClaimError::NoPin(48))
        );
        for gsi in 0..MAX_LINES as u32 {
            assert!(table.claim_gsi(gsi, EDGE_HIGH, bank(&chips)).is_ok());
        }
        assert_eq!(
            table.claim_gsi(40, EDGE_HIGH, bank(&chips)),
            Err(ClaimError::Full)
        );
        assert_eq!(
            ClaimError::Full.to_string(),
            "all 32 interrupt lines are taken"
        );
    }

    #[test]
    fn routing_names_the_apic_and_the_top_half_masks_level_lines() {
        let (table, chips) = two_chips();
        let level = table
            .claim_gsi(5, Signal::LEVEL_HIGH, bank(&chips))
            .unwrap();
        let edge = table.claim_gsi(6, EDGE_HIGH, bank(&chips)).unwrap();
        chips[0].writes.borrow_mut().clear();
        table.route(level, 4, bank(&chips));
        assert!(table.before_eoi(level, bank(&chips)));
        table.set_mask(level, false, bank(&chips));
        table.route(edge, 2, bank(&chips));
        assert!(table.before_eoi(edge, bank(&chips)));
        assert!(!table.before_eoi(Line::new(7).unwrap(), bank(&chips)));
        assert_eq!(
            *chips[0].writes.borrow(),
            [
                (0x1b, 4 << 24),
                (0x1a, 0x8030),
                (0x1a, 0x1_8030),
                (0x1a, 0x8030),
                (0x1d, 2 << 24),
                (0x1c, 0x0031),
            ]
        );
    }

    #[test]
    fn without_tables_there_is_the_standard_ioapic() {
        let table = LineTable::new();
        let chip = FakeIoApic::default();
        chip.values.borrow_mut().insert(0x01, 0x0017_0020);
        table.set_ioapics(&Routing::new());
        let addresses = RefCell::new(Vec::new());
        let line = table.claim_gsi(9, Signal::LEVEL_HIGH, |address| {
            addresses.borrow_mut().push(address);
            &chip
        });
        assert!(line.is_ok());
        let addresses = addresses.into_inner();
        assert!(!addresses.is_empty());
        assert!(addresses.iter().all(|&a| a == 0xfec0_0000));
    }

    #[test]
    fn overrides_move_isa_irqs_and_set_their_signal() {
        let mut routing = Routing::standard();
        assert!(routing.push_override(Override::from_flags(0, 2, 0)));
        assert!(routing.push_override(Override::from_flags(11, 11, 0xd)));
        let pci_default = Signal {
            level: true,
            active_low: true,
        };
        assert_eq!(routing.isa_irq(0, EDGE_HIGH), (2, EDGE_HIGH));
        assert_eq!(routing.isa_irq(11, pci_default), (11, Signal::LEVEL_HIGH));
        assert_eq!(routing.isa_irq(10, pci_default), (10, pci_default));
    }

    #[test]
    fn msi_lines_are_their_own_edge_lines_and_the_message_names_the_apic() {
        let (table, chips) = two_chips();
        let gsi = table
            .claim_gsi(5, Signal::LEVEL_HIGH, bank(&chips))
            .unwrap();
        let msi = table.claim_msi(0xfebf_1000).unwrap();
        let other = table.claim_msi(0xfebf_2000).unwrap();
        assert_ne!(msi, gsi);
        assert_ne!(msi, other);
        assert_eq!(table.msi_entry(msi), Some(0xfebf_1000));
        assert_eq!(table.msi_entry(gsi), None);
        chips[0].writes.borrow_mut().clear();
        assert!(table.before_eoi(msi, bank(&chips)));
        table.set_mask(msi, false, bank(&chips));
        table.route(msi, 3, bank(&chips));
        assert!(chips[0].writes.borrow().is_empty(), "no I/O APIC pin");
        assert_eq!(
            table.claim_gsi(5, Signal::LEVEL_HIGH, bank(&chips)),
            Ok(gsi)
        );
        assert_eq!(msi_message(3, 0x31), (0xfee0_3000, 0x31));
    }
}
