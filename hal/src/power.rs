//! Leaving the machine.

/// Turning the machine off.
///
/// # Contract
/// `power_off` never returns. Where the hypervisor can carry a status out (QEMU's
/// `isa-debug-exit`), `status` becomes the status of the virtual machine; 0 means success.
/// Where it cannot, the board prints `novillo: exit status N` as the console's last line
/// before it turns the machine off or resets it.
/// Statuses above [`MAX_STATUS`] are reported as `MAX_STATUS`.
pub trait PowerOff {
    /// Turns the machine off with `status`.
    fn power_off(&mut self, status: u8) -> !;
}

/// The largest status a board can carry out.
pub const MAX_STATUS: u8 = 111;
