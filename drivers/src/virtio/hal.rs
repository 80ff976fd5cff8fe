//! [`VirtioHal`]: DMA memory and address translation for `virtio-drivers` on Novillo's
//! identity-mapped address space.

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use core::ptr::NonNull;

use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// DMA memory from the kernel heap, addresses as they are: Novillo maps memory (heap and
/// device registers below 4 GiB) at its physical address, so physical = virtual. The boards
/// refuse device registers above the mapped range before a transport asks for them.
#[derive(Debug)]
pub struct VirtioHal;

/// The layout of `pages` DMA pages, `None` for zero pages or an overflow.
fn pages_layout(pages: usize) -> Option<Layout> {
    let size = pages.checked_mul(PAGE_SIZE).filter(|&size| size > 0)?;
    Layout::from_size_align(size, PAGE_SIZE).ok()
}

// SAFETY: `dma_alloc` returns zeroed, page-aligned memory that nothing else uses until
// `dma_dealloc` (it comes from the global allocator); with the identity map the physical
// address the device gets is the driver's pointer, and the device sees memory coherently
// (x86), so `share` and `unshare` have nothing to copy.
unsafe impl Hal for VirtioHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let Some(layout) = pages_layout(pages) else {
            // Physical address 0 is how the crate learns that the allocation failed.
            return (0, NonNull::dangling());
        };
        // SAFETY: `layout` has a non-zero size.
        let memory = unsafe { alloc_zeroed(layout) };
        match NonNull::new(memory) {
            Some(vaddr) => (memory as PhysAddr, vaddr),
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        let Some(layout) = pages_layout(pages) else {
            return -1;
        };
        // SAFETY: the caller passes what `dma_alloc` returned for the same `pages`, which
        // came from `alloc_zeroed` with this layout and was not freed yet.
        unsafe { dealloc(vaddr.as_ptr(), layout) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // The PCI transport refuses a BAR at address 0 before it asks.
        NonNull::new(paddr as usize as *mut u8).expect("MMIO at physical address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.cast::<u8>().as_ptr() as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

#[cfg(test)]
mod tests {
    use core::ptr::NonNull;

    use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};

    use super::VirtioHal;

    #[test]
    fn dma_pages_are_aligned_zeroed_and_identity_mapped() {
        for pages in [1, 3] {
            let (paddr, vaddr) = VirtioHal::dma_alloc(pages, BufferDirection::Both);
            assert_eq!(paddr, vaddr.as_ptr() as u64, "physical = virtual");
            assert_eq!(paddr % PAGE_SIZE as u64, 0, "page-aligned");
            // SAFETY: `dma_alloc` handed out `pages` pages at `vaddr`, which nothing else uses.
            let bytes = unsafe { core::slice::from_raw_parts(vaddr.as_ptr(), pages * PAGE_SIZE) };
            assert!(bytes.iter().all(|&b| b == 0), "zeroed");
            // SAFETY: what `dma_alloc` returned, freed once.
            assert_eq!(unsafe { VirtioHal::dma_dealloc(paddr, vaddr, pages) }, 0);
        }
    }

    #[test]
    fn impossible_allocations_fail_without_panicking() {
        assert_eq!(VirtioHal::dma_alloc(0, BufferDirection::Both).0, 0);
        assert_eq!(VirtioHal::dma_alloc(usize::MAX, BufferDirection::Both).0, 0);
    }

    #[test]
    fn buffers_are_shared_at_their_own_address() {
        let mut buffer = [0u8; 8];
        let pointer = NonNull::from(&mut buffer[..]);
        // SAFETY: `buffer` outlives the share; nothing uses the address afterwards.
        let paddr = unsafe { VirtioHal::share(pointer, BufferDirection::DriverToDevice) };
        assert_eq!(paddr, buffer.as_ptr() as u64);
    }
}
