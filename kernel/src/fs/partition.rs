//! Where on a disk a FAT volume lies: the whole disk, or the first FAT partition of an MBR.
//! Only the four primary entries are read (no extended partitions, no GPT).

use hal::block::SECTOR_SIZE;

use super::error::{Error, ErrorKind};

/// A span of sectors on a disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u64,
    pub(crate) sectors: u64,
}

/// MBR partition types that hold FAT: FAT12, FAT16 (< 32 MiB), FAT16, FAT32 (CHS), FAT32
/// (LBA), FAT16 (LBA), the EFI system partition.
const FAT_TYPES: [u8; 7] = [0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef];

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Whether `sector` is a FAT boot sector: a jump, a power-of-two sector size the layer can
/// read (512 bytes), a power-of-two cluster size, reserved sectors, one or two FATs.
fn is_fat_boot_sector(sector: &[u8; SECTOR_SIZE]) -> bool {
    let jump = sector[0] == 0xeb || sector[0] == 0xe9;
    let bytes_per_sector = le16(sector, 11);
    let sectors_per_cluster = sector[13];
    jump && bytes_per_sector == SECTOR_SIZE as u16
        && sectors_per_cluster.is_power_of_two()
        && le16(sector, 14) != 0
        && (1..=2).contains(&sector[16])
}

/// The sectors a FAT boot sector says its volume spans.
fn volume_sectors(boot: &[u8; SECTOR_SIZE]) -> u64 {
    match le16(boot, 19) {
        0 => u64::from(le32(boot, 32)),
        n => u64::from(n),
    }
}

/// Finds the FAT volume on a disk of `disk_sectors` sectors whose first sector is `first`:
/// the whole disk if `first` is a FAT boot sector, else the first MBR entry of a FAT type
/// that lies inside the disk. `boot_of` reads the first sector of a candidate partition.
pub(crate) fn find_volume(
    first: &[u8; SECTOR_SIZE],
    disk_sectors: u64,
    mut boot_of: impl FnMut(u64) -> Result<[u8; SECTOR_SIZE], Error>,
) -> Result<Span, Error> {
    if is_fat_boot_sector(first) {
        return checked(first, Span {
            start: 0,
            sectors: disk_sectors,
        });
    }
    if first[510..512] != [0x55, 0xaa] {
        return Err(Error::with_detail(
            ErrorKind::InvalidData,
            "neither a FAT volume nor a partition table (MBR)",
        ));
    }
    for entry in first[446..510].chunks_exact(16) {
        let (kind, start, count) = (entry[4], u64::from(le32(entry, 8)), u64::from(le32(entry, 12)));
        let inside = start > 0 && count > 0 && start + count <= disk_sectors;
        if !FAT_TYPES.contains(&kind) || !inside {
            continue;
        }
        let boot = boot_of(start)?;
        if is_fat_boot_sector(&boot) {
            return checked(&boot, Span {
                start,
                sectors: count,
            });
        }
    }
    Err(Error::with_detail(
        ErrorKind::InvalidData,
        "the partition table (MBR) lists no FAT partition inside the disk",
    ))
}

/// The volume, if its boot sector fits in `span`; a volume that claims more sectors than its
/// disk or partition holds is a truncated image.
fn checked(boot: &[u8; SECTOR_SIZE], span: Span) -> Result<Span, Error> {
    let claimed = volume_sectors(boot);
    if claimed == 0 || claimed > span.sectors {
        return Err(Error::with_detail(
            ErrorKind::InvalidData,
            "the FAT volume claims more sectors than its disk or partition holds (truncated?)",
        ));
    }
    Ok(Span {
        start: span.start,
        sectors: claimed,
    })
}

#[cfg(test)]
mod tests {
    use hal::block::SECTOR_SIZE;

    use super::{Span, find_volume};
    use crate::fs::ErrorKind;

    fn boot_sector(sectors: u16) -> [u8; SECTOR_SIZE] {
        let mut b = [0; SECTOR_SIZE];
        b[0] = 0xeb;
        b[11..13].copy_from_slice(&512u16.to_le_bytes());
        b[13] = 4;
        b[14] = 1;
        b[16] = 2;
        b[19..21].copy_from_slice(&sectors.to_le_bytes());
        b[510] = 0x55;
        b[511] = 0xaa;
        b
    }

    fn mbr(entries: &[(u8, u32, u32)]) -> [u8; SECTOR_SIZE] {
        let mut b = [0; SECTOR_SIZE];
        for (i, (kind, start, count)) in entries.iter().enumerate() {
            let e = &mut b[446 + 16 * i..462 + 16 * i];
            e[4] = *kind;
            e[8..12].copy_from_slice(&start.to_le_bytes());
            e[12..16].copy_from_slice(&count.to_le_bytes());
        }
        b[510] = 0x55;
        b[511] = 0xaa;
        b
    }

    #[test]
    fn a_whole_disk_volume_is_found_and_its_size_checked() {
        let found = find_volume(&boot_sector(100), 100, |_| unreachable!());
        assert_eq!(found, Ok(Span { start: 0, sectors: 100 }));
        let truncated = find_volume(&boot_sector(100), 99, |_| unreachable!());
        assert_eq!(truncated.unwrap_err().kind(), ErrorKind::InvalidData);
    }

    #[test]
    fn the_first_fat_partition_inside_the_disk_is_taken() {
        // A Linux partition, one past the end, then two FAT ones.
        let table = mbr(&[(0x83, 1, 10), (0x0c, 50, 100), (0x06, 20, 10), (0x0b, 40, 10)]);
        let found = find_volume(&table, 100, |start| Ok(boot_sector(if start == 20 { 10 } else { 0 })));
        assert_eq!(found, Ok(Span { start: 20, sectors: 10 }));
    }

    #[test]
    fn disks_without_fat_are_refused() {
        let zero = [0; SECTOR_SIZE];
        assert_eq!(find_volume(&zero, 100, |_| unreachable!()).unwrap_err().kind(), ErrorKind::InvalidData);
        let linux = mbr(&[(0x83, 1, 10)]);
        assert_eq!(find_volume(&linux, 100, |_| unreachable!()).unwrap_err().kind(), ErrorKind::InvalidData);
        // A FAT-typed entry whose sector is not a boot sector.
        let lying = mbr(&[(0x0c, 1, 10)]);
        assert_eq!(find_volume(&lying, 100, |_| Ok([0; SECTOR_SIZE])).unwrap_err().kind(), ErrorKind::InvalidData);
    }
}
