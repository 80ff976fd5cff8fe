//! Which boot protocol entered the image: each board is built for one, and says so at once
//! when another loader entered it (an image whose board note was changed, or a hypervisor
//! that picked the other protocol), instead of reading the wrong structure.

use core::fmt;

/// The magic number at the start of PVH's `hvm_start_info`, to which `ebx` points.
pub const PVH_MAGIC: u32 = 0x336e_c578;
/// The magic number a Multiboot loader leaves in `eax`.
pub const MULTIBOOT_MAGIC: u32 = 0x2bad_b002;

/// A boot protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loader {
    /// PVH: `ebx` points at `hvm_start_info` (`eax` is undefined).
    Pvh,
    /// Multiboot (version 1): the magic number in `eax`, the information at `ebx`.
    Multiboot,
    /// Neither.
    Unknown,
}

impl Loader {
    /// The protocol, from the loader's `eax` and the 32 bits `ebx` points at (`None` when
    /// `ebx` points at no readable memory). PVH leaves `eax` undefined, so its start info
    /// is asked first.
    pub fn identify(eax: u32, at_ebx: Option<u32>) -> Self {
        if at_ebx == Some(PVH_MAGIC) {
            Self::Pvh
        } else if eax == MULTIBOOT_MAGIC {
            Self::Multiboot
        } else {
            Self::Unknown
        }
    }

    /// The protocol that entered the image, from the loader's `ebx` (`boot_info`) and
    /// `eax`, as the long-mode entry hands them to the board.
    ///
    /// # Safety
    /// Physical memory from 4 KiB to 4 GiB must be identity-mapped and readable.
    pub unsafe fn at_entry(boot_info: u64, eax: u64) -> Self {
        let at_ebx = usize::try_from(boot_info)
            .ok()
            .filter(|address| (0x1000..(1 << 32) - 4).contains(address))
            // SAFETY: the caller vouches for the memory; 4 bytes below 4 GiB are readable.
            .map(|address| unsafe { (address as *const u32).read_unaligned() });
        Self::identify(eax as u32, at_ebx)
    }
}

impl fmt::Display for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pvh => "PVH",
            Self::Multiboot => "Multiboot",
            Self::Unknown => "an unknown loader (neither PVH start info nor the Multiboot magic)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Loader, MULTIBOOT_MAGIC, PVH_MAGIC};

    #[test]
    fn tells_the_protocols_apart() {
        assert_eq!(Loader::identify(0x1234, Some(PVH_MAGIC)), Loader::Pvh);
        assert_eq!(
            Loader::identify(MULTIBOOT_MAGIC, Some(0x4f)),
            Loader::Multiboot
        );
        assert_eq!(Loader::identify(MULTIBOOT_MAGIC, None), Loader::Multiboot);
        assert_eq!(Loader::identify(0, Some(0)), Loader::Unknown);
        assert_eq!(Loader::identify(PVH_MAGIC, None), Loader::Unknown);
        assert_eq!(Loader::Pvh.to_string(), "PVH");
    }

    #[test]
    fn an_unreadable_ebx_is_not_read() {
        // SAFETY: neither address is in the range `at_entry` reads.
        let (page_zero, high) = unsafe {
            (
                Loader::at_entry(0x10, u64::from(MULTIBOOT_MAGIC)),
                Loader::at_entry(1 << 40, 0),
            )
        };
        assert_eq!(page_zero, Loader::Multiboot);
        assert_eq!(high, Loader::Unknown);
    }
}
