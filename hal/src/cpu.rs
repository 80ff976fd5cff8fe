//! Cores: how many there are, which one runs, waking one, and halting one while idle.

use crate::time::Instant;

/// The cores of the machine, numbered `0..count()`; core 0 boots first.
///
/// # Contract
/// Every method returns at once and may be called on any core.
pub trait Cores {
    /// How many cores the machine has (at least 1).
    fn count(&self) -> usize;

    /// The core this call runs on.
    fn current(&self) -> usize;

    /// Interrupts `core` so that it leaves [`CpuIdle::idle`] and looks for work. Waking the
    /// current core, a core that is not idle, or a core that does not exist does nothing.
    fn wake(&self, core: usize);
}

/// Halting the current core until something happens.
///
/// # Contract
/// `idle` is called with interrupts masked, after the caller saw there was nothing to run;
/// it unmasks interrupts and halts in one step, so a wake-up that arrives between the check
/// and the halt is not lost. It returns, with interrupts masked again, after at least one
/// interrupt was taken or once `deadline` has passed (`None`: no deadline). It may return
/// early for no reason; the caller checks again.
pub trait CpuIdle {
    /// Halts until an interrupt or `deadline`.
    fn idle(&mut self, deadline: Option<Instant>);
}

impl<T: CpuIdle + ?Sized> CpuIdle for &mut T {
    fn idle(&mut self, deadline: Option<Instant>) {
        T::idle(self, deadline);
    }
}
