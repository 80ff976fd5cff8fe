//! The Multiboot (version 1) boot protocol: what the loader tells the kernel.

use hal::memory::Region;

/// The magic number a Multiboot loader leaves in `eax`.
pub(crate) const LOADER_MAGIC: u32 = 0x2bad_b002;

/// The part of the Multiboot information structure the board reads, in bytes.
pub(crate) const INFO_LEN: usize = 52;

const HAS_COMMAND_LINE: u32 = 1 << 2;
const HAS_MEMORY_MAP: u32 = 1 << 6;

/// Where the loader put the command line and the memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Info {
    pub(crate) cmdline: u64,
    pub(crate) mmap: u64,
    pub(crate) mmap_len: usize,
}

/// Why the boot information was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// Not started by a Multiboot loader: `eax` held this instead of the magic number.
    BadMagic(u32),
    /// The loader gave no memory map.
    NoMemoryMap,
    /// The memory map (address, length) ends past 4 GiB: damaged, since a Multiboot
    /// loader hands over a 32-bit address space.
    MemoryMapOutOfReach(u32, u32),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            // Widened: u64 formatting is linked anyway, u32's would be only for this.
            Self::BadMagic(magic) => write!(
                f,
                "eax holds {:#010x}, not {:#010x}: not started by a Multiboot loader",
                u64::from(*magic),
                u64::from(LOADER_MAGIC)
            ),
            Self::NoMemoryMap => f.write_str("the loader gave no memory map"),
            Self::MemoryMapOutOfReach(address, len) => write!(
                f,
                "the memory map ({} bytes at {:#x}) ends past 4 GiB",
                u64::from(*len),
                u64::from(*address)
            ),
        }
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Reads the information structure, given the loader's `eax`.
pub(crate) fn parse(magic: u32, info: &[u8; INFO_LEN]) -> Result<Info, Error> {
    if magic != LOADER_MAGIC {
        return Err(Error::BadMagic(magic));
    }
    let field = |at| u32_at(info, at).unwrap_or(0);
    let flags = field(0);
    if flags & HAS_MEMORY_MAP == 0 {
        return Err(Error::NoMemoryMap);
    }
    let cmdline = if flags & HAS_COMMAND_LINE != 0 {
        field(16)
    } else {
        0
    };
    let (mmap, mmap_len) = (field(48), field(44));
    // In u64: the u32 sum can wrap around to a small address.
    if u64::from(mmap) + u64::from(mmap_len) > 1 << 32 {
        return Err(Error::MemoryMapOutOfReach(mmap, mmap_len));
    }
    Ok(Info {
        cmdline: cmdline.into(),
        mmap: mmap.into(),
        mmap_len: mmap_len as usize,
    })
}

/// The kernel command line proper: Multiboot loaders (GRUB, QEMU) put the image's path
/// first, as a program name.
pub(crate) fn without_image_path(cmdline: &[u8]) -> &[u8] {
    let is_space = |b: &u8| b.is_ascii_whitespace();
    let rest = cmdline
        .iter()
        .position(is_space)
        .map_or(&[][..], |at| &cmdline[at..]);
    let start = rest.iter().position(|b| !is_space(b)).unwrap_or(rest.len());
    &rest[start..]
}

/// The entries of the memory map `mmap`: each starts with its own size (not counting the
/// size field), then address, length and type (1 = RAM). A damaged size ends the walk.
pub(crate) fn regions(mmap: &[u8]) -> impl Iterator<Item = Region> + '_ {
    let mut rest = mmap;
    core::iter::from_fn(move || {
        let size = u32_at(rest, 0)? as usize;
        let entry = rest.get(4..4 + size).filter(|_| size >= 20)?;
        rest = &rest[4 + size..];
        Some(Region {
            start: u64_at(entry, 0)?,
            len: u64_at(entry, 8)?,
            usable: u32_at(entry, 16)? == 1,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{Error, INFO_LEN, Info, LOADER_MAGIC, parse, regions, without_image_path};

    #[test]
    fn command_line_loses_the_image_path() {
        assert_eq!(
            without_image_path(b"/img/fault tsc_khz=1 ud2"),
            b"tsc_khz=1 ud2"
        );
        assert_eq!(without_image_path(b"/img/fault   "), b"");
        assert_eq!(without_image_path(b"/img/fault"), b"");
        assert_eq!(without_image_path(b""), b"");
    }

    fn entry(start: u64, len: u64, kind: u32) -> Vec<u8> {
        let mut e = 20u32.to_le_bytes().to_vec();
        e.extend(start.to_le_bytes());
        e.extend(len.to_le_bytes());
        e.extend(kind.to_le_bytes());
        e
    }

    #[test]
    fn reads_the_fields_the_flags_announce() {
        let mut info = [0u8; INFO_LEN];
        info[0..4].copy_from_slice(&(1u32 << 6 | 1 << 2).to_le_bytes());
        info[16..20].copy_from_slice(&0x11_0000u32.to_le_bytes());
        info[44..48].copy_from_slice(&48u32.to_le_bytes());
        info[48..52].copy_from_slice(&0x11_1000u32.to_le_bytes());
        assert_eq!(
            parse(LOADER_MAGIC, &info),
            Ok(Info {
                cmdline: 0x11_0000,
                mmap: 0x11_1000,
                mmap_len: 48
            })
        );
        info[0] = 1 << 6;
        assert_eq!(
            parse(LOADER_MAGIC, &info).unwrap().cmdline,
            0,
            "no command line flag, no command line"
        );
        info[0] = 0;
        assert_eq!(parse(LOADER_MAGIC, &info), Err(Error::NoMemoryMap));
        assert_eq!(parse(0x336e_c578, &info), Err(Error::BadMagic(0x336e_c578)));
    }

    #[test]
    fn walks_the_memory_map_and_stops_at_damage() {
        let mut mmap = entry(0, 0x9_fc00, 1);
        mmap.extend(entry(0x10_0000, 0x7ee_0000, 1));
        mmap.extend(entry(0xfffc_0000, 0x4_0000, 2));
        let found: Vec<_> = regions(&mmap).map(|r| (r.start, r.usable)).collect();
        assert_eq!(found, [(0, true), (0x10_0000, true), (0xfffc_0000, false)]);
        mmap.truncate(30);
        assert_eq!(regions(&mmap).count(), 1);
        assert_eq!(
            regions(&5u32.to_le_bytes()).count(),
            0,
            "an entry too small to hold a region"
        );
    }

    /// Information with a memory map of `len` bytes at `address`.
    fn info_with_map(address: u32, len: u32) -> [u8; INFO_LEN] {
        let mut info = [0u8; INFO_LEN];
        info[0..4].copy_from_slice(&(1u32 << 6 | 1 << 2).to_le_bytes());
        info[16..20].copy_from_slice(&0x11_0000u32.to_le_bytes());
        info[44..48].copy_from_slice(&len.to_le_bytes());
        info[48..52].copy_from_slice(&address.to_le_bytes());
        info
    }

    #[test]
    fn refuses_a_memory_map_that_ends_past_4_gib() {
        assert!(parse(LOADER_MAGIC, &info_with_map(0xffff_f000, 0x1000)).is_ok());
        for (address, len) in [
            (0xffff_f000, 0x1001),
            (0xffff_fff0, u32::MAX),
            (2, u32::MAX),
        ] {
            assert_eq!(
                parse(LOADER_MAGIC, &info_with_map(address, len)),
                Err(Error::MemoryMapOutOfReach(address, len))
            );
        }
    }

    /// Mutated information, memory maps and command lines: every one read or refused,
    /// never a panic or an endless walk, and what is read is consistent.
    #[test]
    fn hostile_boot_information_is_refused_or_read_never_fatal() {
        let mut seed = 0x6d75_6c74_6962_6f6fu64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let valid_info = info_with_map(0x11_1000, 72);
        let mut valid_map = entry(0, 0x9_fc00, 1);
        valid_map.extend(entry(0x10_0000, 0x7ee_0000, 1));
        valid_map.extend(entry(0xfffc_0000, 0x4_0000, 2));
        let (mut read, mut regions_read) = (0, 0);
        for _ in 0..100_000 {
            let mut info = valid_info;
            for _ in 0..=next() % 3 {
                let field = [0, 16, 44, 48, (next() % 49) as usize][(next() % 5) as usize];
                let value = u32::MAX >> (next() % 32) & next() as u32;
                info[field..field + 4].copy_from_slice(&value.to_le_bytes());
            }
            if let Ok(found) = parse(LOADER_MAGIC, &info) {
                read += 1;
                assert!(found.mmap + found.mmap_len as u64 <= 1 << 32, "{found:?}");
            }
            let mut map = valid_map.clone();
            for _ in 0..=next() % 3 {
                let at = [0, 24, 48, (next() % map.len() as u64) as usize][(next() % 4) as usize];
                let value = u32::MAX >> (next() % 32) & next() as u32;
                let end = (at + 4).min(map.len());
                map[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
            }
            map.truncate((next() % (map.len() as u64 + 1)) as usize);
            // Every entry takes at least 24 bytes: more would be a walk that does not end.
            let most = map.len() / 24;
            let walked = regions(&map).take(most + 1).count();
            assert!(walked <= most, "{map:02x?}");
            regions_read += walked;
            let line: Vec<u8> = (0..next() % 12)
                .map(|_| b" \t\na/=\xff"[(next() % 7) as usize])
                .collect();
            let rest = without_image_path(&line);
            assert!(line.ends_with(rest) && !rest.first().is_some_and(u8::is_ascii_whitespace));
        }
        assert!(
            read > 1_000 && regions_read > 1_000,
            "{read} {regions_read}"
        );
    }
}
