//! Guard pages in the live page tables.
//!
//! The boot tables map the first 4 GiB one to one, mostly in 2 MiB pages. To make one
//! 4 KiB page fault, [`PageGuard`] walks the tables from CR3; where the page lies in a
//! larger page, it splits that page into a table of 512 smaller ones that map the same
//! memory the same way, then clears the guard page's present bit and drops its TLB
//! entry. The guard page's entry keeps its address, so [`PageGuard::unprotect`] only sets
//! the bit again.
//!
//! The walk reads tables through their physical addresses, which is right while physical
//! memory is identity-mapped. Host tests build tables in host memory, where a table's
//! "physical" address is its host address.

use core::sync::atomic::{AtomicBool, Ordering};

use hal::memory::{GuardError, GuardPages, PAGE_SIZE, Page};

use crate::x86_64::instructions;

/// An entry maps something (or points at a table).
const PRESENT: u64 = 1;
/// The CPU has used an entry for a translation (and may have cached it).
const ACCESSED: u64 = 1 << 5;
/// An entry in a page directory or PDPT maps a large page instead of pointing at a table.
const LARGE: u64 = 1 << 7;
/// The PAT bit of a 4 KiB page's entry.
const PAT_SMALL: u64 = 1 << 7;
/// The PAT bit of a large page's entry.
const PAT_LARGE: u64 = 1 << 12;
/// The address bits of an entry.
const ADDRESS: u64 = 0x000f_ffff_ffff_f000;
/// The flags a table pointer takes over from the large page it replaces: present,
/// writable, user. The rest (caching, global, dirty) belong to the pages.
const POINTER_FLAGS: u64 = 0b111;

/// One page table: 512 entries.
type Table = [u64; 512];

/// Held while the tables change: every core shares them.
static LOCK: AtomicBool = AtomicBool::new(false);

/// Guard pages in the page tables CR3 points at.
#[derive(Clone, Copy, Debug, Default)]
pub struct PageGuard(());

impl PageGuard {
    /// Guard pages for tables that identity-map physical memory.
    ///
    /// # Safety
    /// Physical memory must stay identity-mapped, and nothing else may change the page
    /// tables while a `PageGuard` is in use.
    pub unsafe fn new() -> Self {
        Self(())
    }
}

/// Runs `f` with the page-table lock held.
fn locked<T>(f: impl FnOnce() -> T) -> T {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    let result = f();
    LOCK.store(false, Ordering::Release);
    result
}

fn root() -> *mut Table {
    (instructions::cr3() & ADDRESS) as *mut Table
}

impl GuardPages for PageGuard {
    fn protect(
        &self,
        page: usize,
        table: &mut dyn FnMut() -> Option<&'static mut Page>,
    ) -> Result<(), GuardError> {
        // SAFETY: `new`'s caller vouched for the identity mapping, and the lock keeps other
        // cores out of the tables.
        locked(|| unsafe { protect(root(), page, table) })?;
        instructions::invlpg(page);
        Ok(())
    }

    fn unprotect(&self, page: usize) {
        // SAFETY: as in `protect`.
        if locked(|| unsafe { unprotect(root(), page) }) {
            instructions::invlpg(page);
        }
    }
}

/// Runs `f` with page 0 mapped read-only, then unmaps it again: loaders may leave their
/// boot information there (SeaBIOS's microvm firmware puts the PVH memory map at 0x5a8),
/// while the kernel keeps page 0 unmapped so that null pointers fault.
///
/// # Safety
/// The live tables must be the boot tables (page 0 in a 4 KiB page table, not present),
/// on the boot core before any other core runs; `f` must keep no reference into page 0.
pub unsafe fn with_null_page<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: the caller's promise: the boot tables identity-map and nothing else changes
    // them now; the first 2 MiB are in 4 KiB pages, so no table is needed.
    let Ok(entry) = (unsafe { leaf(root(), 0, &mut || None) }) else {
        return f();
    };
    // No `invlpg` after mapping: a CPU caches no translation for a page that is not
    // present. Under TCG each `invlpg` here empties the whole soft TLB (page 0 lies inside
    // the range of the large pages QEMU tracks), which a boot then pays for in refills.
    // SAFETY: `leaf` returns a pointer into a live table; page 0 maps to address 0.
    unsafe { entry.write_volatile(PRESENT) };
    let result = f();
    // SAFETY: as above.
    let used = unsafe { entry.read_volatile() } & ACCESSED != 0;
    // SAFETY: as above.
    unsafe { entry.write_volatile(0) };
    // The CPU sets the accessed bit before it caches a translation: without it there is
    // nothing to drop.
    if used {
        instructions::invlpg(0);
    }
    result
}

/// The index of `address` in the table of level `level` (4: PML4 ... 1: page table).
fn index(address: usize, level: u32) -> usize {
    (address >> (12 + 9 * (level - 1))) & 0x1ff
}

/// The 512 entries that map, in pages one level smaller, what the large-page entry
/// `large` of level `level` (2 or 3) maps.
pub fn split(large: u64, level: u32) -> impl Iterator<Item = u64> {
    let small = 1u64 << (12 + 9 * (level - 2));
    let base = large & ADDRESS & !(PAT_LARGE);
    let mut flags = large & !ADDRESS & !PAT_LARGE;
    if level == 2 {
        // The 4 KiB entries have no large bit, and their PAT bit is where it was.
        flags &= !LARGE;
        if large & PAT_LARGE != 0 {
            flags |= PAT_SMALL;
        }
    } else if large & PAT_LARGE != 0 {
        flags |= PAT_LARGE;
    }
    (0..512).map(move |i| (base + i * small) | flags)
}

/// Walks from `root` to the 4 KiB entry of `page`, splitting large pages on the way with
/// tables from `table`, and returns a pointer to it.
///
/// # Safety
/// `root` must point at a live PML4 whose tables are reachable at their physical
/// addresses, and nothing else may change them meanwhile.
unsafe fn leaf(
    root: *mut Table,
    page: usize,
    table: &mut dyn FnMut() -> Option<&'static mut Page>,
) -> Result<*mut u64, GuardError> {
    let mut current = root;
    for level in (2..=4).rev() {
        // SAFETY: `current` is a live table (the root, or one an entry points at).
        let entry = unsafe { &mut (*current)[index(page, level)] };
        if *entry & PRESENT == 0 {
            return Err(GuardError::BadAddress);
        }
        if *entry & LARGE != 0 && level != 4 {
            let new = table().ok_or(GuardError::OutOfMemory)?;
            let new = (new as *mut Page).cast::<u64>();
            for (i, small) in split(*entry, level).enumerate() {
                // SAFETY: the page is 4 KiB of 512 entries, ours from now on.
                unsafe { new.add(i).write(small) };
            }
            // The new table is complete before the entry points at it.
            core::sync::atomic::fence(Ordering::Release);
            *entry = new as u64 | (*entry & POINTER_FLAGS);
        }
        current = (*entry & ADDRESS) as *mut Table;
    }
    // SAFETY: `current` is now the page table that maps `page`.
    Ok(unsafe { &raw mut (*current)[index(page, 1)] })
}

/// Clears the present bit of `page`'s 4 KiB entry in the tables at `root`.
///
/// # Safety
/// As for [`leaf`].
pub unsafe fn protect(
    root: *mut Table,
    page: usize,
    table: &mut dyn FnMut() -> Option<&'static mut Page>,
) -> Result<(), GuardError> {
    if !page.is_multiple_of(PAGE_SIZE) {
        return Err(GuardError::BadAddress);
    }
    // SAFETY: the caller's promise.
    let entry = unsafe { leaf(root, page, table)? };
    // SAFETY: `leaf` returns a pointer into a live table.
    unsafe {
        // An entry that never mapped anything (page 0) is not memory; one that keeps its
        // address without the present bit is a guard page already.
        if *entry & ADDRESS == 0 && *entry & PRESENT == 0 {
            return Err(GuardError::BadAddress);
        }
        *entry &= !PRESENT;
    }
    Ok(())
}

/// Sets the present bit of `page`'s 4 KiB entry again, if it has one; true when it
/// changed.
///
/// # Safety
/// As for [`leaf`].
pub unsafe fn unprotect(root: *mut Table, page: usize) -> bool {
    // A page that was never split was never protected: no table is needed to find it.
    // SAFETY: the caller's promise.
    let Ok(entry) = (unsafe { leaf(root, page & !(PAGE_SIZE - 1), &mut || None) }) else {
        return false;
    };
    // SAFETY: `leaf` returns a pointer into a live table.
    unsafe {
        if *entry & ADDRESS == 0 || *entry & PRESENT != 0 {
            return false;
        }
        *entry |= PRESENT;
    }
    true
}

#[cfg(test)]
mod tests {
    use hal::memory::{GuardError, Page};

    use super::{ADDRESS, LARGE, Table, protect, split, unprotect};

    fn page() -> &'static mut Page {
        Box::leak(Box::new(Page([0; 4096])))
    }

    fn table() -> *mut Table {
        (page() as *mut Page).cast()
    }

    /// A PML4 → PDPT → PD whose entry 1 maps 2 MiB at 0x20_0000 as one large page, and
    /// whose entry 0 points at a page table with page 0 absent, as the boot tables do.
    fn tables() -> (*mut Table, *mut Table) {
        let (pml4, pdpt, pd, pt) = (table(), table(), table(), table());
        // SAFETY: four fresh, leaked tables.
        unsafe {
            (*pml4)[0] = pdpt as u64 | 3;
            (*pdpt)[0] = pd as u64 | 3;
            (*pd)[0] = pt as u64 | 3;
            for i in 1..512 {
                (*pt)[i] = (i as u64) << 12 | 3;
            }
            (*pd)[1] = 0x20_0000 | LARGE | 3;
        }
        (pml4, pd)
    }

    #[test]
    fn split_keeps_the_mapping_and_moves_the_pat_bit() {
        let entries: Vec<u64> = split(0x20_0000 | 1 << 12 | LARGE | 1 << 8 | 3, 2).collect();
        assert_eq!(entries.len(), 512);
        assert_eq!(entries[0], 0x20_0000 | 1 << 7 | 1 << 8 | 3);
        assert_eq!(entries[511], 0x3f_f000 | 1 << 7 | 1 << 8 | 3);
        let gib: Vec<u64> = split(0x4000_0000 | LARGE | 3, 3).collect();
        assert_eq!(gib[1], 0x4020_0000 | LARGE | 3);
    }

    #[test]
    fn protecting_splits_a_large_page_once_and_clears_one_entry() {
        let (root, pd) = tables();
        let mut given = 0;
        let mut alloc = || {
            given += 1;
            Some(page())
        };
        // SAFETY: the tables are live host memory built above.
        unsafe {
            assert_eq!(protect(root, 0x20_3000, &mut alloc), Ok(()));
            assert_eq!(protect(root, 0x20_5000, &mut alloc), Ok(()));
            let pt = ((*pd)[1] & ADDRESS) as *const Table;
            assert_eq!((*pd)[1] & LARGE, 0);
            assert_eq!((*pt)[2], 0x20_2000 | 3);
            assert_eq!((*pt)[3], 0x20_3000 | 2, "guarded: not present");
            assert_eq!((*pt)[5], 0x20_5000 | 2);
            assert!(unprotect(root, 0x20_3000));
            assert_eq!((*pt)[3], 0x20_3000 | 3);
            assert!(!unprotect(root, 0x20_3000), "not a guard page any more");
        }
        assert_eq!(given, 1, "one table for one split");
    }

    #[test]
    fn refuses_what_is_not_mapped_memory() {
        let (root, _) = tables();
        let mut none = || None;
        // SAFETY: as above.
        unsafe {
            assert_eq!(
                protect(root, 0x20_3001, &mut none),
                Err(GuardError::BadAddress)
            );
            assert_eq!(protect(root, 0, &mut none), Err(GuardError::BadAddress));
            assert_eq!(
                protect(root, 0x4000_0000, &mut none),
                Err(GuardError::BadAddress)
            );
            assert_eq!(
                protect(root, 0x20_3000, &mut none),
                Err(GuardError::OutOfMemory)
            );
            assert!(!unprotect(root, 0x20_3000), "never protected");
            // A page in the small pages needs no table.
            assert_eq!(protect(root, 0x1000, &mut none), Ok(()));
            assert!(unprotect(root, 0x1000));
        }
    }
}
