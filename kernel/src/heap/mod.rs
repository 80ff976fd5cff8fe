//! The kernel heap: per-core caches of small blocks in front of one shared heap.
//!
//! An allocation of up to 2 KiB is served by the current core's cache with no lock
//! ([`percore`]); larger ones, and the caches' 64 KiB spans, come from the shared heap
//! ([`shared`]) under a lock, in a few steps however many blocks are free.

mod percore;
mod shared;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

use percore::{CoreCache, SPAN, class_of, owner_of};
pub use shared::{Heap, Stats};
use spin::Mutex;

/// The most cores the caches serve; the cores past it use the shared heap for everything.
const MAX_CORES: usize = 64;

/// The heap behind `alloc` in the kernel image.
struct KernelHeap {
    shared: Mutex<Heap>,
    caches: [UnsafeCell<CoreCache>; MAX_CORES],
}

// SAFETY: `shared` is locked; each cache is used by its own core only (allocation never
// blocks or yields, and interrupt handlers do not allocate, so one core never runs two
// cache operations at once), and other cores touch only its atomic `remote` stack.
unsafe impl Sync for KernelHeap {}

impl KernelHeap {
    fn cache(&self, core: usize) -> Option<*mut CoreCache> {
        self.caches.get(core).map(UnsafeCell::get)
    }

    fn new_span(&self) -> Option<NonNull<u8>> {
        // A constant, valid layout.
        let layout = Layout::from_size_align(SPAN, SPAN).ok()?;
        self.shared.lock().allocate(layout)
    }
}

// SAFETY: the caches and the shared heap hand out disjoint blocks of at least the requested
// size and alignment, and take back only what they handed out (see `percore`).
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let core = crate::sched::current_core();
        let block = match (class_of(layout), self.cache(core)) {
            // SAFETY: this core's own cache, per the Sync argument above.
            (Some(class), Some(cache)) => unsafe {
                (*cache).allocate(core, class, || self.new_span())
            },
            _ => self.shared.lock().allocate(layout),
        };
        block.map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(block) = NonNull::new(block) else {
            return;
        };
        let core = crate::sched::current_core();
        crate::sched::as_kernel(core, || match (class_of(layout), self.cache(core)) {
            (Some(class), Some(local)) => {
                // SAFETY: GlobalAlloc's contract: the block came from `alloc` with this
                // layout, so from a cache, whose span names its owner.
                let owner = unsafe { owner_of(block) };
                match self.cache(owner) {
                    // SAFETY: our own cache, and our own block.
                    Some(_) if owner == core => unsafe { (*local).free_local(class, block) },
                    // SAFETY: the owner's cache; `free_remote` only touches its atomic stack.
                    Some(owner) => unsafe { (*owner).free_remote(block) },
                    None => {}
                }
            }
            // SAFETY: GlobalAlloc's contract: a block of the shared heap with this layout.
            _ => unsafe { self.shared.lock().deallocate(block, layout) },
        });
    }
}

#[cfg_attr(target_os = "none", global_allocator)]
static HEAP: KernelHeap = KernelHeap {
    shared: Mutex::new(Heap::empty()),
    caches: [const { UnsafeCell::new(CoreCache::new()) }; MAX_CORES],
};

/// The size of the first of the two regions the boot memory is split into: what a boot
/// with a few cores allocates. Each region's bitmap lies at its start, so the first one's
/// is small and its blocks begin near the image; a boot then touches no memory far from
/// it, whose first touch can cost a hypervisor a fresh host page (0.3 ms under TCG).
const FIRST_REGION: usize = 1 << 20;

/// Gives the kernel heap its memory (once, at boot).
pub(crate) fn init(region: &'static mut [MaybeUninit<u8>]) {
    let mut heap = HEAP.shared.lock();
    if region.len() > 2 * FIRST_REGION {
        let (first, rest) = region.split_at_mut(FIRST_REGION);
        heap.add_region(first);
        heap.add_region(rest);
    } else {
        heap.add_region(region);
    }
}

/// How much of the shared heap is in use; blocks in the per-core caches count as used.
pub fn stats() -> Stats {
    HEAP.shared.lock().stats()
}

/// As [`stats`], unless another core holds the heap's lock: for a failure report, which
/// must not wait on a lock its failing code may hold.
pub(crate) fn try_stats() -> Option<Stats> {
    HEAP.shared.try_lock().map(|heap| heap.stats())
}
