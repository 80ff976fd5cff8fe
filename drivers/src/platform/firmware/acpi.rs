//! Just enough ACPI to count the processors and route device interrupts: the RSDP, the
//! RSDT or XSDT, and the MADT.
//!
//! SeaBIOS builds the ACPI tables from what QEMU reports, so on `-M pc` the MADT lists
//! every CPU, where SeaBIOS's MP table may list only the boot processor. As with the MP
//! table, the parsers read byte slices and the board decides which memory to show them.

use crate::platform::firmware::mptable::{Processors, checksum_ok};
use crate::platform::irq::lines::{IoApicInfo, Override, Routing};

/// The size of a system description table's header.
const HEADER: usize = 36;
/// The largest table the scanner reads.
const MAX_TABLE: usize = 64 * 1024;

/// Where the ACPI tables are, as far as the loader said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acpi {
    /// The loader says there are none (PVH with a zero RSDP address).
    Absent,
    /// The loader gave the RSDP's address.
    At(u64),
    /// The loader does not say: search the BIOS area.
    Search,
}

/// Finds the RSDP in `area` (the BIOS area 0xe0000..0x100000) and returns the physical
/// address of the root table and whether it is an XSDT (64-bit entries).
pub fn find_root(area: &[u8]) -> Option<(u64, bool)> {
    let rsdp = area.chunks(16).enumerate().find_map(|(i, chunk)| {
        let rsdp = area.get(i * 16..i * 16 + 20)?;
        (chunk.starts_with(b"RSD PTR ") && checksum_ok(rsdp)).then_some(&area[i * 16..])
    })?;
    let xsdt = rsdp
        .get(15)
        .is_some_and(|&revision| revision >= 2)
        .then(|| le64(rsdp, 24))
        .flatten();
    match xsdt {
        Some(address) if address != 0 => Some((address, true)),
        _ => Some((u64::from(le32(rsdp, 16)?), false)).filter(|&(address, _)| address != 0),
    }
}

/// The length of the table whose header starts with `header` (at least 8 bytes).
pub fn table_len(header: &[u8]) -> Option<usize> {
    usize::try_from(le32(header, 4)?).ok()
}

/// The addresses of the tables a root table (RSDT or XSDT, exactly [`table_len`] bytes)
/// lists, or nothing when it is damaged.
pub fn root_entries(root: &[u8], xsdt: bool) -> impl Iterator<Item = u64> + '_ {
    let valid = root.len() >= HEADER && checksum_ok(root);
    let body = if valid { &root[HEADER..] } else { &[] };
    let width = if xsdt { 8 } else { 4 };
    body.chunks_exact(width).map(move |e| {
        if xsdt {
            le64(e, 0).unwrap_or(0)
        } else {
            le32(e, 0).map_or(0, u64::from)
        }
    })
}

/// Whether the table starting with `header` is the MADT.
pub fn is_madt(header: &[u8]) -> bool {
    header.starts_with(b"APIC")
}

/// Reads the enabled processors from the MADT `madt` (exactly [`table_len`] bytes): local
/// APIC entries (type 0) and local x2APIC entries (type 9), which hypervisors with many
/// cores may use for all of them. `None` for a damaged table, and for one that lists no
/// enabled processor, so that the caller falls back to the MP table.
pub fn parse_madt(madt: &[u8]) -> Option<Processors> {
    if madt.len() < HEADER + 8 || !is_madt(madt) || !checksum_ok(madt) {
        return None;
    }
    let mut found = Processors::new(le32(madt, HEADER)?);
    let mut rest = &madt[HEADER + 8..];
    let mut first = true;
    while let [kind, len, ..] = *rest {
        let entry = rest.get(..usize::from(len)).filter(|_| len >= 2)?;
        // The ID and flags (bit 0: enabled) of a processor's entry. The first processor
        // is the boot processor, as ACPI requires.
        let processor = match kind {
            0 if entry.len() >= 8 => Some((u32::from(entry[3]), le32(entry, 4)?)),
            9 if entry.len() >= 16 => Some((le32(entry, 4)?, le32(entry, 8)?)),
            _ => None,
        };
        if let Some((apic_id, flags)) = processor
            && flags & 1 != 0
        {
            found.push(apic_id, first);
            first = false;
        }
        rest = &rest[usize::from(len)..];
    }
    (!found.is_empty()).then_some(found)
}

/// Searches the BIOS area for the RSDP, then reads the MADT as [`scan_from`] does.
///
/// # Safety
/// Physical memory from 4 KiB to 4 GiB must be identity-mapped and readable.
pub unsafe fn scan() -> Option<Processors> {
    // SAFETY: the caller vouches for the memory.
    parse_madt(unsafe { find_table(None, b"APIC")? })
}

/// Finds the MADT through the RSDP at `rsdp` and reads it. `None` without ACPI or with
/// damaged tables.
///
/// # Safety
/// As for [`scan`].
pub unsafe fn scan_from(rsdp: u64) -> Option<Processors> {
    // SAFETY: the caller vouches for the memory.
    parse_madt(unsafe { find_table(Some(rsdp), b"APIC")? })
}

/// The first table with `signature` that the root table lists, found through the RSDP at
/// `rsdp` or, for `None`, through one found in the BIOS area. `None` without ACPI or with a
/// damaged root table.
///
/// # Safety
/// As for [`scan`].
pub unsafe fn find_table(rsdp: Option<u64>, signature: &[u8; 4]) -> Option<&'static [u8]> {
    let area = match rsdp {
        // SAFETY: the caller vouches that low memory is mapped; reading it has no effect.
        None => unsafe { core::slice::from_raw_parts(0xe_0000 as *const u8, 0x2_0000) },
        Some(rsdp) => {
            let start = usize::try_from(rsdp)
                .ok()
                .filter(|a| (0x1000..(1 << 32) - 64).contains(a))?;
            // SAFETY: as above; the RSDP is at most 36 bytes.
            unsafe { core::slice::from_raw_parts(start as *const u8, 36) }
        }
    };
    let (root, xsdt) = find_root(area)?;
    // SAFETY: as above, for a table below 4 GiB (`table_at` refuses the rest).
    let root = unsafe { table_at(root)? };
    root_entries(root, xsdt).find_map(|address| {
        // SAFETY: as above.
        let entry = unsafe { table_at(address)? };
        entry.starts_with(signature).then_some(entry)
    })
}

/// The table at `address`, if it lies in mapped memory and is not absurdly long; its
/// checksum is the parser's to check.
///
/// # Safety
/// As for [`scan`].
pub unsafe fn table_at(address: u64) -> Option<&'static [u8]> {
    let start = usize::try_from(address)
        .ok()
        .filter(|a| (0x1000..(1 << 32) - MAX_TABLE).contains(a))?;
    // SAFETY: the caller vouches for mapped memory below 4 GiB.
    let len = table_len(unsafe { core::slice::from_raw_parts(start as *const u8, 8) })?;
    if !(HEADER..=MAX_TABLE).contains(&len) {
        return None;
    }
    // SAFETY: as above.
    Some(unsafe { core::slice::from_raw_parts(start as *const u8, len) })
}

/// Reads the interrupt routing from the MADT `madt` (exactly [`table_len`] bytes): I/O APIC
/// entries (type 1) and interrupt source overrides (type 2). `None` for a damaged table;
/// entries past the [`Routing`]'s room are left out.
pub fn madt_routing(madt: &[u8]) -> Option<Routing> {
    if madt.len() < HEADER + 8 || !is_madt(madt) || !checksum_ok(madt) {
        return None;
    }
    let mut routing = Routing::new();
    let mut rest = &madt[HEADER + 8..];
    while let [kind, len, ..] = *rest {
        let entry = rest.get(..usize::from(len)).filter(|_| len >= 2)?;
        match kind {
            1 if entry.len() >= 12 => {
                routing.push_ioapic(IoApicInfo {
                    id: entry[2],
                    address: le32(entry, 4)?,
                    gsi_base: le32(entry, 8)?,
                });
            }
            // Bus 0 is ISA, the only bus ACPI overrides.
            2 if entry.len() >= 10 && entry[2] == 0 => {
                let flags = u16::from_le_bytes([entry[8], entry[9]]);
                routing.push_override(Override::from_flags(entry[3], le32(entry, 4)?, flags));
            }
            _ => {}
        }
        rest = &rest[usize::from(len)..];
    }
    Some(routing)
}

/// Finds the MADT through the RSDP at `rsdp` (or, for `None`, one in the BIOS area) and
/// reads its interrupt routing. `None` without ACPI or with damaged tables.
///
/// # Safety
/// As for [`scan`].
pub unsafe fn routing(rsdp: Option<u64>) -> Option<Routing> {
    // SAFETY: the caller vouches for the memory.
    madt_routing(unsafe { find_table(rsdp, b"APIC")? })
}

/// The little-endian field at `at`, or `None` past the end: the firmware tables' reads.
pub(crate) fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// As [`le32`], for 64-bit fields.
pub(crate) fn le64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::{find_root, madt_routing, parse_madt, root_entries, table_len};
    use crate::platform::firmware::mptable::fuzz::{self, Rng};
    use crate::platform::firmware::mptable::seal;
    use crate::platform::irq::lines::{IoApicInfo, Override};

    fn table(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; 36];
        t[..4].copy_from_slice(signature);
        t.extend_from_slice(body);
        let len = t.len() as u32;
        t[4..8].copy_from_slice(&len.to_le_bytes());
        seal(&mut t, 9);
        t
    }

    /// A MADT with local APIC entries (type 0) and local x2APIC entries (type 9), each
    /// given as (APIC ID, flags), then an I/O APIC.
    fn madt(cpus: &[(u8, u32)], x2apic_cpus: &[(u32, u32)]) -> Vec<u8> {
        let mut body = 0xfee0_0000u32.to_le_bytes().to_vec();
        body.extend(1u32.to_le_bytes());
        for &(id, flags) in cpus {
            body.extend([0, 8, id, id]);
            body.extend(flags.to_le_bytes());
        }
        for (uid, &(id, flags)) in (0u32..).zip(x2apic_cpus) {
            body.extend([9, 16, 0, 0]);
            body.extend(id.to_le_bytes());
            body.extend(flags.to_le_bytes());
            body.extend(uid.to_le_bytes());
        }
        body.extend([1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0]); // an I/O APIC
        table(b"APIC", &body)
    }

    #[test]
    fn reads_ioapics_and_isa_overrides() {
        let mut body = 0xfee0_0000u32.to_le_bytes().to_vec();
        body.extend(1u32.to_le_bytes());
        body.extend([0, 8, 0, 0, 1, 0, 0, 0]); // a processor: not routing
        body.extend([1, 12, 2, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0]);
        body.extend([1, 12, 3, 0, 0, 0x10, 0xc0, 0xfe, 24, 0, 0, 0]);
        body.extend([2, 10, 0, 0, 2, 0, 0, 0, 0, 0]); // IRQ 0 → GSI 2
        body.extend([2, 10, 0, 11, 11, 0, 0, 0, 0xd, 0]); // IRQ 11: level, high
        body.extend([2, 10, 1, 5, 5, 0, 0, 0, 0xf, 0]); // not ISA: left out
        let routing = madt_routing(&table(b"APIC", &body)).expect("a valid MADT");
        assert_eq!(
            routing.ioapics().collect::<Vec<_>>(),
            [
                IoApicInfo {
                    id: 2,
                    address: 0xfec0_0000,
                    gsi_base: 0,
                },
                IoApicInfo {
                    id: 3,
                    address: 0xfec0_1000,
                    gsi_base: 24,
                },
            ]
        );
        assert_eq!(
            routing.overrides().collect::<Vec<_>>(),
            [
                Override::from_flags(0, 2, 0),
                Override::from_flags(11, 11, 0xd),
            ]
        );
        assert_eq!(routing.overrides().nth(1).and_then(|o| o.level), Some(true));
    }

    #[test]
    fn damaged_routing_entries_are_refused() {
        let mut body = 0xfee0_0000u32.to_le_bytes().to_vec();
        body.extend(1u32.to_le_bytes());
        body.extend([1, 12, 2, 0, 0, 0, 0xc0, 0xfe]); // runs past the end
        assert_eq!(madt_routing(&table(b"APIC", &body)), None);
        let mut valid = madt(&[(0, 1)], &[]);
        assert!(madt_routing(&valid).is_some());
        valid[40] ^= 1; // checksum
        assert_eq!(madt_routing(&valid), None);
        let mut rng = Rng::new(7);
        let valid = madt(&[(0, 1)], &[]);
        for _ in 0..2000 {
            let bytes = fuzz::mutate(&mut rng, &valid, &[4, 45, 49]);
            let _ = madt_routing(&bytes);
        }
    }

    #[test]
    fn finds_the_root_table() {
        let mut area = vec![0u8; 64];
        area[16..24].copy_from_slice(b"RSD PTR ");
        area[32..36].copy_from_slice(&0x07fe_0000u32.to_le_bytes());
        seal(&mut area[16..36], 8);
        assert_eq!(find_root(&area), Some((0x07fe_0000, false)));
        area[30] ^= 1;
        assert_eq!(find_root(&area), None);
    }

    #[test]
    fn lists_root_entries_of_a_sound_table_only() {
        let mut body = 0x1000u32.to_le_bytes().to_vec();
        body.extend(0x2000u32.to_le_bytes());
        let rsdt = table(b"RSDT", &body);
        assert_eq!(table_len(&rsdt), Some(rsdt.len()));
        assert_eq!(
            root_entries(&rsdt, false).collect::<Vec<_>>(),
            [0x1000, 0x2000]
        );
        let mut damaged = rsdt.clone();
        damaged[40] ^= 1;
        assert_eq!(root_entries(&damaged, false).count(), 0);
    }

    #[test]
    fn counts_enabled_processors() {
        let found = parse_madt(&madt(&[(0, 1), (1, 1), (2, 0), (3, 1)], &[])).unwrap();
        assert_eq!(found.apic_ids(), &[0, 1, 3]);
        assert_eq!(found.beyond_xapic(), 0);
        assert_eq!(found.local_apic, 0xfee0_0000);
        let mut bad = madt(&[(0, 1)], &[]);
        bad[45] = 1; // an entry length that cannot hold an entry
        seal(&mut bad, 9);
        assert!(parse_madt(&bad).is_none());
        assert!(parse_madt(&table(b"FACP", &[0; 8])).is_none());
    }

    #[test]
    fn counts_processors_listed_only_as_x2apic_entries() {
        let found = parse_madt(&madt(&[], &[(0, 1), (1, 1), (2, 0), (3, 1)])).unwrap();
        assert_eq!(found.apic_ids(), &[0, 1, 3]);
        assert_eq!(found.beyond_xapic(), 0);
        // Both kinds in one table, an ID listed twice counted once.
        let found = parse_madt(&madt(&[(0, 1), (1, 1)], &[(1, 1), (5, 1)])).unwrap();
        assert_eq!(found.apic_ids(), &[0, 1, 5]);
    }

    #[test]
    fn x2apic_ids_beyond_the_xapic_range_are_counted_apart() {
        let found = parse_madt(&madt(&[], &[(0, 1), (254, 1), (255, 1), (300, 1)])).unwrap();
        assert_eq!(found.apic_ids(), &[0, 254]);
        assert_eq!(found.beyond_xapic(), 2);
        let found = parse_madt(&madt(&[], &[(0x1_0000, 1)])).unwrap();
        assert!(found.apic_ids().is_empty());
        assert_eq!(found.beyond_xapic(), 1);
    }

    #[test]
    fn a_madt_without_enabled_processors_is_not_found() {
        assert!(parse_madt(&madt(&[], &[])).is_none());
        assert!(parse_madt(&madt(&[(0, 0)], &[(1, 0)])).is_none());
    }

    #[test]
    fn the_boot_processor_is_the_first_listed() {
        let found = parse_madt(&madt(&[(4, 0)], &[(7, 1), (2, 1)])).unwrap();
        assert_eq!(found.apic_ids(), &[7, 2]);
    }

    /// Mutated RSDPs, root tables and MADTs: every one read or refused, none a panic or an
    /// endless walk, and what is read is consistent.
    #[test]
    fn hostile_tables_are_refused_or_read_never_fatal() {
        fuzz::within_a_minute(|| {
            let mut rng = Rng::new(0x6163_7069_2d6d_6164);
            let mut rsdp = vec![0u8; 48];
            rsdp[..8].copy_from_slice(b"RSD PTR ");
            rsdp[15] = 2;
            rsdp[16..20].copy_from_slice(&0x07fe_0000u32.to_le_bytes());
            rsdp[24..32].copy_from_slice(&0x07fe_1000u64.to_le_bytes());
            seal(&mut rsdp[..20], 8);
            let rsdt = table(b"RSDT", &[0, 0x10, 0, 0, 0, 0x20, 0, 0]);
            let madts = [
                madt(&[(0, 1), (1, 1), (2, 0)], &[(3, 1), (300, 1)]),
                madt(&[(0, 1)], &[]),
            ];
            let (mut roots, mut entries, mut madts_read) = (0, 0, 0);
            for _ in 0..100_000 {
                let mut area = fuzz::mutate(&mut rng, &rsdp, &[15, 16, 24, 28]);
                if area.len() >= 20 && rng.below(4) != 0 {
                    seal(&mut area[..20], 8);
                }
                if let Some((address, _)) = find_root(&area) {
                    roots += 1;
                    assert_ne!(address, 0, "{area:02x?}");
                }
                let mut root = fuzz::mutate(&mut rng, &rsdt, &[4, 36]);
                let xsdt = rng.below(2) == 0;
                if root.len() > 9 && rng.below(4) != 0 {
                    seal(&mut root, 9);
                }
                let listed = root_entries(&root, xsdt).take(root.len() + 1).count();
                assert!(listed <= root.len().saturating_sub(36) / 4, "{root:02x?}");
                entries += listed;
                let pick = &madts[rng.below(madts.len())];
                let mut t = fuzz::mutate(&mut rng, pick, &[4, 44, 45, 53, 61]);
                if t.len() > 9 && rng.below(4) != 0 {
                    seal(&mut t, 9);
                }
                if let Some(found) = parse_madt(&t) {
                    madts_read += 1;
                    assert!(!found.is_empty());
                    let most = (t.len() - 44) / 8;
                    assert!(
                        found.apic_ids().len() + found.beyond_xapic() <= most,
                        "{t:02x?}"
                    );
                }
            }
            // The mutations are mild enough to reach the entries.
            assert!(
                roots > 1_000 && entries > 1_000 && madts_read > 1_000,
                "{roots} {entries} {madts_read}"
            );
        });
    }
}
