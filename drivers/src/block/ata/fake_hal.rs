//! [`FakeHal`]: DMA memory for the host tests at made-up 32-bit physical addresses, as a
//! PRD needs them (the host's own addresses are above 4 GiB).
//!
//! Each shared buffer or allocated page gets a physical range of its own with the same
//! offset within 64 KiB as its real address, so regions cross 64 KiB boundaries where they
//! would on Novillo's identity map. The record is per test thread.

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::ptr::NonNull;

use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// The physical ranges handed out: (physical, address, length).
type Ranges = Vec<(PhysAddr, usize, usize)>;

std::thread_local! {
    static RANGES: RefCell<Ranges> = const { RefCell::new(Vec::new()) };
    static NEXT: Cell<PhysAddr> = const { Cell::new(0x10_0000) };
    /// Shared buffers land above 4 GiB, out of a PRD's reach.
    static HIGH: Cell<bool> = const { Cell::new(false) };
}

/// See the [module docs](self).
#[derive(Debug)]
pub(super) struct FakeHal;

impl FakeHal {
    /// Makes buffers shared from now on (on this thread) land above 4 GiB, or not.
    pub(super) fn share_high(high: bool) {
        HIGH.set(high);
    }

    /// How many buffers and pages are shared or allocated now.
    pub(super) fn outstanding() -> usize {
        RANGES.with_borrow(Vec::len)
    }

    fn record(address: usize, len: usize, high: bool) -> PhysAddr {
        let window = 1 << 16;
        let next = NEXT.get().next_multiple_of(window) + address as u64 % window;
        NEXT.set(next + len as u64 + window);
        let physical = if high { next + (1 << 32) } else { next };
        RANGES.with_borrow_mut(|ranges| ranges.push((physical, address, len)));
        physical
    }

    fn forget(physical: PhysAddr) {
        RANGES.with_borrow_mut(|ranges| {
            let i = ranges
                .iter()
                .position(|&(p, ..)| p == physical)
                .expect("unshared or freed twice");
            ranges.swap_remove(i);
        });
    }

    /// The memory at `physical..physical + len`, which must lie in one shared buffer or
    /// page.
    pub(super) fn memory(physical: PhysAddr, len: usize) -> &'static mut [u8] {
        let address = RANGES.with_borrow(|ranges| {
            let &(start, address, size) = ranges
                .iter()
                .find(|&&(start, _, size)| (start..start + size as u64).contains(&physical))
                .expect("DMA to memory nobody shared");
            let offset = (physical - start) as usize;
            assert!(offset + len <= size, "DMA past the end of a shared buffer");
            address + offset
        });
        // SAFETY: the range lies in a buffer shared with (or a page allocated for) the
        // driver, which the test keeps alive and leaves alone until the request ends.
        unsafe { core::slice::from_raw_parts_mut(address as *mut u8, len) }
    }

    /// The regions the PRD table at `table` lists, checked as a PIIX needs them: table
    /// 4-byte aligned and within one 64 KiB window; each region at an even address, of
    /// an even length, within one window.
    pub(super) fn prd_regions(table: u32) -> Vec<(PhysAddr, usize)> {
        let window = 1 << 16;
        assert_eq!(table % 4, 0, "the table is 4-byte aligned");
        let mut regions = Vec::new();
        let mut at = u64::from(table);
        loop {
            assert_eq!(at / window, (at + 7) / window, "the table crosses 64 KiB");
            let entry = FakeHal::memory(at, 8);
            let address = u64::from(u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]));
            let count = u16::from_le_bytes([entry[4], entry[5]]);
            let len = if count == 0 {
                1 << 16
            } else {
                usize::from(count)
            };
            assert!(
                address % 2 == 0 && len % 2 == 0,
                "odd region {address:#x}+{len}"
            );
            assert_eq!(
                address / window,
                (address + len as u64 - 1) / window,
                "region {address:#x}+{len:#x} crosses 64 KiB"
            );
            regions.push((address, len));
            if entry[7] & 0x80 != 0 {
                return regions;
            }
            at += 8;
        }
    }
}

// SAFETY: pages come zeroed and page-aligned from the global allocator and are used by
// nothing else until `dma_dealloc`; every physical range maps to the memory recorded for
// it, for as long as it is recorded.
unsafe impl Hal for FakeHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let layout = Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE).expect("layout");
        // SAFETY: a non-zero size.
        let memory = NonNull::new(unsafe { alloc_zeroed(layout) }).expect("memory");
        let physical = Self::record(memory.as_ptr() as usize, layout.size(), false);
        (physical, memory)
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        Self::forget(paddr);
        let layout = Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE).expect("layout");
        // SAFETY: allocated by `dma_alloc` with this layout, freed once.
        unsafe { dealloc(vaddr.as_ptr(), layout) };
        0
    }

    unsafe fn mmio_phys_to_virt(_paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        unreachable!("the ATA driver maps no MMIO")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        Self::record(
            buffer.cast::<u8>().as_ptr() as usize,
            buffer.len(),
            HIGH.get(),
        )
    }

    unsafe fn unshare(paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {
        Self::forget(paddr);
    }
}
