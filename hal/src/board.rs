//! What one board hands the kernel at boot.
//!
//! A board crate implements [`Platform`] (which device types it has) and builds one
//! [`Board`] value from its single `init()`; the kernel takes it over and never learns which
//! hardware is behind it.

use core::fmt;
use core::mem::MaybeUninit;

use crate::console::Console;
use crate::context::ContextSwitch;
use crate::cpu::{Cores, CpuIdle};
use crate::device::Discover;
use crate::irq::Interrupts;
use crate::memory::{GuardPages, Region};
use crate::power::PowerOff;
use crate::time::{Clock, WallClock};
use crate::trap::Traps;

/// The heap the kernel needs to start the application's `main` on the boot core: the
/// main thread's 256 KiB stack with its guard page and a page table to split it off, and
/// the 64 KiB spans its per-core cache takes for small blocks (one per size class in use;
/// five at boot, so six leave room for the application's first allocations).
pub const HEAP_FOR_BOOT_CORE: usize = 256 * 1024 + 2 * 4096 + 6 * 64 * 1024;

/// The heap each further core needs: its scheduler's 64 KiB stack and a span of its cache.
pub const HEAP_PER_CORE: usize = 2 * 64 * 1024;

/// The least heap a board hands the kernel for `cores` cores; a board with less says so and
/// stops with [`NOT_ENOUGH_MEMORY`] instead of booting into an allocation failure.
pub const fn heap_needed(cores: usize) -> usize {
    HEAP_FOR_BOOT_CORE + cores.saturating_sub(1) * HEAP_PER_CORE
}

/// The status a board stops with when the machine has too little memory to boot.
pub const NOT_ENOUGH_MEMORY: u8 = 103;

/// The device types of one board.
pub trait Platform: 'static {
    /// The console the kernel prints to.
    type Console: Console + Send;
    /// The monotonic clock.
    type Clock: Clock + Send + Sync;
    /// Where the time of day comes from.
    type WallClock: WallClock + Send;
    /// The machine's cores.
    type Cores: Cores + Send + Sync;
    /// Halting an idle core.
    type Idle: CpuIdle + Send + Sync;
    /// Switching between threads' stacks.
    type Switch: ContextSwitch + Send + Sync;
    /// Guard pages below thread stacks.
    type Guard: GuardPages + Send + Sync;
    /// The way out.
    type Power: PowerOff + Send;
    /// Where CPU exceptions go.
    type Traps: Traps + Send;
    /// The interrupt controller of device lines.
    type Interrupts: Interrupts + Send + Sync + 'static;
    /// Finding the board's devices, when an application first asks for one.
    type Devices: Discover;
}

/// Everything a board found at boot, handed to the kernel once.
pub struct Board<P: Platform> {
    /// The board's name, such as `"microvm"`.
    pub name: &'static str,
    /// The kernel command line the hypervisor passed, less what the board used itself.
    pub command_line: &'static str,
    /// The firmware's memory map.
    pub memory_map: &'static [Region],
    /// Memory for the kernel's heap, already mapped, used by nothing else: at least
    /// [`heap_needed`] for the cores in [`Board::cores`].
    pub heap: &'static mut [MaybeUninit<u8>],
    /// The console.
    pub console: P::Console,
    /// The monotonic clock.
    pub clock: P::Clock,
    /// Where the time of day comes from, asked when an application first wants it.
    pub wall_clock: P::WallClock,
    /// The cores.
    pub cores: P::Cores,
    /// Halting an idle core.
    pub idle: P::Idle,
    /// Switching between threads' stacks.
    pub switch: P::Switch,
    /// Guard pages.
    pub guard: P::Guard,
    /// The way out.
    pub power: P::Power,
    /// Where CPU exceptions go.
    pub traps: P::Traps,
    /// The interrupt controller of device lines.
    pub interrupts: P::Interrupts,
    /// The board's devices, found when an application first asks for one.
    pub devices: P::Devices,
}

impl<P: Platform> fmt::Debug for Board<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Board")
            .field("name", &self.name)
            .field("command_line", &self.command_line)
            .field("memory_map", &self.memory_map)
            .field("heap_bytes", &self.heap.len())
            .finish_non_exhaustive()
    }
}
