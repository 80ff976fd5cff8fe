//! CPU exceptions, as the kernel sees them.
//!
//! The board catches the exception and describes it as a [`Fault`]; the kernel decides what
//! the fault means (which thread it hit) and what to do about it.

use core::fmt;

/// A CPU exception: an instruction the CPU could not execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The exception vector (0 = divide error, 6 = invalid opcode, 14 = page fault, ...).
    pub vector: u8,
    /// The exception's name, such as `"invalid opcode"`.
    pub name: &'static str,
    /// The address of the faulting instruction.
    pub instruction_pointer: u64,
    /// The stack pointer when the exception happened.
    pub stack_pointer: u64,
    /// The frame pointer when the exception happened: where the faulting code's chain of
    /// frames starts (see [`ContextSwitch::frame_pointer`](crate::context::ContextSwitch)).
    pub frame_pointer: u64,
    /// The error code the CPU pushed, for the exceptions that have one.
    pub error_code: Option<u64>,
    /// The address whose access faulted (CR2), for page faults.
    pub address: Option<u64>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CPU exception {} ({}) at RIP={:#x} RSP={:#x}",
            self.vector, self.name, self.instruction_pointer, self.stack_pointer
        )?;
        if let Some(code) = self.error_code {
            write!(f, " error code={code:#x}")?;
        }
        if let Some(address) = self.address {
            write!(f, " CR2={address:#x}")?;
        }
        Ok(())
    }
}

/// What the kernel does with a fault. It never returns to the faulting instruction.
pub type FaultHandler = fn(&Fault) -> !;

/// Where the board sends CPU exceptions.
///
/// # Contract
/// After `set_fault_handler`, every CPU exception on any core calls `handler` on the
/// faulting core with interrupts masked. Before it, the board reports the fault itself and
/// powers off with a failure status.
pub trait Traps {
    /// Sends every later CPU exception to `handler`.
    fn set_fault_handler(&mut self, handler: FaultHandler);
}

#[cfg(test)]
mod tests {
    use super::Fault;

    #[test]
    fn report_names_the_fault_and_its_addresses() {
        let fault = Fault {
            vector: 14,
            name: "page fault",
            instruction_pointer: 0x10_2030,
            stack_pointer: 0x20_0000,
            frame_pointer: 0x20_0010,
            error_code: Some(2),
            address: Some(0xdead),
        };
        assert_eq!(
            fault.to_string(),
            "CPU exception 14 (page fault) at RIP=0x102030 RSP=0x200000 error code=0x2 CR2=0xdead"
        );
    }
}
