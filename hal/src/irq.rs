//! Interrupt lines: how a device's interrupt reaches the kernel.
//!
//! # Contract
//! - A board numbers the lines it wires up `0..MAX_LINES`; several devices may share one.
//! - Until routed, a line is masked. After [`Interrupts::set_handler`], each interrupt of a
//!   routed line calls `handler(line)` on the core it is routed to, with interrupts masked,
//!   and leaves the line masked: it raises nothing more until [`Interrupts::unmask`].
//! - The handler runs in interrupt context: it must not block, allocate or take a lock.
//! - `route` and `unmask` return at once and may be called on any core, never from the
//!   handler.
//!
//! # For board authors
//! Mask a level-triggered line before the end-of-interrupt, so that it cannot fire again
//! before the kernel has acked the device. An edge-triggered line (MSI) needs no mask.
//!
//! # For driver authors
//! [`InterruptSource::ack_interrupt`] lowers your device's line; on a shared line you are
//! asked whether or not the interrupt was yours.

/// How many lines a board may wire up.
pub const MAX_LINES: usize = 32;

/// One interrupt line, `0..MAX_LINES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Line(u8);

impl Line {
    /// Line `index`; `None` at or past [`MAX_LINES`].
    pub const fn new(index: usize) -> Option<Self> {
        if index < MAX_LINES {
            // In range of MAX_LINES, which fits in a u8.
            Some(Self(index as u8))
        } else {
            None
        }
    }

    /// The line's number.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// What the kernel runs, in interrupt context, when a line raises its interrupt.
pub type InterruptHandler = fn(Line);

/// The board's interrupt controller, as far as devices need it: see the
/// [module docs](self) for the contract.
pub trait Interrupts {
    /// Installs the one handler every line calls.
    fn set_handler(&mut self, handler: InterruptHandler);

    /// Sends `line` to `core` (`0..Cores::count`) and unmasks it.
    fn route(&self, line: Line, core: usize);

    /// Lets a line that raised an interrupt raise the next one.
    fn unmask(&self, line: Line);
}

/// A device that raises interrupts.
pub trait InterruptSource {
    /// Acknowledges the device's pending interrupt so that it lowers its line; `true` when
    /// it had one ("was it mine"). Returns at once. With MSI a device may say `false` and
    /// still have work: the kernel always polls after it acks.
    fn ack_interrupt(&mut self) -> bool;
}

impl<T: InterruptSource + ?Sized> InterruptSource for &mut T {
    fn ack_interrupt(&mut self) -> bool {
        T::ack_interrupt(self)
    }
}

/// The controller of a board that wires up no device lines: nothing to route, nothing
/// ever fires.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLines;

impl Interrupts for NoLines {
    fn set_handler(&mut self, _handler: InterruptHandler) {}

    fn route(&self, _line: Line, _core: usize) {}

    fn unmask(&self, _line: Line) {}
}

#[cfg(test)]
mod tests {
    use super::{Line, MAX_LINES};

    #[test]
    fn lines_stop_at_max_lines() {
        assert_eq!(Line::new(0).map(Line::index), Some(0));
        assert_eq!(
            Line::new(MAX_LINES - 1).map(Line::index),
            Some(MAX_LINES - 1)
        );
        assert_eq!(Line::new(MAX_LINES), None);
        assert_eq!(Line::new(usize::MAX), None);
    }
}
