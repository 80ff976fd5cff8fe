//! What both boards' boot paths do alike, so that a board's `boot.rs` holds only its boot
//! protocol: reading its loader's structures into a [`BootData`], and the hand-off.
//!
//! A board names itself and its loader in a [`Kit`] and, once the long-mode entry called it:
//! 1. sets up the boot core ([`init_boot_core`](crate::x86_64::cpu::init_boot_core)) with
//!    an early fault handler that calls [`Kit::early_fault`] (a
//!    [`FaultHandler`](hal::trap::FaultHandler) is a plain `fn`, so each board keeps a
//!    three-line shim that names its kit);
//! 2. checks that its loader entered the image ([`Kit::expect_loader`]);
//! 3. copies the loader's data with its own parser ([`Kit::read_loader_data`]);
//! 4. finds the clock, the cores, the heap and the interrupt controllers
//!    ([`Kit::find_common`]);
//! 5. puts the [`Board`] together ([`Kit::assemble`]) and hands it to the kernel.
//!
//! Every line the kit prints goes to COM1 and starts with the board's name; a board that
//! cannot go on stops through QEMU's exit device ([`Kit::fail`]).

use core::fmt;

use embedded_io::Write;
use hal::board::{Board, Platform};
use hal::power::PowerOff;
use hal::trap::Fault;

use crate::board::common::{self, BOOT_FAILURE, BootData, Common, Warning};
use crate::board::loader::Loader;
use crate::board::wall::BootWallClock;
use crate::console::uart16550::{PortRegisters, Uart16550};
use crate::platform::firmware::acpi::Acpi;
use crate::platform::smp::ApicCores;
use crate::power::qemu::{DEBUG_EXIT_PORT, QemuPower};
use crate::x86_64::context::X86ContextSwitch;
use crate::x86_64::cpu::Exceptions;
use crate::x86_64::idle::HaltIdle;
use crate::x86_64::paging::{self, PageGuard};
use crate::x86_64::tsc::TscClock;

/// The console every board hands the kernel: the 16550 at COM1.
pub type Serial = Uart16550<PortRegisters>;

/// The status after a CPU exception before the kernel took over (the kernel's `FAULT`).
pub const EARLY_FAULT: u8 = 102;

/// A board, as far as its boot path's messages and checks need to know it.
#[derive(Clone, Copy, Debug)]
pub struct Kit {
    name: &'static str,
    loader: Loader,
    other_build: &'static str,
}

impl Kit {
    /// The kit of the board `name`, entered through `loader`; `other_build` says how to
    /// build the image for the other known loader (`"--features bsp-qemu-pc"`), for the
    /// message when that one entered it.
    ///
    /// # Safety
    /// The machine is PC-compatible where the kit looks: a 16550 at COM1 (`0x3f8`),
    /// `isa-debug-exit` or nothing at [`DEBUG_EXIT_PORT`], the i8042 or nothing at `0x64`;
    /// and the board is COM1's only user until it hands the console to the kernel.
    pub const unsafe fn new(name: &'static str, loader: Loader, other_build: &'static str) -> Self {
        Self {
            name,
            loader,
            other_build,
        }
    }

    // Inlined, as `power`: a call costs more than the few stores (`cargo probe size`).
    #[inline(always)]
    fn serial(&self) -> Serial {
        // SAFETY: `new`'s caller vouched for COM1 and for the board being its only user.
        Uart16550::new(unsafe { PortRegisters::new(PortRegisters::COM1) })
    }

    /// The way out; `acpi` only ever comes from this machine's loader ([`Common`]).
    #[inline(always)]
    fn power(&self, acpi: Acpi) -> QemuPower<Serial> {
        // SAFETY: `new`'s caller vouched for the exit port and the i8042's; the tables are
        // this machine's, or none, and the boot tables keep identity-mapping them.
        unsafe { QemuPower::new(DEBUG_EXIT_PORT, acpi, self.serial()) }
    }

    /// Says why the board cannot go on, and leaves with `status`.
    pub fn fail(&self, status: u8, args: fmt::Arguments<'_>) -> ! {
        let _ = self
            .serial()
            .write_fmt(format_args!("\n{}: {args}\n", self.name));
        self.power(Acpi::Absent).power_off(status)
    }

    /// Says what the board booted through but must not pass over in silence.
    // Out of line, as `find_common`: inlined into a board's `init`, hello grows.
    #[inline(never)]
    fn warn(&self, warning: &Warning) {
        let _ = self
            .serial()
            .write_fmt(format_args!("{}: warning: {warning}\n", self.name));
    }

    /// Reports a CPU exception taken before the kernel installed its handler, and leaves
    /// with [`EARLY_FAULT`].
    pub fn early_fault(&self, fault: &Fault) -> ! {
        self.fail(
            EARLY_FAULT,
            format_args!("stopped by a {fault} during boot"),
        )
    }

    /// Leaves with [`BOOT_FAILURE`], saying what to build instead, unless the board's own
    /// loader entered the image; `boot_info` and `eax` are the loader's `ebx` and `eax`, as
    /// the long-mode entry hands them over.
    ///
    /// # Safety
    /// As [`Loader::at_entry`]: physical memory from 4 KiB to 4 GiB is identity-mapped.
    pub unsafe fn expect_loader(&self, boot_info: u64, eax: u64) {
        // SAFETY: the caller's promise.
        let found = unsafe { Loader::at_entry(boot_info, eax) };
        if found != self.loader {
            self.wrong_loader(found, |message| self.fail(BOOT_FAILURE, message));
        }
    }

    /// Hands `say` the message for an image built for this board's loader that `found`
    /// entered.
    // Inlined: the closure's call then folds away (`cargo probe size`).
    #[inline(always)]
    fn wrong_loader<R>(&self, found: Loader, say: impl FnOnce(fmt::Arguments<'_>) -> R) -> R {
        let (hint, build) = match found {
            Loader::Unknown => ("", ""),
            Loader::Pvh | Loader::Multiboot => ("; build it with ", self.other_build),
        };
        say(format_args!(
            "this image is built for {} ({}) but was booted through {found}{hint}{build}",
            self.name, self.loader
        ))
    }

    /// Runs `copy` on the board's empty [`BootData`], with page 0 mapped meanwhile (where
    /// SeaBIOS's microvm firmware leaves the PVH memory map), and returns the data with what
    /// `copy` returned. The data lives in a `static`: the loader's memory may become heap.
    ///
    /// # Safety
    /// Call once, on the boot core, with the boot page tables live and before another core
    /// runs ([`paging::with_null_page`]); what `copy` reads must be mapped, and it must
    /// keep no reference into the loader's memory.
    pub unsafe fn read_loader_data<R>(
        &self,
        copy: impl FnOnce(&mut BootData) -> R,
    ) -> (&'static BootData, R) {
        static mut BOOT_DATA: BootData = BootData::new();

        #[allow(clippy::deref_addrof)]
        // `&mut *(&raw mut S)` is how edition 2024 borrows a `static mut`.
        // SAFETY: called once, so this is the only reference to BOOT_DATA; the caller keeps
        // `with_null_page`'s promises.
        unsafe {
            let data = &mut *(&raw mut BOOT_DATA);
            let copied = paging::with_null_page(|| copy(data));
            (data, copied)
        }
    }

    /// What every board finds the same way ([`common::find_common`]); each warning is
    /// printed, and an error leaves with its status, saying why.
    ///
    /// # Safety
    /// As [`common::find_common`].
    #[inline(never)]
    pub unsafe fn find_common(&self, data: &'static BootData, tables: Acpi) -> Common {
        // SAFETY: the caller's promise.
        let common = unsafe { common::find_common(data, tables) }
            .unwrap_or_else(|e| self.fail(e.status(), format_args!("{e}")));
        common.warnings.iter().flatten().for_each(|w| self.warn(w));
        common
    }

    /// The board to hand the kernel: the loader's data, what [`Kit::find_common`] found,
    /// COM1 as the console, QEMU's exit device (else ACPI S5) as the way out.
    pub fn assemble<P>(
        &self,
        data: &'static BootData,
        common: Common,
        wall_clock: BootWallClock,
        traps: Exceptions,
        interrupts: P::Interrupts,
        devices: P::Devices,
    ) -> Board<P>
    where
        P: Platform<
                Console = Serial,
                Clock = TscClock,
                WallClock = BootWallClock,
                Cores = ApicCores,
                Idle = HaltIdle,
                Switch = X86ContextSwitch,
                Guard = PageGuard,
                Power = QemuPower<Serial>,
                Traps = Exceptions,
            >,
    {
        Board {
            name: self.name,
            command_line: data.command_line(),
            memory_map: data.regions(),
            heap: common.heap,
            console: self.serial(),
            clock: common.clock,
            wall_clock,
            cores: common.cores,
            idle: common.idle,
            switch: X86ContextSwitch,
            guard: common.guard,
            power: self.power(common.acpi),
            traps,
            interrupts,
            devices,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Kit;
    use crate::board::loader::Loader;

    #[test]
    fn a_wrong_loader_is_named_with_what_to_build() {
        // SAFETY: only messages are formatted; no port is touched.
        let (microvm, pc) = unsafe {
            (
                Kit::new("microvm", Loader::Pvh, "--features bsp-qemu-pc"),
                Kit::new("qemu-pc", Loader::Multiboot, "--features bsp-microvm"),
            )
        };
        assert_eq!(
            microvm.wrong_loader(Loader::Multiboot, |m| m.to_string()),
            "this image is built for microvm (PVH) but was booted through Multiboot; build it \
             with --features bsp-qemu-pc"
        );
        assert_eq!(
            pc.wrong_loader(Loader::Pvh, |m| m.to_string()),
            "this image is built for qemu-pc (Multiboot) but was booted through PVH; build it \
             with --features bsp-microvm"
        );
        assert_eq!(
            pc.wrong_loader(Loader::Unknown, |m| m.to_string()),
            "this image is built for qemu-pc (Multiboot) but was booted through an unknown \
             loader (neither PVH start info nor the Multiboot magic)"
        );
    }
}
