//! Bus-master DMA on a PCI IDE controller (the PIIX's BAR4): its registers, the table of
//! physical region descriptors (PRD) and the drive's DMA modes.
//!
//! A PRD entry names one region of at most 64 KiB that does not cross a 64 KiB boundary,
//! at an even address below 4 GiB; the last entry carries the end-of-table flag. The table
//! itself is 4-byte aligned and does not cross a 64 KiB boundary: one page from the DMA
//! allocator, which holds [`PRD_ENTRIES`] entries.

use super::Identity;

/// Registers of one channel's part of the bus-master block, by offset.
pub mod bm {
    /// Command: start/stop and direction.
    pub const COMMAND: u8 = 0;
    /// Status: active, error and interrupt (the last two cleared by writing 1).
    pub const STATUS: u8 = 2;
    /// The PRD table's physical address (32 bits).
    pub const TABLE: u8 = 4;
}

/// Command: the engine runs.
pub const START: u8 = 1 << 0;
/// Command: the engine writes memory (the drive reads sectors).
pub const TO_MEMORY: u8 = 1 << 3;
/// Status: the engine is moving data.
pub const ACTIVE: u8 = 1 << 0;
/// Status: the engine failed to reach memory.
pub const FAILED: u8 = 1 << 1;
/// Status: the drive raised its interrupt.
pub const INTERRUPT: u8 = 1 << 2;

/// Commands.
pub mod cmd {
    /// READ DMA (LBA28).
    pub const READ: u8 = 0xc8;
    /// READ DMA EXT (LBA48).
    pub const READ_EXT: u8 = 0x25;
    /// WRITE DMA (LBA28).
    pub const WRITE: u8 = 0xca;
    /// WRITE DMA EXT (LBA48).
    pub const WRITE_EXT: u8 = 0x35;
    /// SET FEATURES (with feature [`super::SET_TRANSFER_MODE`]).
    pub const SET_FEATURES: u8 = 0xef;
}

/// SET FEATURES subcommand: the transfer mode in the sector count.
pub const SET_TRANSFER_MODE: u8 = 0x03;

/// Entries of one page of PRD table.
pub const PRD_ENTRIES: usize = 4096 / 8;

/// The most sectors one DMA command moves: a region of this many bytes touches at most
/// [`PRD_ENTRIES`] 64 KiB windows wherever it starts.
pub const MAX_SECTORS: u64 = (PRD_ENTRIES as u64 - 1) * (WINDOW / 512);

/// The window no region may cross, and the largest region.
const WINDOW: u64 = 1 << 16;

/// End of table, in an entry's last word.
const END_OF_TABLE: u16 = 1 << 15;

/// The DMA modes a drive offers (IDENTIFY words 49, 53, 63 and 88).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Modes {
    /// Multiword DMA modes 0..=2 supported, one bit each.
    pub multiword: u8,
    /// Ultra DMA modes 0..=6 supported, one bit each (0 when word 88 is not valid).
    pub ultra: u8,
    /// Whether one of them is selected already.
    pub selected: bool,
}

impl Modes {
    /// Reads the modes from IDENTIFY's words; all empty when word 49 says no DMA.
    pub fn parse(word: impl Fn(usize) -> u16) -> Self {
        if word(49) & (1 << 8) == 0 {
            return Self::default();
        }
        let ultra_valid = word(53) & (1 << 2) != 0;
        let (ultra, ultra_selected) = if ultra_valid {
            ((word(88) & 0x7f) as u8, word(88) & 0x7f00 != 0)
        } else {
            (0, false)
        };
        Self {
            multiword: (word(63) & 0x7) as u8,
            ultra,
            selected: word(63) & 0x700 != 0 || ultra_selected,
        }
    }

    /// Whether the drive moves data by DMA at all.
    pub fn any(self) -> bool {
        self.multiword != 0 || self.ultra != 0
    }

    /// The SET FEATURES transfer-mode value that selects the fastest multiword mode (what a
    /// PIIX times without Ultra DMA set-up), else the fastest Ultra DMA mode; `None` when
    /// one is selected already or there is none.
    pub fn to_select(self) -> Option<u8> {
        if self.selected {
            return None;
        }
        let fastest = |modes: u8| 7 - modes.leading_zeros() as u8;
        match (self.multiword, self.ultra) {
            (0, 0) => None,
            (0, ultra) => Some(0x40 | fastest(ultra)),
            (multiword, _) => Some(0x20 | fastest(multiword)),
        }
    }
}

impl Identity {
    /// Whether the drive offers DMA.
    pub fn dma(&self) -> bool {
        self.dma.any()
    }
}

/// Whether `len` bytes at physical address `address` can be a DMA transfer's memory: below
/// 4 GiB and at an even address (a PRD's bit 0 is reserved).
pub fn reachable(address: u64, len: usize) -> bool {
    address.is_multiple_of(2) && address.saturating_add(len as u64) <= 1 << 32
}

/// Writes the PRD entries for `len` bytes at physical address `address` (see
/// [`reachable`]) into `table`, the last with end of table. Returns how many bytes they
/// cover: all of `len`, or fewer when the table fills first (never fewer than a window).
pub fn fill(table: &mut [[u8; 8]], address: u64, len: usize) -> usize {
    let mut covered = 0;
    let mut entries = 0;
    while covered < len && entries < table.len() {
        let at = address + covered as u64;
        let room = WINDOW - at % WINDOW;
        let size = room.min((len - covered) as u64);
        let mut entry = [0; 8];
        entry[..4].copy_from_slice(&(at as u32).to_le_bytes());
        // A count of 0 means 64 KiB.
        entry[4..6].copy_from_slice(&(size as u16).to_le_bytes());
        table[entries] = entry;
        covered += size as usize;
        entries += 1;
    }
    if let Some(last) = entries.checked_sub(1) {
        table[last][6..].copy_from_slice(&END_OF_TABLE.to_le_bytes());
    }
    covered
}

#[cfg(test)]
mod tests {
    use super::{MAX_SECTORS, Modes, PRD_ENTRIES, fill, reachable};

    /// The (address, byte count, last) of each entry, as a controller reads them.
    fn entries(table: &[[u8; 8]]) -> Vec<(u32, u32, bool)> {
        let mut out = Vec::new();
        for entry in table {
            let address = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            let count = u32::from(u16::from_le_bytes([entry[4], entry[5]]));
            let last = entry[7] & 0x80 != 0;
            out.push((address, if count == 0 { 1 << 16 } else { count }, last));
            if last {
                break;
            }
        }
        out
    }

    #[test]
    fn regions_stop_at_64_kib_boundaries() {
        let mut table = [[0; 8]; PRD_ENTRIES];
        assert_eq!(fill(&mut table, 0x1_fe00, 0x600), 0x600);
        assert_eq!(
            entries(&table),
            [(0x1_fe00, 0x200, false), (0x2_0000, 0x400, true)]
        );
        assert_eq!(fill(&mut table, 0x30_0000, 128 << 10), 128 << 10);
        assert_eq!(
            entries(&table),
            [(0x30_0000, 1 << 16, false), (0x31_0000, 1 << 16, true)],
            "an aligned 64 KiB region is one entry with count 0"
        );
    }

    #[test]
    fn a_full_table_covers_what_it_can() {
        let mut table = [[0; 8]; 3];
        assert_eq!(fill(&mut table, 0x8000, 1 << 20), 0x8000 + 2 * (1 << 16));
        assert_eq!(entries(&table).len(), 3);
        assert!(entries(&table)[2].2, "the last entry ends the table");
        let mut table = [[0; 8]; PRD_ENTRIES];
        let most = MAX_SECTORS as usize * 512;
        assert_eq!(fill(&mut table, 0x1_0002, most), most, "from any address");
    }

    #[test]
    fn memory_out_of_reach_is_refused() {
        assert!(reachable(0x10_0000, 4096));
        assert!(!reachable(0x10_0001, 4096), "odd address");
        assert!(!reachable(0xffff_f000, 0x2000), "ends above 4 GiB");
        assert!(reachable(0xffff_f000, 0x1000));
    }

    #[test]
    fn modes_come_from_identify_and_the_fastest_multiword_is_chosen() {
        let words = |w49: u16, w53: u16, w63: u16, w88: u16| {
            move |i: usize| match i {
                49 => w49,
                53 => w53,
                63 => w63,
                88 => w88,
                _ => 0,
            }
        };
        let qemu = Modes::parse(words(1 << 8, 0x7, 0x7, 0x3f));
        assert_eq!(qemu.multiword, 0x7);
        assert_eq!(qemu.ultra, 0x3f);
        assert_eq!(qemu.to_select(), Some(0x22));
        let ultra_only = Modes::parse(words(1 << 8, 0x4, 0, 0x7));
        assert_eq!(ultra_only.to_select(), Some(0x42));
        let chosen = Modes::parse(words(1 << 8, 0x4, 0x7 | 0x400, 0x3f));
        assert!(chosen.selected && chosen.to_select().is_none());
        let no_dma = Modes::parse(words(0, 0x7, 0x7, 0x3f));
        assert!(!no_dma.any());
        let word_88_invalid = Modes::parse(words(1 << 8, 0, 0, 0x3f));
        assert!(!word_88_invalid.any());
    }
}
