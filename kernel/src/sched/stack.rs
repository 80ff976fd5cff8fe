//! Thread stacks: heap memory with a guard page at the bottom, so that an overflow faults
//! instead of overwriting whatever lies below.

use alloc::alloc::{alloc, dealloc};
use core::alloc::Layout;
use core::ptr::NonNull;

use hal::memory::{PAGE_SIZE, Page};

use crate::sched::machine;

/// A thread's stack: `[base, base + PAGE_SIZE)` is the guard page, the rest is the stack.
#[derive(Debug)]
pub(crate) struct Stack {
    base: NonNull<u8>,
    layout: Layout,
    guarded: bool,
}

// SAFETY: a stack is plain memory owned by one thread; moving the owner moves the memory.
unsafe impl Send for Stack {}

impl Stack {
    /// A stack of at least `size` usable bytes, or `None` when the heap is out of memory.
    pub(crate) fn new(size: usize) -> Option<Self> {
        let usable = size.max(PAGE_SIZE).checked_next_multiple_of(PAGE_SIZE)?;
        let layout = Layout::from_size_align(usable.checked_add(PAGE_SIZE)?, PAGE_SIZE).ok()?;
        // SAFETY: the layout has a non-zero size.
        let base = NonNull::new(unsafe { alloc(layout) })?;
        Some(Self {
            base,
            layout,
            guarded: false,
        })
    }

    /// The stack proper, above the guard page.
    pub(crate) fn usable(&mut self) -> &mut [u8] {
        // SAFETY: the allocation is `layout.size()` bytes; the stack is all but the first
        // page, and only its thread (not yet running, or this call's caller) uses it.
        unsafe {
            core::slice::from_raw_parts_mut(
                self.base.as_ptr().add(PAGE_SIZE),
                self.layout.size() - PAGE_SIZE,
            )
        }
    }

    /// The address range of the guard page.
    pub(crate) fn guard_range(&self) -> core::ops::Range<u64> {
        let base = self.base.as_ptr() as u64;
        base..base + PAGE_SIZE as u64
    }

    /// The address range of the stack proper, above the guard page.
    pub(crate) fn range(&self) -> core::ops::Range<usize> {
        let base = self.base.as_ptr() as usize;
        base + PAGE_SIZE..base + self.layout.size()
    }

    /// Makes the guard page fault when touched; on the core that will run the thread.
    /// Returns `false` when the board could not (then the stack has no guard).
    pub(crate) fn protect(&mut self) -> bool {
        let page = self.base.as_ptr() as usize;
        self.guarded = machine().guard.protect(page, &mut table_page).is_ok();
        self.guarded
    }
}

/// A zeroed page for a page table, from the heap, kept for ever.
fn table_page() -> Option<&'static mut Page> {
    let layout = Layout::new::<Page>();
    // SAFETY: the layout has a non-zero size; a zeroed `Page` is a valid `Page`.
    let page = unsafe { alloc::alloc::alloc_zeroed(layout) }.cast::<Page>();
    // SAFETY: a fresh, aligned allocation of one `Page`, never freed.
    NonNull::new(page).map(|mut page| unsafe { page.as_mut() })
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.guarded {
            machine().guard.unprotect(self.base.as_ptr() as usize);
        }
        // SAFETY: allocated in `new` with this layout, and no thread runs on it any more.
        unsafe { dealloc(self.base.as_ptr(), self.layout) };
    }
}
