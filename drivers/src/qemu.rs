//! Leaving a QEMU machine with a status.
//!
//! QEMU's `isa-debug-exit` device ends QEMU with exit code `2 * value + 1` for a value
//! written to its port. Novillo writes `status + 16`, so QEMU's exit code is
//! `2 * status + 33`: always odd and at least 33, which tells it apart from QEMU's own
//! failures (1) and from a guest that reset itself (0). `probe` undoes the encoding.

use hal::power::{MAX_STATUS, PowerOff};

use crate::x86_64::{instructions, port};

/// The I/O port where boards put `isa-debug-exit` (`-device isa-debug-exit,iobase=0xf4`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// What Novillo writes to `isa-debug-exit` for `status`.
pub fn debug_exit_value(status: u8) -> u32 {
    u32::from(status.min(MAX_STATUS)) + 16
}

/// Powering off a QEMU machine: `isa-debug-exit` when QEMU has it, else ACPI S5 through the
/// PM1a control port when the board has one, else halting for ever.
#[derive(Debug)]
pub struct QemuPower {
    debug_exit: u16,
    pm1a_control: Option<u16>,
}

impl QemuPower {
    /// # Safety
    /// `debug_exit` must be the `isa-debug-exit` port or unused, and `pm1a_control` the
    /// ACPI PM1a control port, if given.
    pub unsafe fn new(debug_exit: u16, pm1a_control: Option<u16>) -> Self {
        Self {
            debug_exit,
            pm1a_control,
        }
    }
}

impl PowerOff for QemuPower {
    fn power_off(&mut self, status: u8) -> ! {
        // SAFETY: `new`'s caller vouched for both ports; writing them only stops the machine.
        unsafe {
            port::outl(self.debug_exit, debug_exit_value(status));
            if let Some(pm1a) = self.pm1a_control {
                // SLP_TYPa = 0 (S5 on QEMU's PIIX4) with SLP_EN.
                port::outw(pm1a, 0x2000);
            }
        }
        instructions::halt_forever()
    }
}

#[cfg(test)]
mod tests {
    use super::debug_exit_value;

    #[test]
    fn statuses_map_to_odd_exit_codes_of_at_least_33() {
        for (status, value) in [(0, 16), (1, 17), (101, 117), (111, 127), (255, 127)] {
            assert_eq!(debug_exit_value(status), value);
            assert!(2 * value + 1 >= 33);
        }
    }
}
