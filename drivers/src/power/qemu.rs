//! Leaving a QEMU machine with a status, and leaving a machine without QEMU's exit device.
//!
//! QEMU's `isa-debug-exit` device ends QEMU with exit code `2 * value + 1` for a value
//! written to its port. Novillo writes `status + 16`, so QEMU's exit code is
//! `2 * status + 33`: always odd and at least 33, which tells it apart from QEMU's own
//! failures (1) and from a guest that reset itself (0). `probe` undoes the encoding.
//!
//! A machine without the device ignores the write. Then the status goes to the console as
//! its last line ([`status_line`]), and the machine is turned off another way: ACPI S5
//! where the firmware tables describe it, else a reset through the i8042 keyboard
//! controller (which microVM monitors such as Firecracker treat as power-off), else a
//! triple fault, which resets any x86 machine. QEMU with `-no-reboot` ends on either reset.
//! Nothing asks the port whether the device is there: QEMU answers 0 there when it is,
//! but other monitors may answer 0 for an empty port too, and writing first is safe.

use core::fmt;

use embedded_io::Write;
use hal::power::{MAX_STATUS, PowerOff};

use crate::platform::firmware::acpi::Acpi;
use crate::platform::firmware::fadt::{self, SleepRegister, SoftOff};
use crate::x86_64::{instructions, port};

/// The I/O port where boards put `isa-debug-exit` (`-device isa-debug-exit,iobase=0xf4`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// The i8042 keyboard controller's command (and status) port, and its pulse-reset-line
/// command.
const I8042_COMMAND: u16 = 0x64;
const I8042_RESET: u8 = 0xfe;

/// How long to wait after asking for power-off or reset before trying the next way:
/// QEMU acts on the request in its main loop, shortly after the write (about 0.25 s of
/// spinning under TCG; only a request that went unheard costs it).
const SETTLE_SPINS: u32 = 1 << 20;

/// What Novillo writes to `isa-debug-exit` for `status`.
pub fn debug_exit_value(status: u8) -> u32 {
    u32::from(status.min(MAX_STATUS)) + 16
}

/// The console's last line when the exit device is missing: `novillo: exit status N`.
pub fn status_line(status: u8) -> impl fmt::Display {
    struct Line(u8);
    impl fmt::Display for Line {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "novillo: exit status {}", self.0)
        }
    }
    Line(status.min(MAX_STATUS))
}

/// Powering off a QEMU machine: `isa-debug-exit` when QEMU has it, else the status on
/// `console` and ACPI S5, the i8042 reset or a triple fault (see the module docs).
#[derive(Debug)]
pub struct QemuPower<W> {
    debug_exit: u16,
    acpi: Acpi,
    console: W,
}

impl<W: Write> QemuPower<W> {
    /// # Safety
    /// `debug_exit` must be the `isa-debug-exit` port or unused, `acpi` must say where this
    /// machine's ACPI tables are, and port 0x64 must be the i8042 or unused. Physical
    /// memory from 4 KiB to 4 GiB must stay identity-mapped and readable, and the tables
    /// in place: power-off reads them.
    pub unsafe fn new(debug_exit: u16, acpi: Acpi, console: W) -> Self {
        Self {
            debug_exit,
            acpi,
            console,
        }
    }
}

impl<W: Write> PowerOff for QemuPower<W> {
    fn power_off(&mut self, status: u8) -> ! {
        // SAFETY: `new`'s caller vouched for the port; the write only stops the machine.
        unsafe { port::outl(self.debug_exit, debug_exit_value(status)) };
        // Still running: there is no exit device. A console that fails cannot be helped.
        let _ = self
            .console
            .write_fmt(format_args!("\n{}\n", status_line(status)));
        // Read only now: finding S5 (the FADT, then `\_S5` in the DSDT's AML) would cost
        // every boot, and only a machine without the exit device gets here.
        // SAFETY: `new`'s caller vouched for the memory and the tables.
        if let Some(soft_off) = unsafe { fadt::scan_tables(self.acpi) } {
            // SAFETY: `new`'s caller vouched that the register is this machine's.
            unsafe { enter(soft_off) };
            settle();
        }
        // SAFETY: as for the exit device: the i8042 or nothing is at the port, and reading
        // its status has no effect. An empty port reads all ones (microvm has no i8042).
        if unsafe { port::inb(I8042_COMMAND) } != 0xff {
            // SAFETY: as above.
            unsafe { port::outb(I8042_COMMAND, I8042_RESET) };
            settle();
        }
        instructions::triple_fault()
    }
}

/// Writes the S5 value to the sleep register.
///
/// # Safety
/// The register must be the machine's ACPI sleep control register.
unsafe fn enter(soft_off: SoftOff) {
    // SAFETY: the caller vouches for the register; writing it only turns the machine off.
    unsafe {
        match soft_off.register {
            SleepRegister::Pm1aControl(port) => port::outw(port, soft_off.value),
            SleepRegister::SleepControlPort(port) => port::outb(port, soft_off.value as u8),
            SleepRegister::SleepControlMemory(address) => {
                core::ptr::write_volatile(address as *mut u8, soft_off.value as u8)
            }
        }
    }
}

fn settle() {
    for _ in 0..SETTLE_SPINS {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::{debug_exit_value, status_line};

    #[test]
    fn statuses_map_to_odd_exit_codes_of_at_least_33() {
        for (status, value) in [(0, 16), (1, 17), (101, 117), (111, 127), (255, 127)] {
            assert_eq!(debug_exit_value(status), value);
            assert!(2 * value + 1 >= 33);
        }
    }

    #[test]
    fn the_status_line_names_the_status_as_the_exit_device_would() {
        assert_eq!(status_line(0).to_string(), "novillo: exit status 0");
        assert_eq!(status_line(101).to_string(), "novillo: exit status 101");
        assert_eq!(status_line(255).to_string(), "novillo: exit status 111");
    }
}
