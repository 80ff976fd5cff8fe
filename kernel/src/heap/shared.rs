//! The shared heap behind the per-core caches: free blocks sorted into bins by size, and a
//! bitmap that marks the first and last unit of every free block, so that an allocation
//! and a free each take the same few steps however many blocks are free, and a freed
//! block still merges with its free neighbours at once.
//!
//! Every block is a multiple of 32 bytes at a 32-byte-aligned address. A free block keeps
//! its size and its bin links in its first 24 bytes and its size again in its last 8. The
//! bitmap (one bit per 32 bytes, 1/256 of a region, carved from the region's start) tells
//! whether the unit just below or just above a block is free, and then that unit's block
//! says where it begins. The bins split each power of two in four sizes, as TLSF does: a
//! request takes the first block of the smallest non-empty bin whose blocks are all big
//! enough, after a short look in its own bin for a block that fits more tightly (so a
//! thread stack's hole is used again by the next stack). Alignments above 32 are served by
//! splitting off the gap in front, which is itself a whole free block.
//!
//! What no block has used yet, the top of each region, is in no bin: a request the bins
//! cannot serve is cut from its bottom, and a freed block that touches it goes back into
//! it. The bitmap is zeroed only as far as the top has ever reached, so a large heap costs
//! nothing at boot.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

/// The allocation granularity: every block size and address is a multiple of it.
const UNIT: usize = 32;
const UNIT_LOG: u32 = UNIT.trailing_zeros();
/// Each power of two of sizes is split into `1 << SPLIT_LOG` bins.
const SPLIT_LOG: u32 = 2;
/// The number of bins; the last one also takes every block too big for its range.
const BINS: usize = 128;
/// How many blocks of its own bin a request looks at before it takes a bigger block.
const TIGHT_LOOKS: usize = 8;
/// How many regions a heap manages.
const MAX_REGIONS: usize = 4;

#[repr(C)]
struct FreeBlock {
    size: usize,
    next: *mut FreeBlock,
    prev: *mut FreeBlock,
}

/// How much of the heap is in use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes the heap manages.
    pub total: usize,
    /// Bytes free.
    pub free: usize,
    /// The most bytes in use at once since boot (blocks the per-core caches hold count as
    /// in use): what a load needed at its worst.
    pub peak: usize,
}

/// One region's blocks, `[start, end)`, and its bitmap of free-block edges.
#[derive(Clone, Copy, Debug)]
struct Region {
    start: usize,
    end: usize,
    edges: *mut u64,
    /// `[top, end)` has never been used, or was given back whole: it is free and in no bin.
    top: usize,
    /// The bitmap is zeroed for the units below this address (at least `top`).
    zeroed: usize,
}

impl Region {
    const NONE: Self = Self {
        start: 0,
        end: 0,
        edges: ptr::null_mut(),
        top: 0,
        zeroed: 0,
    };

    /// Zeroes the bitmap for the units below `address`, if it was not yet.
    fn zero_below(&mut self, address: usize) {
        if address <= self.zeroed {
            return;
        }
        let from = (self.zeroed - self.start) / UNIT / 64;
        let to = (address - self.start).div_ceil(UNIT).div_ceil(64);
        // SAFETY: words of this region's bitmap, which has one bit for every unit.
        unsafe { ptr::write_bytes(self.edges.add(from), 0, to - from) };
        self.zeroed = self.start + to * 64 * UNIT;
    }

    fn bit(&self, address: usize) -> (*mut u64, u64) {
        let unit = (address - self.start) / UNIT;
        // SAFETY: the bitmap has a bit for every unit of the region, and callers pass
        // addresses inside it.
        (unsafe { self.edges.add(unit / 64) }, 1 << (unit % 64))
    }

    /// Whether the unit at `address` is the first or last of a free block.
    fn is_edge(&self, address: usize) -> bool {
        let (word, bit) = self.bit(address);
        // SAFETY: a word of this region's bitmap, which only the heap touches.
        unsafe { *word & bit != 0 }
    }

    fn set_edge(&self, address: usize, on: bool) {
        let (word, bit) = self.bit(address);
        // SAFETY: as in `is_edge`.
        unsafe {
            if on {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }
}

/// A heap over memory regions given to it once and for ever.
#[derive(Debug)]
pub struct Heap {
    bins: [*mut FreeBlock; BINS],
    /// Bit `b` is set when bin `b` holds a block.
    filled: u128,
    regions: [Region; MAX_REGIONS],
    region_count: usize,
    stats: Stats,
}

// SAFETY: the heap owns the memory its bins and bitmaps point into; moving it to another
// thread moves that ownership along.
unsafe impl Send for Heap {}

const fn block_size(layout: Layout) -> Option<usize> {
    let size = if layout.size() == 0 { 1 } else { layout.size() };
    match size.checked_add(UNIT - 1) {
        Some(rounded) => Some(rounded & !(UNIT - 1)),
        None => None,
    }
}

/// The bin of a block of `size` bytes (at least UNIT).
fn bin_of(size: usize) -> usize {
    let log = usize::BITS - 1 - size.leading_zeros();
    let split = (size >> (log - SPLIT_LOG)) & ((1 << SPLIT_LOG) - 1);
    ((((log - UNIT_LOG) << SPLIT_LOG) as usize) + split).min(BINS - 1)
}

/// The smallest size bin `bin` takes.
fn bin_floor(bin: usize) -> usize {
    let log = (bin >> SPLIT_LOG) as u32 + UNIT_LOG;
    ((1 << SPLIT_LOG) + (bin & ((1 << SPLIT_LOG) - 1))) << (log - SPLIT_LOG)
}

/// The first bin whose blocks are all at least `size` bytes (the last bin is checked
/// block by block).
fn bin_above(size: usize) -> usize {
    let bin = bin_of(size);
    if bin == BINS - 1 || bin_floor(bin) == size {
        bin
    } else {
        bin + 1
    }
}

/// Where a block of `size` bytes aligned to `align` starts inside the free block at
/// `base` of `room` bytes, if it fits.
fn fit(base: usize, room: usize, size: usize, align: usize) -> Option<usize> {
    let start = base.checked_next_multiple_of(align)?;
    (start.checked_add(size)? <= base + room).then_some(start)
}

impl Heap {
    /// A heap with no memory.
    pub const fn empty() -> Self {
        Self {
            bins: [ptr::null_mut(); BINS],
            filled: 0,
            regions: [Region::NONE; MAX_REGIONS],
            region_count: 0,
            stats: Stats {
                total: 0,
                free: 0,
                peak: 0,
            },
        }
    }

    /// Gives the heap `region` for good. Bytes that do not fill a whole aligned unit at
    /// either end are left out, and so is a region past the fourth.
    pub fn add_region(&mut self, region: &'static mut [MaybeUninit<u8>]) {
        let range = region.as_mut_ptr_range();
        let start = (range.start as usize).next_multiple_of(UNIT);
        let end = range.end as usize & !(UNIT - 1);
        if end <= start || self.region_count == MAX_REGIONS {
            return;
        }
        let words = ((end - start) / UNIT).div_ceil(64);
        let bitmap = (words * 8).next_multiple_of(UNIT);
        if end - start <= bitmap {
            return;
        }
        // The bitmap's words lie at the start of `region`, which is ours for ever, aligned
        // for u64; they are zeroed as the top rises. At the start, not the end: the start
        // is next to whatever was used before it, while the first touch of memory far
        // from it can cost a hypervisor a fresh host page (0.3 ms under TCG, a third of a
        // boot).
        let blocks = start + bitmap;
        self.regions[self.region_count] = Region {
            start: blocks,
            end,
            edges: start as *mut u64,
            top: blocks,
            zeroed: blocks,
        };
        self.region_count += 1;
        self.stats.total += end - blocks;
        self.stats.free += end - blocks;
    }

    /// What is in use.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Allocates a block for `layout`, or `None` when no free block is big enough.
    pub fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let size = block_size(layout)?;
        let align = layout.align().max(UNIT);
        let Some((block, start)) =
            self.find(bin_of(size), size, align, TIGHT_LOOKS)
                .or_else(|| {
                    // Any block this big fits, wherever it starts.
                    let sure = size.checked_add(align - UNIT)?;
                    let mut bins = self.filled & (u128::MAX << bin_above(sure));
                    while bins != 0 {
                        let bin = bins.trailing_zeros() as usize;
                        let looks = if bin == BINS - 1 { usize::MAX } else { 1 };
                        if let Some(found) = self.find(bin, size, align, looks) {
                            return Some(found);
                        }
                        bins &= !(1 << bin);
                    }
                    None
                })
        else {
            return self.cut_from_top(size, align);
        };
        let base = block as usize;
        let region = self.region_of(base)?;
        // SAFETY: `block` is a listed free block of `region`. Its neighbours are not free
        // (free blocks are merged), so what is left of it on either side is a whole free
        // block that needs no merging.
        unsafe {
            let end = base + (*block).size;
            self.unlink(&region, block);
            if start > base {
                self.insert(&region, base, start - base);
            }
            if end > start + size {
                self.insert(&region, start + size, end - start - size);
            }
        }
        self.taken(size);
        NonNull::new(start as *mut u8)
    }

    /// Cuts a block from the bottom of the first region's top that has room; the gap an
    /// alignment leaves below it becomes a free block.
    fn cut_from_top(&mut self, size: usize, align: usize) -> Option<NonNull<u8>> {
        let index = self.regions[..self.region_count]
            .iter()
            .position(|r| fit(r.top, r.end - r.top, size, align).is_some())?;
        let region = &mut self.regions[index];
        let base = region.top;
        let start = fit(base, region.end - base, size, align)?;
        region.top = start + size;
        region.zero_below(region.top);
        let region = *region;
        if start > base {
            // SAFETY: the gap was part of the top, unused; the block below it, if free,
            // would have gone back into the top, so it has no free neighbour.
            unsafe { self.insert(&region, base, start - base) };
        }
        self.taken(size);
        NonNull::new(start as *mut u8)
    }

    /// Counts `size` bytes handed out.
    fn taken(&mut self, size: usize) {
        self.stats.free -= size;
        self.stats.peak = self.stats.peak.max(self.stats.total - self.stats.free);
    }

    /// Returns a block to the heap.
    ///
    /// # Safety
    /// `block` must come from [`Heap::allocate`] on this heap with this `layout`, and must
    /// not be used again.
    pub unsafe fn deallocate(&mut self, block: NonNull<u8>, layout: Layout) {
        let start = block.as_ptr() as usize;
        let (Some(size), Some(region_index)) = (block_size(layout), self.region_index(start))
        else {
            return;
        };
        let region = self.regions[region_index];
        let (mut from, mut to) = (start, start + size);
        // SAFETY: the caller gives back a block this heap handed out, below its region's
        // top, so the units just outside it lie below the top (where the bitmap is zeroed)
        // or are the top itself; an edge bit there marks the last unit of a free block
        // below or the first of one above, whose size is recorded.
        unsafe {
            if from > region.start && region.is_edge(from - UNIT) {
                let below = from - ((from - 8) as *const usize).read();
                self.unlink(&region, below as *mut FreeBlock);
                from = below;
            }
            if to == region.top {
                self.regions[region_index].top = from;
            } else {
                if region.is_edge(to) {
                    let above = to as *mut FreeBlock;
                    to += (*above).size;
                    self.unlink(&region, above);
                }
                self.insert(&region, from, to - from);
            }
        }
        self.stats.free += size;
    }

    /// The region that holds `address`.
    fn region_of(&self, address: usize) -> Option<Region> {
        self.region_index(address).map(|index| self.regions[index])
    }

    fn region_index(&self, address: usize) -> Option<usize> {
        self.regions[..self.region_count]
            .iter()
            .position(|r| (r.start..r.end).contains(&address))
    }

    /// The first of at most `looks` blocks of `bin` that a block of `size` bytes aligned
    /// to `align` fits in, and where in it that block starts.
    fn find(
        &self,
        bin: usize,
        size: usize,
        align: usize,
        looks: usize,
    ) -> Option<(*mut FreeBlock, usize)> {
        let mut block = self.bins[bin];
        for _ in 0..looks {
            if block.is_null() {
                return None;
            }
            // SAFETY: a listed block is a live free block holding its size and links.
            let (room, next) = unsafe { ((*block).size, (*block).next) };
            if let Some(start) = fit(block as usize, room, size, align) {
                return Some((block, start));
            }
            block = next;
        }
        None
    }

    /// Lists `[start, start + size)` as a free block, without merging.
    ///
    /// # Safety
    /// The range must be unused memory of `region`, aligned to UNIT and a multiple of UNIT
    /// long, whose neighbours are not free blocks.
    unsafe fn insert(&mut self, region: &Region, start: usize, size: usize) {
        let bin = bin_of(size);
        let block = start as *mut FreeBlock;
        let next = self.bins[bin];
        // SAFETY: the range is ours and at least UNIT bytes, room for the header and,
        // in its last 8 bytes, the size again; `next` is a listed block.
        unsafe {
            block.write(FreeBlock {
                size,
                next,
                prev: ptr::null_mut(),
            });
            ((start + size - 8) as *mut usize).write(size);
            if !next.is_null() {
                (*next).prev = block;
            }
        }
        self.bins[bin] = block;
        self.filled |= 1 << bin;
        region.set_edge(start, true);
        region.set_edge(start + size - UNIT, true);
    }

    /// Takes a listed free block off its bin.
    ///
    /// # Safety
    /// `block` must be a listed free block of `region`.
    unsafe fn unlink(&mut self, region: &Region, block: *mut FreeBlock) {
        // SAFETY: listed blocks hold valid links to listed blocks.
        let (size, next, prev) = unsafe { ((*block).size, (*block).next, (*block).prev) };
        let bin = bin_of(size);
        // SAFETY: as above.
        unsafe {
            if !next.is_null() {
                (*next).prev = prev;
            }
            if prev.is_null() {
                self.bins[bin] = next;
            } else {
                (*prev).next = next;
            }
        }
        if self.bins[bin].is_null() {
            self.filled &= !(1 << bin);
        }
        let start = block as usize;
        region.set_edge(start, false);
        region.set_edge(start + size - UNIT, false);
    }
}

#[cfg(test)]
mod tests {
    use core::alloc::Layout;
    use core::mem::MaybeUninit;

    use super::{BINS, Heap, Stats, UNIT, bin_above, bin_floor, bin_of};

    /// A heap over `bytes` of memory full of garbage: nothing may count on zeroes.
    fn heap(bytes: usize) -> Heap {
        let region = Box::leak(vec![MaybeUninit::new(0xa5); bytes].into_boxed_slice());
        let mut heap = Heap::empty();
        heap.add_region(region);
        heap
    }

    #[test]
    fn serves_alignment_and_merges_everything_back() {
        let mut heap = heap(64 * 1024);
        let Stats { total, free, peak } = heap.stats();
        assert_eq!(total, free);
        assert_eq!(peak, 0);
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
        // The peak stays where the three blocks took the heap.
        assert_eq!(heap.stats().peak, 32 + 4096 + 32);
        // Merged back into one block: the whole heap can be allocated at once.
        assert!(
            heap.allocate(Layout::from_size_align(total, 16).unwrap())
                .is_some()
        );
    }

    #[test]
    fn a_little_use_touches_only_the_start_of_a_region() {
        let bytes = 1024 * 1024;
        let region = Box::leak(vec![MaybeUninit::new(0xa5u8); bytes].into_boxed_slice());
        let start = region.as_ptr() as usize;
        let far_half = region[bytes / 2..].as_ptr().cast::<u8>();
        let mut heap = Heap::empty();
        heap.add_region(region);
        let layouts = [
            Layout::from_size_align(24, 8).unwrap(),
            Layout::from_size_align(64 * 1024, 64 * 1024).unwrap(),
            Layout::from_size_align(3000, 64).unwrap(),
        ];
        let blocks: Vec<_> = layouts.iter().map(|&l| heap.allocate(l).unwrap()).collect();
        assert!(
            blocks[0].as_ptr() as usize - start <= bytes / 256 + UNIT,
            "the blocks begin right after the bitmap"
        );
        for (block, layout) in blocks.into_iter().zip(layouts) {
            // SAFETY: each block came from this heap with this layout, freed once.
            unsafe { heap.deallocate(block, layout) };
        }
        // SAFETY: the region is leaked, so its far half is still there to read; the heap
        // only ever wrote to the bytes it gave out and to its bitmap.
        let untouched = unsafe { core::slice::from_raw_parts(far_half, bytes / 2) };
        assert!(
            untouched.iter().all(|&b| b == 0xa5),
            "neither the blocks nor their bitmap reached the far half"
        );
    }

    #[test]
    fn bins_cover_every_size_in_order() {
        let mut size = UNIT;
        while size < 1 << 36 {
            let bin = bin_of(size);
            assert!(bin_floor(bin) <= size, "{size} below its bin");
            assert!(size < bin_floor(bin + 1), "{size} above its bin");
            assert!(bin_floor(bin_above(size)) >= size);
            assert!(bin_above(size) <= bin + 1);
            size += size / 7 / UNIT * UNIT + UNIT;
        }
        assert_eq!(bin_of(usize::MAX & !(UNIT - 1)), BINS - 1);
    }

    #[test]
    fn a_stack_sized_hole_is_used_again() {
        let mut heap = heap(1024 * 1024);
        let stack = Layout::from_size_align(12 * 1024, 4096).unwrap();
        let blocks: Vec<_> = (0..3).map(|_| heap.allocate(stack).unwrap()).collect();
        // SAFETY: the block came from this heap with this layout.
        unsafe { heap.deallocate(blocks[1], stack) };
        assert_eq!(heap.allocate(stack), Some(blocks[1]));
    }

    #[test]
    fn blocks_freed_in_any_order_merge_back() {
        let mut heap = heap(8 * 1024 * 1024);
        let total = heap.stats().total;
        let layout = Layout::from_size_align(3000, 64).unwrap();
        let blocks: Vec<_> = (0..2000).map(|_| heap.allocate(layout).unwrap()).collect();
        let (odd, even): (Vec<_>, Vec<_>) =
            blocks.iter().enumerate().partition(|(i, _)| i % 2 == 1);
        for (_, block) in odd.into_iter().rev().chain(even) {
            // SAFETY: each block came from this heap with this layout, freed once.
            unsafe { heap.deallocate(*block, layout) };
        }
        assert_eq!(heap.stats().free, total);
        assert!(
            heap.allocate(Layout::from_size_align(total, 16).unwrap())
                .is_some()
        );
    }

    #[test]
    fn regions_stay_apart_and_a_fifth_is_left_out() {
        let mut heap = Heap::empty();
        let mut sizes = Vec::new();
        for _ in 0..5 {
            let before = heap.stats().total;
            heap.add_region(Box::leak(
                vec![MaybeUninit::new(0xff); 64 * 1024].into_boxed_slice(),
            ));
            sizes.push(heap.stats().total - before);
        }
        assert_eq!(sizes[4], 0, "the fifth region is left out");
        let smallest = *sizes[..4].iter().min().unwrap();
        assert!(smallest > 60 * 1024);
        let whole = Layout::from_size_align(smallest, 16).unwrap();
        let blocks: Vec<_> = (0..4).map(|_| heap.allocate(whole).unwrap()).collect();
        assert_eq!(heap.allocate(whole), None);
        for block in blocks {
            // SAFETY: as above.
            unsafe { heap.deallocate(block, whole) };
        }
        assert_eq!(heap.stats().free, heap.stats().total);
        assert_eq!(
            heap.allocate(Layout::from_size_align(2 * smallest, 16).unwrap()),
            None,
            "regions do not merge"
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
