//! The PVH boot protocol: what the loader tells the kernel in `hvm_start_info`.

use drivers::x86_64::entry::MAPPED_LIMIT;
use hal::memory::Region;

/// The magic number at the start of `hvm_start_info`.
pub(crate) const MAGIC: u32 = 0x336e_c578;

/// The fixed part of `hvm_start_info` (version 1), in bytes.
pub(crate) const START_INFO_LEN: usize = 56;

/// The size of one memory map entry, in bytes.
pub(crate) const MEMMAP_ENTRY_LEN: usize = 24;

/// Where the loader put the command line and the memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StartInfo {
    pub(crate) cmdline: u64,
    /// The ACPI RSDP, or 0 when the machine has no ACPI.
    pub(crate) rsdp: u64,
    pub(crate) memmap: u64,
    pub(crate) memmap_entries: u32,
}

/// Why the start info was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// Not PVH start info: the magic number is wrong.
    BadMagic(u32),
    /// Version 0 start info has no memory map.
    NoMemoryMap,
    /// The memory map (address, entries) reaches past the memory the boot page tables map.
    MemoryMapOutOfReach(u64, u32),
    /// The command line starts past the memory the boot page tables map.
    CommandLineOutOfReach(u64),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            // Widened: u64 formatting is linked anyway, u32's would be only for this.
            Self::BadMagic(magic) => write!(
                f,
                "magic {:#010x}, not {:#010x}: not started by a PVH loader",
                u64::from(*magic),
                u64::from(MAGIC)
            ),
            Self::NoMemoryMap => f.write_str("no memory map (start info version 0)"),
            Self::MemoryMapOutOfReach(address, entries) => write!(
                f,
                "the memory map ({} entries at {address:#x}) reaches past 4 GiB, the memory \
                 mapped at boot",
                u64::from(*entries)
            ),
            Self::CommandLineOutOfReach(address) => write!(
                f,
                "the command line at {address:#x} lies past 4 GiB, the memory mapped at boot"
            ),
        }
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from(u32_at(bytes, at)) | u64::from(u32_at(bytes, at + 4)) << 32
}

/// Reads the fixed part of `hvm_start_info`.
pub(crate) fn parse(info: &[u8; START_INFO_LEN]) -> Result<StartInfo, Error> {
    let magic = u32_at(info, 0);
    if magic != MAGIC {
        return Err(Error::BadMagic(magic));
    }
    let (version, memmap, memmap_entries) = (u32_at(info, 4), u64_at(info, 40), u32_at(info, 48));
    if version < 1 || memmap == 0 || memmap_entries == 0 {
        return Err(Error::NoMemoryMap);
    }
    // In u64, `entries * 24` cannot overflow; the sum can, for an address near the top.
    let memmap_end = memmap.checked_add(u64::from(memmap_entries) * MEMMAP_ENTRY_LEN as u64);
    if memmap_end.is_none_or(|end| end > MAPPED_LIMIT) {
        return Err(Error::MemoryMapOutOfReach(memmap, memmap_entries));
    }
    let cmdline = u64_at(info, 24);
    if cmdline >= MAPPED_LIMIT {
        return Err(Error::CommandLineOutOfReach(cmdline));
    }
    Ok(StartInfo {
        cmdline,
        rsdp: u64_at(info, 32),
        memmap,
        memmap_entries,
    })
}

/// Reads one memory map entry; type 1 is usable RAM.
pub(crate) fn region(entry: &[u8; MEMMAP_ENTRY_LEN]) -> Region {
    Region {
        start: u64_at(entry, 0),
        len: u64_at(entry, 8),
        usable: u32_at(entry, 16) == 1,
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, MAGIC, MEMMAP_ENTRY_LEN, START_INFO_LEN, StartInfo, parse, region};

    fn info(magic: u32, version: u32, memmap: u64, entries: u32) -> [u8; START_INFO_LEN] {
        let mut b = [0u8; START_INFO_LEN];
        b[0..4].copy_from_slice(&magic.to_le_bytes());
        b[4..8].copy_from_slice(&version.to_le_bytes());
        b[24..32].copy_from_slice(&0x2_0000u64.to_le_bytes());
        b[32..40].copy_from_slice(&0xe_0000u64.to_le_bytes());
        b[40..48].copy_from_slice(&memmap.to_le_bytes());
        b[48..52].copy_from_slice(&entries.to_le_bytes());
        b
    }

    #[test]
    fn reads_command_line_and_memory_map_addresses() {
        assert_eq!(
            parse(&info(MAGIC, 1, 0x7000, 3)),
            Ok(StartInfo {
                cmdline: 0x2_0000,
                rsdp: 0xe_0000,
                memmap: 0x7000,
                memmap_entries: 3
            })
        );
    }

    #[test]
    fn refuses_what_is_not_usable_start_info() {
        assert_eq!(
            parse(&info(0x2bad_b002, 1, 0x7000, 3)),
            Err(Error::BadMagic(0x2bad_b002))
        );
        assert_eq!(parse(&info(MAGIC, 0, 0x7000, 3)), Err(Error::NoMemoryMap));
        assert_eq!(parse(&info(MAGIC, 1, 0x7000, 0)), Err(Error::NoMemoryMap));
    }

    #[test]
    fn memory_map_entries_say_what_is_ram() {
        let mut e = [0u8; 24];
        e[0..8].copy_from_slice(&0x10_0000u64.to_le_bytes());
        e[8..16].copy_from_slice(&0x7f0_0000u64.to_le_bytes());
        e[16] = 1;
        let r = region(&e);
        assert_eq!((r.start, r.len, r.usable), (0x10_0000, 0x7f0_0000, true));
        e[16] = 2;
        assert!(!region(&e).usable);
    }

    #[test]
    fn refuses_a_memory_map_or_command_line_past_the_boot_mapping() {
        let last = (1u64 << 32) - 3 * MEMMAP_ENTRY_LEN as u64;
        assert!(parse(&info(MAGIC, 1, last, 3)).is_ok());
        for (memmap, entries) in [
            (last, 4),
            (1 << 32, 1),
            (0x7000, u32::MAX),
            (u64::MAX - 10, 3), // the end would wrap around
        ] {
            assert_eq!(
                parse(&info(MAGIC, 1, memmap, entries)),
                Err(Error::MemoryMapOutOfReach(memmap, entries))
            );
        }
        let mut far = info(MAGIC, 1, 0x7000, 3);
        far[24..32].copy_from_slice(&(1u64 << 32).to_le_bytes());
        assert_eq!(parse(&far), Err(Error::CommandLineOutOfReach(1 << 32)));
    }

    /// Mutated start info and memory map entries: every one read or refused, never a
    /// panic, and what is read is within reach.
    #[test]
    fn hostile_start_info_is_refused_or_read_never_fatal() {
        let mut seed = 0x7076_685f_7374_6172u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let valid = info(MAGIC, 1, 0x7000, 3);
        let mut read = 0;
        for _ in 0..100_000 {
            let mut bytes = valid;
            for _ in 0..=next() % 3 {
                let at = (next() % START_INFO_LEN as u64) as usize;
                let field = [4, 24, 28, 40, 44, 48, at][(next() % 7) as usize];
                let width = [1, 4, 8][(next() % 3) as usize].min(START_INFO_LEN - field);
                let value = next() >> (next() % 64);
                bytes[field..field + width].copy_from_slice(&value.to_le_bytes()[..width]);
            }
            if let Ok(start) = parse(&bytes) {
                read += 1;
                let span = u64::from(start.memmap_entries) * MEMMAP_ENTRY_LEN as u64;
                assert!(
                    u128::from(start.memmap) + u128::from(span) <= 1 << 32,
                    "{start:?}"
                );
                assert!(start.cmdline < 1 << 32, "{start:?}");
            }
            let mut entry = [0u8; MEMMAP_ENTRY_LEN];
            entry[..8].copy_from_slice(&next().to_le_bytes());
            entry[16..24].copy_from_slice(&(next() >> (next() % 64)).to_le_bytes());
            let kind = u32::from_le_bytes([entry[16], entry[17], entry[18], entry[19]]);
            assert_eq!(region(&entry).usable, kind == 1);
        }
        assert!(read > 1_000, "{read}");
    }
}
