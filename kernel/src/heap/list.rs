//! The shared heap behind the per-core caches: a first-fit list of free blocks kept in
//! address order, so that a freed block merges with free neighbours at once and the heap
//! does not crumble.
//!
//! Every block is a multiple of 16 bytes at a 16-byte-aligned address, and a free block
//! keeps its size and the next free block in its first 16 bytes. Alignments above 16 are
//! served by splitting off the gap in front, which is itself a whole free block.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

/// The allocation granularity: every block size and address is a multiple of it.
const UNIT: usize = 16;

#[repr(C)]
struct FreeBlock {
    size: usize,
    next: *mut FreeBlock,
}

/// How much of the heap is in use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes the heap manages.
    pub total: usize,
    /// Bytes free.
    pub free: usize,
}

/// A heap over memory regions given to it once and for ever.
#[derive(Debug)]
pub struct Heap {
    head: *mut FreeBlock,
    stats: Stats,
}

// SAFETY: the heap owns the memory its free list points into; moving it to another thread
// moves that ownership along.
unsafe impl Send for Heap {}

const fn block_size(layout: Layout) -> Option<usize> {
    let size = if layout.size() == 0 { 1 } else { layout.size() };
    match size.checked_add(UNIT - 1) {
        Some(rounded) => Some(rounded & !(UNIT - 1)),
        None => None,
    }
}

impl Heap {
    /// A heap with no memory.
    pub const fn empty() -> Self {
        Self {
            head: ptr::null_mut(),
            stats: Stats { total: 0, free: 0 },
        }
    }

    /// Gives the heap `region` for good. Bytes that do not fill a whole aligned unit at
    /// either end are left out.
    pub fn add_region(&mut self, region: &'static mut [MaybeUninit<u8>]) {
        let range = region.as_mut_ptr_range();
        let start = (range.start as usize).next_multiple_of(UNIT);
        let end = range.end as usize & !(UNIT - 1);
        if end <= start {
            return;
        }
        self.stats.total += end - start;
        // SAFETY: [start, end) lies inside `region`, which is ours for ever, and is aligned
        // and large enough for a free block.
        unsafe { self.release(start, end - start) };
    }

    /// What is in use.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Allocates a block for `layout`, or `None` when no free block is big enough.
    pub fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let size = block_size(layout)?;
        let align = layout.align().max(UNIT);
        let mut link: *mut *mut FreeBlock = &raw mut self.head;
        // SAFETY: every pointer on the free list points at a live `FreeBlock` inside our
        // regions, and `link` always points at the head or at a listed block's `next`.
        unsafe {
            while !(*link).is_null() {
                let block = *link;
                let base = block as usize;
                let end = base + (*block).size;
                let start = base.checked_next_multiple_of(align)?;
                if let Some(tail) = end
                    .checked_sub(start)
                    .and_then(|room| room.checked_sub(size))
                {
                    // Unlink the block and list what is left of it on either side; both
                    // leftovers are multiples of UNIT, so each is empty or a whole block.
                    let mut after = (*block).next;
                    if tail > 0 {
                        let rest = (start + size) as *mut FreeBlock;
                        rest.write(FreeBlock {
                            size: tail,
                            next: after,
                        });
                        after = rest;
                    }
                    if start > base {
                        block.write(FreeBlock {
                            size: start - base,
                            next: after,
                        });
                        after = block;
                    }
                    *link = after;
                    self.stats.free -= size;
                    return NonNull::new(start as *mut u8);
                }
                link = &raw mut (*block).next;
            }
        }
        None
    }

    /// Returns a block to the heap.
    ///
    /// # Safety
    /// `block` must come from [`Heap::allocate`] on this heap with this `layout`, and must
    /// not be used again.
    pub unsafe fn deallocate(&mut self, block: NonNull<u8>, layout: Layout) {
        if let Some(size) = block_size(layout) {
            // SAFETY: the caller returns a block of `size` bytes that this heap handed out.
            unsafe { self.release(block.as_ptr() as usize, size) };
        }
    }

    /// Puts `[start, start + size)` on the free list in address order, merged with its
    /// neighbours, and counts it as free.
    ///
    /// # Safety
    /// The range must be aligned to UNIT, a multiple of UNIT long, unused, and ours.
    unsafe fn release(&mut self, start: usize, size: usize) {
        // SAFETY: as in `allocate`, the list holds live blocks; the new block is ours.
        unsafe {
            let mut previous: *mut FreeBlock = ptr::null_mut();
            let mut next = self.head;
            while !next.is_null() && (next as usize) < start {
                previous = next;
                next = (*next).next;
            }
            let block = start as *mut FreeBlock;
            block.write(FreeBlock { size, next });
            if !next.is_null() && start + size == next as usize {
                (*block).size += (*next).size;
                (*block).next = (*next).next;
            }
            if previous.is_null() {
                self.head = block;
            } else if previous as usize + (*previous).size == start {
                (*previous).size += (*block).size;
                (*previous).next = (*block).next;
            } else {
                (*previous).next = block;
            }
        }
        self.stats.free += size;
    }
}

#[cfg(test)]
mod tests {
    use core::alloc::Layout;
    use core::mem::MaybeUninit;

    use super::{Heap, Stats};

    fn heap(bytes: usize) -> Heap {
        let region = Box::leak(vec![MaybeUninit::uninit(); bytes].into_boxed_slice());
        let mut heap = Heap::empty();
        heap.add_region(region);
        heap
    }

    #[test]
    fn serves_alignment_and_merges_everything_back() {
        let mut heap = heap(64 * 1024);
        let Stats { total, free } = heap.stats();
        assert_eq!(total, free);
        let small = Layout::from_size_align(24, 8).unwrap();
        let page = Layout::from_size_align(4096, 4096).unwrap();
        let a = heap.allocate(small).unwrap();
        let b = heap.allocate(page).unwrap();
        let c = heap.allocate(small).unwrap();
        assert_eq!(b.as_ptr() as usize % 4096, 0);
        assert_eq!(a.as_ptr() as usize % 16, 0);
        assert_eq!(heap.stats().free, total - 32 - 4096 - 32);
        // SAFETY: each block came from this heap with this layout.
        unsafe {
            heap.deallocate(b, page);
            heap.deallocate(a, small);
            heap.deallocate(c, small);
        }
        assert_eq!(heap.stats().free, total);
        // Merged back into one block: the whole heap can be allocated at once.
        assert!(
            heap.allocate(Layout::from_size_align(total, 16).unwrap())
                .is_some()
        );
    }

    #[test]
    fn runs_out_cleanly() {
        let mut heap = heap(4096);
        assert!(
            heap.allocate(Layout::from_size_align(8192, 16).unwrap())
                .is_none()
        );
        assert!(
            heap.allocate(Layout::from_size_align(isize::MAX as usize - 15, 16).unwrap())
                .is_none()
        );
    }

    /// Random allocations and frees, checked against a model: no two live blocks overlap,
    /// contents survive, and all memory comes back.
    #[test]
    fn random_workload_keeps_blocks_disjoint() {
        let mut heap = heap(256 * 1024);
        let total = heap.stats().total;
        let mut live: Vec<(usize, Layout, u8)> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000u32 {
            let r = next();
            if r % 3 != 0 || live.is_empty() {
                let size = (r >> 8) as usize % 2048 + 1;
                let align = 1 << ((r >> 24) % 13);
                let layout = Layout::from_size_align(size, align).unwrap();
                if let Some(p) = heap.allocate(layout) {
                    let addr = p.as_ptr() as usize;
                    assert_eq!(addr % align, 0);
                    for &(other, other_layout, _) in &live {
                        assert!(
                            addr + size <= other || other + other_layout.size() <= addr,
                            "overlap"
                        );
                    }
                    let tag = round as u8;
                    // SAFETY: the block is ours and `size` bytes long.
                    unsafe { p.as_ptr().write_bytes(tag, size) };
                    live.push((addr, layout, tag));
                }
            } else {
                let (addr, layout, tag) = live.swap_remove((r >> 8) as usize % live.len());
                // SAFETY: the block is live and `layout.size()` bytes long.
                let bytes =
                    unsafe { core::slice::from_raw_parts(addr as *const u8, layout.size()) };
                assert!(bytes.iter().all(|&b| b == tag), "contents were overwritten");
                // SAFETY: the block came from this heap with this layout.
                unsafe {
                    heap.deallocate(core::ptr::NonNull::new(addr as *mut u8).unwrap(), layout)
                };
            }
        }
        for (addr, layout, _) in live.drain(..) {
            // SAFETY: as above.
            unsafe { heap.deallocate(core::ptr::NonNull::new(addr as *mut u8).unwrap(), layout) };
        }
        assert_eq!(heap.stats().free, total);
        assert!(
            heap.allocate(Layout::from_size_align(total, 16).unwrap())
                .is_some()
        );
    }
}
