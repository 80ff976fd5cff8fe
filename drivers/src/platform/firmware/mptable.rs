//! The Intel MultiProcessor table: which processors the firmware says the machine has, and
//! how its device interrupts reach the I/O APICs.
//!
//! Both QEMU firmwares write one (SeaBIOS on `-M pc`, qboot on microvm, where it is the
//! only table when ACPI is off). The parser reads byte slices, so that the board decides
//! which physical memory to look at and the parsing is tested on the host.

use crate::platform::irq::lines::{IoApicInfo, MAX_IOAPICS, Override, Routing};

/// The most processors Novillo keeps track of.
pub const MAX_CORES: usize = 64;

/// The highest local APIC ID an xAPIC can address: 255 is its broadcast ID, and larger
/// IDs exist only in x2APIC mode, which the local APIC driver does not use.
pub const MAX_XAPIC_ID: u32 = 254;

/// What the firmware tables say about the processors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Processors {
    apic_ids: [u8; MAX_CORES],
    count: usize,
    /// Enabled processors whose APIC ID is above [`MAX_XAPIC_ID`]: listed, but not startable.
    beyond_xapic: usize,
    /// How many enabled processors the table lists, kept or not.
    listed: usize,
    /// The physical address of the local APICs.
    pub local_apic: u32,
}

impl Processors {
    /// No processors yet; the local APICs at `local_apic`.
    pub(crate) fn new(local_apic: u32) -> Self {
        Self {
            apic_ids: [0; MAX_CORES],
            count: 0,
            beyond_xapic: 0,
            listed: 0,
            local_apic,
        }
    }

    /// Adds an enabled processor; the boot processor goes first. An ID listed before is
    /// not added again; an ID above [`MAX_XAPIC_ID`] is only counted; past [`MAX_CORES`]
    /// processors are counted but not kept.
    pub(crate) fn push(&mut self, apic_id: u32, boot: bool) {
        let Some(id) = u8::try_from(apic_id)
            .ok()
            .filter(|&id| u32::from(id) <= MAX_XAPIC_ID)
        else {
            self.beyond_xapic += 1;
            return;
        };
        if self.apic_ids().contains(&id) {
            return;
        }
        self.listed += 1;
        if self.count == MAX_CORES {
            return;
        }
        self.apic_ids[self.count] = id;
        if boot {
            self.apic_ids[..=self.count].rotate_right(1);
        }
        self.count += 1;
    }

    /// The local APIC IDs of the enabled processors, the boot processor first.
    pub fn apic_ids(&self) -> &[u8] {
        &self.apic_ids[..self.count]
    }

    /// How many enabled processors have APIC IDs above [`MAX_XAPIC_ID`], which xAPIC
    /// start-up IPIs cannot reach: they stay idle.
    pub fn beyond_xapic(&self) -> usize {
        self.beyond_xapic
    }

    /// How many enabled processors with xAPIC IDs the table lists: more than
    /// [`Self::apic_ids`] holds when it lists more than [`MAX_CORES`].
    pub fn listed(&self) -> usize {
        self.listed
    }

    /// True when the table lists no enabled processor at all.
    pub fn is_empty(&self) -> bool {
        self.count == 0 && self.beyond_xapic == 0
    }
}

/// Why an MP table was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The table is cut short.
    Truncated,
    /// The signature is not `PCMP`.
    BadSignature,
    /// The bytes do not add up to zero.
    BadChecksum,
    /// An entry has a type the specification does not define.
    BadEntry(u8),
}

/// Where a configuration table may lie: above page 0, which the boot page tables leave
/// unmapped, and wholly below 4 GiB, where they end, whatever its 16-bit length says.
const TABLE_ADDRESSES: core::ops::RangeInclusive<u32> = 0x1000..=u32::MAX - 0xffff;

/// Finds the MP floating pointer in `area` (a region of physical memory the specification
/// says to search) and returns the physical address of the configuration table it names,
/// if the table lies in [`TABLE_ADDRESSES`].
pub fn find_table(area: &[u8]) -> Option<u32> {
    area.chunks_exact(16)
        .find(|p| p.starts_with(b"_MP_") && checksum_ok(p))
        .map(|p| u32::from_le_bytes([p[4], p[5], p[6], p[7]]))
        .filter(|address| TABLE_ADDRESSES.contains(address))
}

/// The length of the configuration table whose first bytes (at least 6) are `header`, so
/// that the board knows how much memory to hand [`parse`].
pub fn table_len(header: &[u8]) -> Option<usize> {
    let bytes = header.get(4..6)?;
    Some(usize::from(u16::from_le_bytes([bytes[0], bytes[1]])))
}

/// The size of the configuration table's header.
const HEADER: usize = 44;

/// The configuration table `table` (exactly [`table_len`] bytes), checked.
// Inlined, as `walk` and `configuration_table`: in the boot path, calls cost more than
// they share (`cargo probe size`).
#[inline(always)]
fn checked(table: &[u8]) -> Result<&[u8], Error> {
    if table.len() < HEADER {
        return Err(Error::Truncated);
    }
    if !table.starts_with(b"PCMP") {
        return Err(Error::BadSignature);
    }
    let len = table_len(table).ok_or(Error::Truncated)?;
    // A length that cuts into the header is as truncated as a short buffer.
    let table = table
        .get(..len)
        .filter(|table| table.len() >= HEADER)
        .ok_or(Error::Truncated)?;
    if !checksum_ok(table) {
        return Err(Error::BadChecksum);
    }
    Ok(table)
}

/// Calls `visit` with each entry of the checked table `table` (its type, its bytes).
#[inline(always)]
fn walk(table: &[u8], mut visit: impl FnMut(u8, &[u8])) -> Result<(), Error> {
    let mut rest = &table[HEADER..];
    // The entries run to the table's length. The header's entry count is not trusted: qboot
    // leaves it at zero.
    while let Some(&kind) = rest.first() {
        let size = match kind {
            0 => 20,
            1..=4 => 8,
            other => return Err(Error::BadEntry(other)),
        };
        visit(kind, rest.get(..size).ok_or(Error::Truncated)?);
        rest = &rest[size..];
    }
    Ok(())
}

/// Reads the processor entries of the configuration table `table` (exactly
/// [`table_len`] bytes).
pub fn parse(table: &[u8]) -> Result<Processors, Error> {
    let table = checked(table)?;
    let local_apic = u32::from_le_bytes([table[36], table[37], table[38], table[39]]);
    let mut found = Processors::new(local_apic);
    walk(table, |kind, entry| {
        if let (0, Some(&apic_id), Some(&flags)) = (kind, entry.get(1), entry.get(3))
            && flags & 1 != 0
        {
            found.push(u32::from(apic_id), flags & 2 != 0);
        }
    })?;
    Ok(found)
}

/// The most buses [`parse_routing`] tells apart.
const MAX_BUSES: usize = 16;
/// How many pins an I/O APIC is taken to have: MP tables give no GSI base, so the I/O
/// APICs are numbered on as QEMU's, of 24 pins each.
const PINS_PER_IOAPIC: u32 = 24;

/// Reads the interrupt routing of the configuration table `table` (exactly [`table_len`]
/// bytes): its enabled I/O APICs (entry 2), and its I/O interrupt entries (entry 3) of ISA
/// buses (entry 1) as overrides. Entries past the [`Routing`]'s room are left out.
pub fn parse_routing(table: &[u8]) -> Result<Routing, Error> {
    let table = checked(table)?;
    let mut isa = [false; MAX_BUSES];
    let mut ioapic_ids = [None; MAX_IOAPICS];
    let mut count = 0;
    walk(table, |kind, entry| match kind {
        1 => {
            if let Some(bus) = isa.get_mut(usize::from(entry[1])) {
                *bus = entry[2..8] == *b"ISA   ";
            }
        }
        2 if entry[3] & 1 != 0 && count < MAX_IOAPICS => {
            ioapic_ids[count] = Some((
                entry[1],
                u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]),
            ));
            count += 1;
        }
        _ => {}
    })?;
    let mut routing = Routing::new();
    for (index, (id, address)) in (0u32..).zip(ioapic_ids.iter().flatten().copied()) {
        routing.push_ioapic(IoApicInfo {
            id,
            address,
            gsi_base: index * PINS_PER_IOAPIC,
        });
    }
    walk(table, |kind, entry| {
        let is_isa = isa.get(usize::from(entry[4])).copied().unwrap_or(false);
        // Type 0 is a vectored interrupt; the others (NMI, SMI, ExtINT) are not devices'.
        if kind != 3 || entry[1] != 0 || !is_isa {
            return;
        }
        let chip = routing.ioapics().find(|chip| chip.id == entry[6]);
        if let Some(chip) = chip {
            let flags = u16::from_le_bytes([entry[2], entry[3]]);
            let gsi = chip.gsi_base + u32::from(entry[7]);
            routing.push_override(Override::from_flags(entry[5], gsi, flags));
        }
    })?;
    Ok(routing)
}

/// Searches the places the specification names (the last KiB of base memory and the BIOS
/// ROM) for the MP table and parses it. `None` when there is no valid table.
///
/// # Safety
/// Physical memory from 4 KiB to 4 GiB must be identity-mapped and readable.
pub unsafe fn scan() -> Option<Processors> {
    // SAFETY: the caller's promise.
    parse(unsafe { configuration_table()? }).ok()
}

/// Finds the MP table as [`scan`] does and reads its interrupt routing.
///
/// # Safety
/// As for [`scan`].
pub unsafe fn scan_routing() -> Option<Routing> {
    // SAFETY: the caller's promise.
    parse_routing(unsafe { configuration_table()? }).ok()
}

/// The first configuration table a floating pointer names, unchecked.
///
/// # Safety
/// As for [`scan`].
#[inline(always)]
unsafe fn configuration_table() -> Option<&'static [u8]> {
    const AREAS: [(usize, usize); 2] = [(0x9_fc00, 0x400), (0xf_0000, 0x1_0000)];
    for (start, len) in AREAS {
        // SAFETY: the caller vouches that this low memory is mapped; reading it has no effect.
        let area = unsafe { core::slice::from_raw_parts(start as *const u8, len) };
        let Some(address) = find_table(area).map(|a| a as usize) else {
            continue;
        };
        // SAFETY: `find_table` names only tables that lie between 4 KiB and 4 GiB, which is
        // mapped, whatever their length; a damaged length only makes the parser refuse them.
        let header = unsafe { core::slice::from_raw_parts(address as *const u8, 6) };
        let len = table_len(header)?;
        // SAFETY: as above.
        return Some(unsafe { core::slice::from_raw_parts(address as *const u8, len) });
    }
    None
}

pub(crate) fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b)) == 0
}

/// Sets byte `at` so that `bytes` passes [`checksum_ok`]: for building firmware tables in
/// tests.
#[cfg(test)]
pub(crate) fn seal(bytes: &mut [u8], at: usize) {
    bytes[at] = 0;
    let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    bytes[at] = sum.wrapping_neg();
}

/// Hostile input for the firmware parsers' tests: a deterministic generator, a mutator of
/// valid tables, and a watchdog that turns a walk that never ends into a failure.
#[cfg(test)]
pub(crate) mod fuzz {
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::time::Duration;

    /// A xorshift64 generator: the same cases on every run.
    #[derive(Debug)]
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Self(seed | 1)
        }

        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// A number below `n` (at least 1).
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// A value of the kinds that break length and offset fields: small, near `len`,
        /// all ones in some width, or anything.
        pub(crate) fn length_like(&mut self, len: usize) -> u64 {
            match self.below(4) {
                0 => self.below(64) as u64,
                1 => (len + self.below(32)).saturating_sub(16) as u64,
                2 => u64::MAX >> self.below(64),
                _ => self.next(),
            }
        }
    }

    /// `valid` damaged one to four times: a bit flipped, a byte replaced, a length-like
    /// value written over 1, 2 or 4 bytes (at one of `fields`, or anywhere), cut short, or
    /// lengthened with random bytes.
    pub(crate) fn mutate(rng: &mut Rng, valid: &[u8], fields: &[usize]) -> Vec<u8> {
        let mut bytes = valid.to_vec();
        for _ in 0..=rng.below(4) {
            let len = bytes.len();
            match rng.below(5) {
                0 if len > 0 => bytes[rng.below(len)] ^= 1 << rng.below(8),
                1 if len > 0 => bytes[rng.below(len)] = rng.next() as u8,
                2 if len > 0 => {
                    let at = match fields {
                        [] => rng.below(len),
                        _ if rng.below(2) == 0 => rng.below(len),
                        _ => fields[rng.below(fields.len())],
                    };
                    let value = rng.length_like(len).to_le_bytes();
                    let end = (at + [1, 2, 4][rng.below(3)]).min(len);
                    if at < end {
                        bytes[at..end].copy_from_slice(&value[..end - at]);
                    }
                }
                3 => bytes.truncate(rng.below(len + 1)),
                _ => {
                    let extra = rng.below(32);
                    bytes.extend((0..extra).map(|_| rng.next() as u8));
                }
            }
        }
        bytes
    }

    /// Runs `cases` on a thread of its own, so that a parser whose walk never ends fails
    /// the test (after a minute, far beyond any case's run time) instead of hanging it.
    pub(crate) fn within_a_minute(cases: impl FnOnce() + Send + 'static) {
        let (done, finished) = mpsc::channel();
        let worker = std::thread::spawn(move || {
            cases();
            let _ = done.send(());
        });
        if finished.recv_timeout(Duration::from_secs(60)) == Err(RecvTimeoutError::Timeout) {
            panic!("a parser is still running after a minute: a walk that does not end");
        }
        if let Err(panic) = worker.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fuzz::{self, Rng};
    use super::{Error, MAX_CORES, find_table, parse, parse_routing, seal, table_len};
    use crate::platform::irq::lines::{IoApicInfo, Override};

    /// A table of the 8-byte entries `entries` (buses, I/O APICs, interrupts).
    fn routing_table(entries: &[[u8; 8]]) -> Vec<u8> {
        let mut t = vec![0u8; 44];
        t[..4].copy_from_slice(b"PCMP");
        for entry in entries {
            t.extend_from_slice(entry);
        }
        let len = t.len() as u16;
        t[4..6].copy_from_slice(&len.to_le_bytes());
        seal(&mut t, 7);
        t
    }

    #[test]
    fn reads_ioapics_and_isa_interrupts() {
        let t = routing_table(&[
            [1, 0, b'P', b'C', b'I', b' ', b' ', b' '],
            [1, 1, b'I', b'S', b'A', b' ', b' ', b' '],
            [2, 0, 0x11, 1, 0, 0, 0xc0, 0xfe],
            [2, 7, 0x11, 0, 0, 0x10, 0xc0, 0xfe], // disabled: left out
            [2, 9, 0x11, 1, 0, 0x20, 0xc0, 0xfe],
            [3, 0, 0, 0, 1, 0, 0, 2],        // ISA IRQ 0 → pin 2
            [3, 0, 0x0f, 0, 1, 9, 9, 3],     // ISA IRQ 9 → second chip's pin 3, level low
            [3, 3, 0, 0, 1, 4, 0, 4],        // ExtINT: not a device's
            [3, 0, 0x0f, 0, 0, 0x10, 0, 16], // a PCI bus entry: not an ISA IRQ
            [3, 0, 0, 0, 1, 5, 42, 5],       // an unknown I/O APIC
        ]);
        let routing = parse_routing(&t).unwrap();
        assert_eq!(
            routing.ioapics().collect::<Vec<_>>(),
            [
                IoApicInfo {
                    id: 0,
                    address: 0xfec0_0000,
                    gsi_base: 0,
                },
                IoApicInfo {
                    id: 9,
                    address: 0xfec0_2000,
                    gsi_base: 24,
                },
            ]
        );
        assert_eq!(
            routing.overrides().collect::<Vec<_>>(),
            [
                Override::from_flags(0, 2, 0),
                Override::from_flags(9, 27, 0xf)
            ]
        );
        assert_eq!(parse_routing(&t[..50]), Err(Error::Truncated));
        let mut bad = t.clone();
        bad[44] = 7;
        assert_eq!(parse_routing(&bad), Err(Error::BadChecksum));
    }

    /// A table with processors given as (APIC ID, flags) and one bus entry.
    fn table(processors: &[(u8, u8)]) -> Vec<u8> {
        let mut t = vec![0u8; 44];
        t[..4].copy_from_slice(b"PCMP");
        // The entry count stays 0, as qboot leaves it: the length is what counts.
        t[36..40].copy_from_slice(&0xfee0_0000u32.to_le_bytes());
        for &(id, flags) in processors {
            let mut entry = [0u8; 20];
            entry[1] = id;
            entry[3] = flags;
            t.extend_from_slice(&entry);
        }
        t.extend_from_slice(&[1, 0, b'I', b'S', b'A', 0, 0, 0]);
        let len = t.len() as u16;
        t[4..6].copy_from_slice(&len.to_le_bytes());
        seal(&mut t, 7);
        t
    }

    #[test]
    fn finds_the_floating_pointer() {
        let mut area = vec![0u8; 64];
        area[32..36].copy_from_slice(b"_MP_");
        area[36..40].copy_from_slice(&0x000f_1234u32.to_le_bytes());
        seal(&mut area[32..48], 10);
        assert_eq!(find_table(&area), Some(0x000f_1234));
        area[40] ^= 1;
        assert_eq!(find_table(&area), None, "a bad checksum is not a pointer");
    }

    #[test]
    fn lists_enabled_processors_boot_processor_first() {
        let t = table(&[(0, 1), (1, 3), (2, 0), (3, 1)]);
        assert_eq!(table_len(&t), Some(t.len()));
        let found = parse(&t).unwrap();
        assert_eq!(found.apic_ids(), &[1, 0, 3]);
        assert_eq!(found.local_apic, 0xfee0_0000);
    }

    #[test]
    fn counts_the_processors_past_the_ones_it_keeps() {
        let many: Vec<(u8, u8)> = (0..80)
            .map(|id| (id, if id == 0 { 3 } else { 1 }))
            .collect();
        let found = parse(&table(&many)).unwrap();
        assert_eq!(found.apic_ids().len(), super::MAX_CORES);
        assert_eq!(found.listed(), 80);
        assert_eq!(found.apic_ids()[0], 0);
        let few = parse(&table(&[(0, 3), (1, 0), (2, 1)])).unwrap();
        assert_eq!((few.apic_ids().len(), few.listed()), (2, 2));
    }

    #[test]
    fn refuses_damaged_tables() {
        let t = table(&[(0, 3)]);
        assert_eq!(parse(&t[..30]), Err(Error::Truncated));
        assert_eq!(parse(&t[..50]), Err(Error::Truncated));
        let mut cut = t.clone();
        cut[4] -= 4; // the length ends inside the last entry
        let len = cut.len() - 4;
        seal(&mut cut[..len], 7);
        assert_eq!(parse(&cut), Err(Error::Truncated));
        for short in [0u16, 8, 39, 43] {
            let mut lying = t.clone();
            lying[4..6].copy_from_slice(&short.to_le_bytes());
            if short > 7 {
                seal(&mut lying[..usize::from(short)], 7);
            }
            assert_eq!(parse(&lying), Err(Error::Truncated), "length {short}");
        }
        let mut bad = t.clone();
        bad[0] = b'X';
        assert_eq!(parse(&bad), Err(Error::BadSignature));
        let mut bad = t.clone();
        bad[50] ^= 0x10;
        assert_eq!(parse(&bad), Err(Error::BadChecksum));
        let mut bad = t.clone();
        bad[44] = 9;
        seal(&mut bad, 7);
        assert_eq!(parse(&bad), Err(Error::BadEntry(9)));
    }

    /// A floating pointer in a 64-byte area naming the table at `address`.
    fn pointer_area(address: u32) -> Vec<u8> {
        let mut area = vec![0u8; 64];
        area[32..36].copy_from_slice(b"_MP_");
        area[36..40].copy_from_slice(&address.to_le_bytes());
        area[40] = 1;
        seal(&mut area[32..48], 10);
        area
    }

    #[test]
    fn a_table_that_would_reach_past_4_gib_is_not_found() {
        assert_eq!(find_table(&pointer_area(0xffff_0000)), Some(0xffff_0000));
        // 6 header bytes, or a length up to 64 KiB, would be read past the boot mapping.
        for address in [0xffff_0001, 0xffff_fffc, u32::MAX, 0xfff, 0] {
            assert_eq!(find_table(&pointer_area(address)), None, "{address:#x}");
        }
    }

    /// Mutated tables and pointers: every one parsed or refused, none a panic or an
    /// endless walk, and what is accepted is consistent.
    #[test]
    fn hostile_tables_are_refused_or_read_never_fatal() {
        fuzz::within_a_minute(|| {
            let mut rng = Rng::new(0x6d70_7461_626c_6521);
            let many: Vec<(u8, u8)> = (0..70).map(|id| (id, 1)).collect();
            let valid = [table(&[(0, 3), (1, 1), (2, 0)]), table(&[]), table(&many)];
            let (mut accepted, mut found) = (0, 0);
            for _ in 0..100_000 {
                let pick = &valid[rng.below(valid.len())];
                let mut t = fuzz::mutate(&mut rng, pick, &[4, 5, 44, 64, 72]);
                // Most cases get a sound checksum over what the parser sums, so that they
                // reach the entries.
                let summed = table_len(&t).map_or(0, |len| len.min(t.len()));
                if rng.below(4) != 0 && summed > 7 {
                    seal(&mut t[..summed], 7);
                }
                if let Ok(processors) = parse(&t) {
                    accepted += 1;
                    let len = table_len(&t).unwrap();
                    assert!((44..=t.len()).contains(&len), "{t:02x?}");
                    assert!(processors.apic_ids().len() <= MAX_CORES);
                    assert!(processors.listed() <= (len - 44) / 20, "{t:02x?}");
                }
                let mut area = fuzz::mutate(&mut rng, &pointer_area(0x000f_1234), &[36, 38]);
                if area.len() >= 48 && rng.below(4) != 0 {
                    seal(&mut area[32..48], 10);
                }
                if let Some(address) = find_table(&area) {
                    found += 1;
                    assert!(u64::from(address) + 0xffff <= 1 << 32, "{area:02x?}");
                }
            }
            // The mutations are mild enough to reach the entries and the addresses.
            assert!(accepted > 1_000 && found > 1_000, "{accepted} {found}");
        });
    }
}
