//! Physical memory, as a board found it.

/// One range of physical memory from the firmware's memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// The first byte.
    pub start: u64,
    /// The length in bytes.
    pub len: u64,
    /// Whether the range is RAM that software may use.
    pub usable: bool,
}

/// The size of the pages [`GuardPages`] works in.
pub const PAGE_SIZE: usize = 4096;

/// A 4 KiB page, as [`GuardPages`] asks for one to hold a page table.
#[derive(Debug)]
#[repr(C, align(4096))]
pub struct Page(pub [u8; PAGE_SIZE]);

/// Why a page could not be made a guard page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuardError {
    /// The address is not page-aligned or not in mapped RAM.
    BadAddress,
    /// A page table was needed and `table` gave none.
    OutOfMemory,
}

impl GuardError {
    /// The kind of this error (it is its own kind).
    pub fn kind(&self) -> Self {
        *self
    }
}

/// Guard pages: pages that fault when touched, below each thread's stack, so that a stack
/// overflow is a CPU exception instead of a silent overwrite.
///
/// # Contract
/// Both calls act on the current core's view of memory and return at once. The kernel
/// protects and unprotects a stack's guard page on the core that runs the thread, so no
/// other core's TLB needs to hear of it.
pub trait GuardPages {
    /// Makes the 4 KiB page at `page` fault when touched. When the mapping must be split
    /// into smaller pages first, `table` supplies a zeroed page for the new page table; it
    /// then belongs to the mapping for ever.
    fn protect(
        &self,
        page: usize,
        table: &mut dyn FnMut() -> Option<&'static mut Page>,
    ) -> Result<(), GuardError>;

    /// Makes the page at `page` ordinary memory again.
    fn unprotect(&self, page: usize);
}

/// Adds up the usable bytes of a memory map.
pub fn usable_bytes(map: &[Region]) -> u64 {
    map.iter().filter(|r| r.usable).map(|r| r.len).sum()
}

/// The largest usable range of `map` that lies within `[not_below, limit)`, as `(start,
/// end)`: where a board puts the heap.
pub fn largest_usable(map: &[Region], not_below: u64, limit: u64) -> Option<(u64, u64)> {
    map.iter()
        .filter(|r| r.usable)
        .map(|r| {
            (
                r.start.max(not_below),
                r.start.saturating_add(r.len).min(limit),
            )
        })
        .filter(|(start, end)| start < end)
        .max_by_key(|(start, end)| end - start)
}

#[cfg(test)]
mod tests {
    use super::{Region, largest_usable, usable_bytes};

    #[test]
    fn heap_goes_in_the_largest_usable_range_after_the_kernel() {
        let map = [
            Region {
                start: 0,
                len: 0x9_fc00,
                usable: true,
            },
            Region {
                start: 0xf_0000,
                len: 0x1_0000,
                usable: false,
            },
            Region {
                start: 0x10_0000,
                len: 0x7ef_0000,
                usable: true,
            },
            Region {
                start: 0x1_0000_0000,
                len: 0x1000_0000,
                usable: true,
            },
        ];
        assert_eq!(usable_bytes(&map), 0x9_fc00 + 0x7ef_0000 + 0x1000_0000);
        assert_eq!(
            largest_usable(&map, 0x12_0000, 1 << 32),
            Some((0x12_0000, 0x7ff_0000))
        );
        assert_eq!(largest_usable(&map, 0x12_0000, 0x12_0000), None);
        assert_eq!(largest_usable(&[], 0, u64::MAX), None);
    }
}
