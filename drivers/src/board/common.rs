//! The boot path every x86_64 board shares once the long-mode entry
//! ([`crate::x86_64::entry`]) called it: what the loader said ([`BootData`]), the heap and
//! the memory check, and what every board finds the same way ([`find_common`]): the clock,
//! the cores and the interrupt controllers.

use core::mem::MaybeUninit;

use hal::memory::{self, Region};

use crate::board::wall;
use crate::platform::firmware::acpi::{self, Acpi};
use crate::platform::firmware::mptable;
use crate::platform::irq::lapic::MmioRegisters;
use crate::platform::smp::ApicCores;
use crate::x86_64::cpu;
use crate::x86_64::entry::{MAPPED_LIMIT, boot_tsc, image_end, memory_needed};
use crate::x86_64::gdt::CoreTables;
use crate::x86_64::idle::HaltIdle;
use crate::x86_64::paging::PageGuard;
use crate::x86_64::tsc::{self, RateSource, TscClock};

/// The longest command line a board keeps, in bytes.
pub const MAX_COMMAND_LINE: usize = 4096;
/// The longest loader string [`c_string_at`] reads: enough to tell how long a command line
/// that was cut had been.
pub const MAX_LOADER_STRING: usize = 64 * 1024;
/// The most memory-map entries a board keeps.
pub const MAX_REGIONS: usize = 64;

/// What the loader said, copied out of the loader's memory (which may become heap).
#[derive(Debug)]
pub struct BootData {
    command_line: [u8; MAX_COMMAND_LINE],
    command_line_len: usize,
    /// The length of the line the loader passed, before any cut.
    passed_len: usize,
    regions: [Region; MAX_REGIONS],
    region_count: usize,
}

impl BootData {
    /// Nothing yet.
    pub const fn new() -> Self {
        const NONE: Region = Region {
            start: 0,
            len: 0,
            usable: false,
        };
        Self {
            command_line: [0; MAX_COMMAND_LINE],
            command_line_len: 0,
            passed_len: 0,
            regions: [NONE; MAX_REGIONS],
            region_count: 0,
        }
    }

    /// Keeps `bytes` as the command line: up to the first NUL, at most
    /// [`MAX_COMMAND_LINE`] bytes, and only the part that is valid UTF-8; see
    /// [`Self::command_line_cut`].
    pub fn set_command_line(&mut self, bytes: &[u8]) {
        let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
        self.passed_len = bytes.len();
        let bytes = &bytes[..bytes.len().min(MAX_COMMAND_LINE)];
        let valid = match core::str::from_utf8(bytes) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        self.command_line[..valid].copy_from_slice(&bytes[..valid]);
        self.command_line_len = valid;
    }

    /// Adds a memory-map entry; entries past [`MAX_REGIONS`] are dropped.
    pub fn push_region(&mut self, region: Region) {
        if let Some(slot) = self.regions.get_mut(self.region_count) {
            *slot = region;
            self.region_count += 1;
        }
    }

    /// The command line.
    pub fn command_line(&self) -> &str {
        // Only valid UTF-8 is ever stored.
        core::str::from_utf8(&self.command_line[..self.command_line_len]).unwrap_or_default()
    }

    /// The length kept and the length passed, when the command line was cut: longer than
    /// [`MAX_COMMAND_LINE`], or not UTF-8 from the kept length on.
    pub fn command_line_cut(&self) -> Option<(usize, usize)> {
        (self.command_line_len < self.passed_len)
            .then_some((self.command_line_len, self.passed_len))
    }

    /// The memory map.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.region_count]
    }
}

impl Default for BootData {
    fn default() -> Self {
        Self::new()
    }
}

/// The bytes of the NUL-terminated string at physical address `address`, at most
/// [`MAX_LOADER_STRING`] of them and none past the boot mapping ([`MAPPED_LIMIT`]), or
/// nothing for address 0.
///
/// # Safety
/// The string, or the bytes at `address` up to the cap, must be mapped memory.
pub unsafe fn c_string_at(address: u64) -> &'static [u8] {
    if address == 0 {
        return &[];
    }
    // A loader's string that runs to the end of the boot mapping without a NUL stops there.
    let cap = usize::try_from(MAPPED_LIMIT.saturating_sub(address))
        .map_or(MAX_LOADER_STRING, |room| room.min(MAX_LOADER_STRING));
    let start = address as *const u8;
    let mut len = 0;
    // SAFETY: the caller vouches for the memory up to the NUL or the cap.
    while len < cap && unsafe { start.add(len).read() } != 0 {
        len += 1;
    }
    // SAFETY: the `len` bytes just read are mapped and stay in place.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// The largest usable range of `map` above the kernel image and within the boot mapping,
/// as heap memory.
///
/// # Safety
/// Call once: the memory returned must be used by nothing else. The memory map must be
/// true, and the loader's data already copied out (see [`BootData`]).
pub unsafe fn heap_region(map: &[Region]) -> Option<&'static mut [MaybeUninit<u8>]> {
    let (start, end) = memory::largest_usable(map, image_end(), MAPPED_LIMIT)?;
    let len = usize::try_from(end - start).ok()?;
    // SAFETY: the range is usable RAM past the image, mapped, and (the caller vouches) ours.
    Some(unsafe { core::slice::from_raw_parts_mut(start as *mut MaybeUninit<u8>, len) })
}

/// Checks that the RAM the heap comes from (see [`heap_region`]) holds what `cores` cores
/// need past the image: [`Error::NotEnoughMemory`] if not, [`Error::NoHeap`] if there is
/// none.
pub fn check_memory(map: &[Region], cores: usize) -> Result<(), Error> {
    let image_end = image_end();
    let (_, ram_end) = memory::largest_usable(map, image_end, MAPPED_LIMIT).ok_or(Error::NoHeap)?;
    let needed = image_end.saturating_add(memory_needed(cores));
    if ram_end < needed {
        return Err(Error::NotEnoughMemory {
            ram_end,
            needed,
            cores,
        });
    }
    Ok(())
}

/// Splits the descriptor tables of `cores - 1` cores (every core but the boot core) off the
/// top of `heap`, as many as fit: no memory for the cores a machine does not have, and
/// no time spent zeroing it.
pub fn split_core_tables(
    heap: &'static mut [MaybeUninit<u8>],
    cores: usize,
) -> (
    &'static mut [MaybeUninit<u8>],
    &'static mut [MaybeUninit<CoreTables>],
) {
    let (size, align) = (size_of::<CoreTables>(), align_of::<CoreTables>());
    let fit = cores
        .saturating_sub(1)
        .min(heap.len().saturating_sub(align) / size);
    if fit == 0 {
        return (heap, &mut []);
    }
    let end = heap.as_ptr() as usize + heap.len();
    // At least `align` bytes above the heap's start, so the heap's start is not passed.
    let start = (end - fit * size) & !(align - 1);
    let keep = start - heap.as_ptr() as usize;
    let (heap, rest) = heap.split_at_mut(keep);
    // SAFETY: `rest` starts at `start`, aligned for `CoreTables`, and holds at least `fit`
    // of them; `MaybeUninit` asks for no initial value.
    let tables = unsafe {
        core::slice::from_raw_parts_mut(rest.as_mut_ptr().cast::<MaybeUninit<CoreTables>>(), fit)
    };
    (heap, tables)
}

/// What every x86_64 board finds the same way once it has the loader's data.
#[derive(Debug)]
pub struct Common {
    /// The TSC clock.
    pub clock: TscClock,
    /// Where the TSC rate came from.
    pub rate_source: RateSource,
    /// The cores, from the ACPI MADT or the MP table (only the boot core without either).
    pub cores: ApicCores,
    /// Halting an idle core.
    pub idle: HaltIdle,
    /// Guard pages in the boot page tables.
    pub guard: PageGuard,
    /// The heap.
    pub heap: &'static mut [MaybeUninit<u8>],
    /// Where the ACPI tables are, for power-off to read how to enter S5 when it needs to.
    pub acpi: Acpi,
    /// The Unix time at boot from `time=` on the command line, if it holds one.
    pub time_hint: Option<u64>,
    /// What the board booted through but must say; it prints each one.
    pub warnings: [Option<Warning>; 5],
}

/// Something a board could boot through but must not pass over in silence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning {
    /// The command line was cut (see [`BootData::command_line_cut`]).
    CommandLineCut {
        /// The bytes kept.
        kept: usize,
        /// The bytes the loader passed.
        passed: usize,
    },
    /// The firmware lists more cores than the kernel runs on; it runs on the first
    /// [`mptable::MAX_CORES`].
    TooManyCores {
        /// The cores the firmware lists.
        listed: usize,
    },
    /// `tsc_khz=` holds no plausible rate (see [`tsc::PLAUSIBLE_KHZ`]); the board found the
    /// rate itself.
    BadTscHint(&'static str),
    /// The firmware lists cores whose APIC IDs are above 254, which xAPIC start-up IPIs
    /// cannot reach: they stay idle.
    CoresBeyondXapic {
        /// How many.
        count: usize,
    },
    /// `time=` holds no Unix time (see [`wall::parse_hint`]); the board's other source of
    /// the time of day, if any, gives it.
    BadTimeHint(&'static str),
}

impl core::fmt::Display for Warning {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::CommandLineCut { kept, passed } => write!(
                f,
                "command line cut at {kept} bytes: the loader passed {passed}, and a board \
                 keeps at most {MAX_COMMAND_LINE} bytes of UTF-8"
            ),
            Self::TooManyCores { listed } => write!(
                f,
                "{listed} cores found, running on {max}: the kernel supports at most {max}",
                max = mptable::MAX_CORES
            ),
            Self::BadTscHint(text) => write!(
                f,
                "ignoring tsc_khz={text}: not a whole number from {} to {} (kHz); the TSC \
                 rate comes from CPUID or the PIT instead",
                tsc::PLAUSIBLE_KHZ.start(),
                tsc::PLAUSIBLE_KHZ.end()
            ),
            Self::CoresBeyondXapic { count } => write!(
                f,
                "{count} cores have APIC IDs above 254, which the xAPIC cannot start: they \
                 stay idle"
            ),
            Self::BadTimeHint(text) => write!(
                f,
                "ignoring time={text}: not a whole number of Unix seconds; the RTC, if \
                 any, tells the time"
            ),
        }
    }
}

/// Why a board cannot boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// No hint, no CPUID leaf and no PIT told the TSC rate.
    NoTscRate,
    /// The memory map has no usable RAM above the kernel.
    NoHeap,
    /// The RAM above the kernel ends at `ram_end`, below `needed`, what booting `cores`
    /// cores takes (see [`memory_needed`]).
    NotEnoughMemory {
        /// Where the RAM the heap would come from ends.
        ram_end: u64,
        /// Where it must end at least.
        needed: u64,
        /// The cores the firmware lists.
        cores: usize,
    },
}

impl Error {
    /// The status a board stops with for this error.
    pub fn status(&self) -> u8 {
        match self {
            Self::NotEnoughMemory { .. } => hal::board::NOT_ENOUGH_MEMORY,
            Self::NoTscRate | Self::NoHeap => BOOT_FAILURE,
        }
    }
}

/// The status a board stops with when it cannot boot for another reason than memory.
pub const BOOT_FAILURE: u8 = 1;

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoTscRate => {
                f.write_str("cannot find the TSC rate (no PIT answered): pass tsc_khz=N")
            }
            Self::NoHeap => f.write_str("the memory map has no usable RAM above the kernel"),
            Self::NotEnoughMemory {
                ram_end,
                needed,
                cores,
            } => write!(
                f,
                "not enough memory: the firmware reports RAM up to {} KiB, this image needs at \
                 least {} KiB (with {cores} core{})",
                ram_end >> 10,
                needed.div_ceil(1024),
                if *cores == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The first `tsc_khz=` and `time=` on `line`, in one pass: with the keys known, the
/// comparisons fold into a few instructions, where a search per key needs `memcmp`
/// (`cargo probe size`).
fn board_params(line: &str) -> (Option<&str>, Option<&str>) {
    let (mut tsc_khz, mut time) = (None, None);
    for word in line.split_whitespace() {
        if let Some(value) = word.strip_prefix("tsc_khz=") {
            tsc_khz.get_or_insert(value);
        } else if let Some(value) = word.strip_prefix("time=") {
            time.get_or_insert(value);
        }
    }
    (tsc_khz, time)
}

/// Where the local APIC is when no table says: the address every x86 CPU resets it to.
const DEFAULT_APIC: usize = 0xfee0_0000;

/// Finds the clock (with the `tsc_khz=` hint from `data`), the cores (from the ACPI MADT,
/// else the MP table) and the heap, and sets up interrupts: the 8259s masked, the boot
/// core's local APIC enabled. Interrupts stay masked; the first idle unmasks them.
///
/// # Safety
/// Call once, on the boot core with interrupts masked, after
/// [`cpu::init_boot_core`], with the boot page tables up and the loader's data copied
/// into `data`.
pub unsafe fn find_common(data: &'static BootData, tables: Acpi) -> Result<Common, Error> {
    let mut warnings = [None; 5];
    warnings[0] = data
        .command_line_cut()
        .map(|(kept, passed)| Warning::CommandLineCut { kept, passed });
    let (hint_text, time_text) = board_params(data.command_line());
    let hint = hint_text.and_then(tsc::parse_hint);
    if hint.is_none() {
        warnings[1] = hint_text.map(Warning::BadTscHint);
    }
    let time_hint = time_text.and_then(wall::parse_hint);
    if time_hint.is_none() {
        warnings[4] = time_text.map(Warning::BadTimeHint);
    }
    // SAFETY: the caller runs us at boot, when nothing else uses the PIT.
    let (khz, rate_source) = unsafe { tsc::find_rate(hint) }.ok_or(Error::NoTscRate)?;
    let clock = TscClock::new(boot_tsc(), khz).ok_or(Error::NoTscRate)?;
    // SAFETY: the boot page tables map the first 4 GiB but page 0. ACPI first: QEMU fills
    // the MADT, while SeaBIOS's MP table may list only the boot processor.
    let madt = match tables {
        Acpi::Absent => None,
        // SAFETY: as above.
        Acpi::At(rsdp) => unsafe { acpi::scan_from(rsdp) },
        // SAFETY: as above.
        Acpi::Search => unsafe { acpi::scan() },
    };
    // SAFETY: as above.
    let processors = madt.or_else(|| unsafe { mptable::scan() });
    let apic_base = processors
        .map(|p| p.local_apic as usize)
        .filter(|&base| base != 0)
        .unwrap_or(DEFAULT_APIC);
    let apic_ids = processors.as_ref().map_or(&[][..], |p| p.apic_ids());
    if let Some(listed_in) = &processors {
        let listed = listed_in.listed();
        warnings[2] = (listed > apic_ids.len()).then_some(Warning::TooManyCores { listed });
        let count = listed_in.beyond_xapic();
        warnings[3] = (count > 0).then_some(Warning::CoresBeyondXapic { count });
    }
    check_memory(data.regions(), apic_ids.len().max(1))?;
    // SAFETY: called once, with the loader's data already copied out.
    let heap = unsafe { heap_region(data.regions()) }.ok_or(Error::NoHeap)?;
    let (heap, core_tables) = split_core_tables(heap, apic_ids.len());
    // SAFETY: the boot core's tables are loaded (the caller ran `init_boot_core`), the
    // address is the APIC's, identity-mapped, and xAPIC is the mode firmware leaves.
    unsafe { cpu::enable_interrupt_controller(apic_base) };
    // SAFETY: as above; the memory map is true, nothing uses low memory once the loader's
    // data is copied, and the tables were split off the heap for the cores.
    let cores = unsafe {
        ApicCores::new(
            MmioRegisters::new(apic_base),
            clock,
            apic_ids,
            data.regions(),
            core_tables,
        )
    };
    // SAFETY: every core enables its APIC at this address before it idles, and the IDT
    // has the timer vector; the boot tables identity-map memory and only `PageGuard`
    // changes them.
    let (idle, guard) = unsafe {
        (
            HaltIdle::new(clock, MmioRegisters::new(apic_base)),
            PageGuard::new(),
        )
    };
    Ok(Common {
        clock,
        rate_source,
        cores,
        idle,
        guard,
        heap,
        acpi: tables,
        time_hint,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::{BootData, MAX_COMMAND_LINE};

    #[test]
    fn command_line_is_cut_at_nul_and_at_bad_utf8() {
        let mut data = BootData::new();
        data.set_command_line(b"tsc_khz=2600000 log=debug\0garbage");
        assert_eq!(data.command_line(), "tsc_khz=2600000 log=debug");
        assert_eq!(
            super::board_params(data.command_line()),
            (Some("2600000"), None)
        );
        data.set_command_line(b"ok \xff\xfe rest");
        assert_eq!(data.command_line(), "ok ");
        data.set_command_line(&[b'a'; MAX_COMMAND_LINE + 10]);
        assert_eq!(data.command_line().len(), MAX_COMMAND_LINE);
    }

    #[test]
    fn board_params_are_the_first_of_each() {
        assert_eq!(
            super::board_params("a time=1 tsc_khz=2 time=3 tsc_khz=4 -- x"),
            (Some("2"), Some("1"))
        );
        assert_eq!(super::board_params("timex=1 tsc_khz"), (None, None));
    }

    #[test]
    fn a_cut_command_line_is_reported() {
        let mut data = BootData::new();
        data.set_command_line(b"short\0and the rest after the NUL");
        assert_eq!(data.command_line_cut(), None);
        data.set_command_line(&[b'a'; MAX_COMMAND_LINE]);
        assert_eq!(data.command_line_cut(), None);
        data.set_command_line(&[b'a'; MAX_COMMAND_LINE + 10]);
        assert_eq!(
            data.command_line_cut(),
            Some((MAX_COMMAND_LINE, MAX_COMMAND_LINE + 10))
        );
        data.set_command_line(b"ok \xff rest");
        assert_eq!(data.command_line_cut(), Some((3, 9)));
        let warning = super::Warning::CommandLineCut {
            kept: MAX_COMMAND_LINE,
            passed: 5000,
        };
        assert_eq!(
            warning.to_string(),
            "command line cut at 4096 bytes: the loader passed 5000, and a board keeps at most \
             4096 bytes of UTF-8"
        );
        assert_eq!(
            super::Warning::TooManyCores { listed: 80 }.to_string(),
            "80 cores found, running on 64: the kernel supports at most 64"
        );
    }

    #[test]
    fn memory_map_keeps_what_fits() {
        let mut data = BootData::new();
        for i in 0..100 {
            data.push_region(hal::memory::Region {
                start: i,
                len: 1,
                usable: true,
            });
        }
        assert_eq!(data.regions().len(), super::MAX_REGIONS);
    }

    #[test]
    fn too_little_memory_is_an_error_that_says_how_much() {
        use hal::memory::Region;

        use super::{Error, check_memory, memory_needed};

        let ram = |len| Region {
            start: 0,
            len,
            usable: true,
        };
        // On the host the image ends at 0.
        let one = memory_needed(1);
        assert_eq!(check_memory(&[ram(one)], 1), Ok(()));
        assert!(memory_needed(4) > one);
        let short = check_memory(&[ram(one)], 4).unwrap_err();
        assert_eq!(
            short,
            Error::NotEnoughMemory {
                ram_end: one,
                needed: memory_needed(4),
                cores: 4
            }
        );
        assert_eq!(short.status(), hal::board::NOT_ENOUGH_MEMORY);
        assert_eq!(
            Error::NotEnoughMemory {
                ram_end: 1100 << 10,
                needed: (1900 << 10) - 1,
                cores: 1
            }
            .to_string(),
            "not enough memory: the firmware reports RAM up to 1100 KiB, this image needs at \
             least 1900 KiB (with 1 core)"
        );
        let reserved = Region {
            usable: false,
            ..ram(1 << 30)
        };
        assert_eq!(
            check_memory(&[reserved], 1),
            Err(Error::NoHeap),
            "reserved RAM does not count"
        );
    }

    #[test]
    fn core_tables_come_off_the_top_of_the_heap() {
        use core::mem::MaybeUninit;

        let size = size_of::<super::CoreTables>();
        let heap = Box::leak(vec![MaybeUninit::<u8>::uninit(); 4 * size].into_boxed_slice());
        let (start, end) = (heap.as_ptr() as usize, heap.as_ptr() as usize + heap.len());
        let (heap, tables) = super::split_core_tables(heap, 3);
        assert_eq!(tables.len(), 2);
        assert_eq!(tables.as_ptr() as usize % 16, 0);
        assert!(tables.as_ptr_range().end as usize <= end);
        assert_eq!(heap.as_ptr() as usize, start);
        assert_eq!(heap.as_ptr_range().end, tables.as_ptr().cast());
        assert!(heap.len() >= 4 * size - 2 * size - 16);

        let (heap, tables) = super::split_core_tables(heap, 1);
        assert!(tables.is_empty());
        let len = heap.len();
        let (heap, tables) = super::split_core_tables(heap, 100);
        assert!(tables.len() < 100, "as many as fit");
        assert!(heap.len() < len);
    }
}
