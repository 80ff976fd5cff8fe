//! Per-core caches of small blocks: the fast path of the allocator, with no lock.
//!
//! Blocks of up to [`MAX_SMALL`] bytes come in power-of-two size classes. Each core carves
//! them out of 64 KiB spans it takes from the shared heap; a span's header names the core
//! that owns it and its class. A core frees its own blocks onto its own free lists. A
//! block freed on another core goes onto its owner's `remote` stack, lock-free, and the
//! owner takes those back the next time its free list of that class runs dry. (Toro pushes
//! such blocks straight onto the owner's free list, unlocked, which races with the owner.)
//!
//! Spans are not given back to the shared heap.

use core::alloc::Layout;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};

/// The size and alignment of a span.
pub(super) const SPAN: usize = 64 * 1024;
/// The largest block the caches serve.
pub(super) const MAX_SMALL: usize = 2048;
/// The number of size classes: 16, 32, ... 2048 bytes.
const CLASSES: usize = 8;
const MIN_SHIFT: u32 = 4;

/// What the start of a span says about it.
#[repr(C)]
struct SpanHeader {
    owner: usize,
    class: usize,
}

struct FreeNode {
    next: *mut FreeNode,
}

/// The size class of `layout`, if the caches serve it.
pub(super) fn class_of(layout: Layout) -> Option<usize> {
    let need = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    (need <= MAX_SMALL).then(|| (need.next_power_of_two().trailing_zeros() - MIN_SHIFT) as usize)
}

const fn class_size(class: usize) -> usize {
    1 << (class as u32 + MIN_SHIFT)
}

/// The core that owns the span `block` lies in.
///
/// # Safety
/// `block` must come from some core's [`CoreCache::allocate`].
pub(super) unsafe fn owner_of(block: NonNull<u8>) -> usize {
    let header = (block.as_ptr() as usize & !(SPAN - 1)) as *const SpanHeader;
    // SAFETY: every cached block lies in a span whose first bytes are its header.
    unsafe { (*header).owner }
}

/// One core's cache.
pub(super) struct CoreCache {
    free: [*mut FreeNode; CLASSES],
    /// The unused tail of the newest span of each class: next block, end.
    fresh: [(usize, usize); CLASSES],
    /// Blocks of this core's spans freed by other cores.
    remote: AtomicPtr<FreeNode>,
}

impl CoreCache {
    pub(super) const fn new() -> Self {
        Self {
            free: [ptr::null_mut(); CLASSES],
            fresh: [(0, 0); CLASSES],
            remote: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// A block of size class `class`, from the free list, the blocks other cores gave
    /// back, the newest span, or a new span from `new_span` (a `SPAN`-aligned `SPAN`
    /// bytes), in that order.
    ///
    /// # Safety
    /// Only the core numbered `core` calls this, and only on its own cache.
    pub(super) unsafe fn allocate(
        &mut self,
        core: usize,
        class: usize,
        new_span: impl FnOnce() -> Option<NonNull<u8>>,
    ) -> Option<NonNull<u8>> {
        if self.free[class].is_null() {
            // SAFETY: this core's own cache, per the caller.
            unsafe { self.take_back_remote() };
        }
        let head = self.free[class];
        if !head.is_null() {
            // SAFETY: free-list nodes are free blocks of this cache, holding their link.
            self.free[class] = unsafe { (*head).next };
            return NonNull::new(head.cast());
        }
        let size = class_size(class);
        let (next, end) = self.fresh[class];
        if next != 0 && next + size <= end {
            self.fresh[class].0 = next + size;
            return NonNull::new(next as *mut u8);
        }
        let span = new_span()?;
        let base = span.as_ptr() as usize;
        // SAFETY: a fresh span of SPAN bytes is ours; its first bytes become the header,
        // which the first block slot (at least 16 bytes) leaves room for.
        unsafe {
            span.as_ptr()
                .cast::<SpanHeader>()
                .write(SpanHeader { owner: core, class })
        };
        self.fresh[class] = (base + 2 * size, base + SPAN);
        NonNull::new((base + size) as *mut u8)
    }

    /// Puts a block of this core's back on its free list.
    ///
    /// # Safety
    /// Only this cache's core calls this, with a block of `class` from this cache that is
    /// no longer used.
    pub(super) unsafe fn free_local(&mut self, class: usize, block: NonNull<u8>) {
        let node = block.as_ptr().cast::<FreeNode>();
        // SAFETY: the block is free and at least 16 bytes, room for the link.
        unsafe {
            node.write(FreeNode {
                next: self.free[class],
            })
        };
        self.free[class] = node;
    }

    /// Gives a block of this cache back from another core.
    ///
    /// # Safety
    /// `block` must come from this cache and no longer be used.
    pub(super) unsafe fn free_remote(&self, block: NonNull<u8>) {
        let node = block.as_ptr().cast::<FreeNode>();
        let mut head = self.remote.load(Ordering::Relaxed);
        loop {
            // SAFETY: the block is free and ours to write until it is published below.
            unsafe { node.write(FreeNode { next: head }) };
            match self.remote.compare_exchange_weak(
                head,
                node,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Moves the blocks other cores gave back onto this core's free lists.
    ///
    /// # Safety
    /// Only this cache's core calls this.
    unsafe fn take_back_remote(&mut self) {
        let mut node = self.remote.swap(ptr::null_mut(), Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: every node on the stack is a free block of one of this core's spans,
            // published with Release by `free_remote`.
            unsafe {
                let next = (*node).next;
                let header = (node as usize & !(SPAN - 1)) as *const SpanHeader;
                let class = (*header).class;
                (*node).next = self.free[class];
                self.free[class] = node;
                node = next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{Layout, alloc, dealloc};
    use std::collections::HashSet;
    use std::ptr::NonNull;

    use super::{CoreCache, MAX_SMALL, SPAN, class_of, owner_of};

    /// Spans from the host allocator, freed at the end.
    struct Spans(Vec<NonNull<u8>>);

    impl Spans {
        fn take(&mut self) -> Option<NonNull<u8>> {
            // SAFETY: a non-zero layout.
            let span =
                NonNull::new(unsafe { alloc(Layout::from_size_align(SPAN, SPAN).unwrap()) })?;
            self.0.push(span);
            Some(span)
        }
    }

    impl Drop for Spans {
        fn drop(&mut self) {
            for span in &self.0 {
                // SAFETY: allocated in `take` with this layout.
                unsafe { dealloc(span.as_ptr(), Layout::from_size_align(SPAN, SPAN).unwrap()) };
            }
        }
    }

    #[test]
    fn classes_cover_size_and_alignment() {
        let class = |size, align| class_of(Layout::from_size_align(size, align).unwrap());
        assert_eq!(class(1, 1), Some(0));
        assert_eq!(class(17, 8), Some(1));
        assert_eq!(class(8, 64), Some(2));
        assert_eq!(class(MAX_SMALL, 8), Some(7));
        assert_eq!(class(MAX_SMALL + 1, 8), None);
        assert_eq!(class(8, 4096), None);
    }

    #[test]
    fn blocks_freed_on_another_core_go_back_to_their_owner() {
        let mut spans = Spans(Vec::new());
        let mut core0 = CoreCache::new();
        let mut core1 = CoreCache::new();
        // SAFETY: each cache is used as "its" core only, with blocks it handed out.
        unsafe {
            let a = core0.allocate(0, 2, || spans.take()).unwrap();
            let b = core0.allocate(0, 2, || spans.take()).unwrap();
            assert_ne!(a, b);
            assert_eq!(owner_of(a), 0);
            assert_eq!(a.as_ptr() as usize % 64, 0);
            // Core 1 frees core 0's block: it goes to core 0's remote stack, not core 1's.
            core0.free_remote(a);
            let c = core1.allocate(1, 2, || spans.take()).unwrap();
            assert_eq!(owner_of(c), 1);
            assert_ne!(c, a, "core 1 must not hand out core 0's block");
            // Core 0 runs dry of fresh blocks only after its span; but its free list is
            // empty, so it takes the remote block back first.
            assert_eq!(core0.allocate(0, 2, || spans.take()), Some(a));
            core0.free_local(2, b);
            assert_eq!(core0.allocate(0, 2, || spans.take()), Some(b));
        }
    }

    #[test]
    fn many_blocks_stay_distinct_across_spans() {
        let mut spans = Spans(Vec::new());
        let mut cache = CoreCache::new();
        let mut seen = HashSet::new();
        // SAFETY: one cache, one core, its own blocks.
        unsafe {
            for _ in 0..5000 {
                let block = cache.allocate(3, 3, || spans.take()).unwrap();
                assert!(
                    seen.insert(block.as_ptr() as usize),
                    "a block was handed out twice"
                );
                assert_eq!(owner_of(block), 3);
            }
        }
        assert!(spans.0.len() >= 5000 * 128 / SPAN);
    }
}
