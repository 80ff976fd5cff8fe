//! Cores: how many there are, which one runs, starting and waking them, and halting one
//! while it has nothing to do.

use core::fmt;

use crate::time::Instant;

/// The first function a started core runs, with its core number and interrupts masked
/// (they come on at the core's first [`CpuIdle::idle`]); it never returns.
pub type CoreEntry = extern "C" fn(core: usize) -> !;

/// Why a core could not be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartError {
    /// There is no such core, or it is the boot core.
    NoSuchCore,
    /// The core was started before.
    AlreadyStarted,
    /// The core did not answer the start-up signal in time.
    NoAnswer,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoSuchCore => "no such core",
            Self::AlreadyStarted => "the core was started before",
            Self::NoAnswer => "the core did not answer the start-up signal",
        })
    }
}

impl StartError {
    /// The kind of this error (it is its own kind).
    pub fn kind(&self) -> Self {
        *self
    }
}

/// The cores of the machine, numbered `0..count()`; core 0 boots first and starts the
/// others with [`Cores::start_all`] (or one by one with [`Cores::start`]).
///
/// # Contract
/// Every method but `start` and `start_all` returns at once and may be called on any core.
pub trait Cores {
    /// How many cores the machine has (at least 1).
    fn count(&self) -> usize;

    /// The core this call runs on.
    fn current(&self) -> usize;

    /// The core this call runs on, for cores that tell it without a `Cores` value (a
    /// per-core register): the kernel calls this directly, where the compiler can inline it
    /// into its hottest paths (locks, the allocator), and asks [`Cores::current`] only when
    /// it says `None`, which is what it says unless a type overrides it. Where it says
    /// `Some`, it agrees with `current`.
    fn here() -> Option<usize>
    where
        Self: Sized,
    {
        None
    }

    /// Interrupts `core` so that it leaves [`CpuIdle::idle`] and looks for work. Waking a
    /// core that is not idle costs it an interrupt and nothing else; waking the current
    /// core or one that does not run does nothing.
    fn wake(&self, core: usize);

    /// Starts `core` (1..count): it sets up its own CPU state, then calls `entry(core)` on
    /// the stack that ends at `stack_top`. Returns once the core runs `entry`, or the error.
    ///
    /// # Safety
    /// `stack_top` must be the 16-byte-aligned end of a stack of at least 16 KiB that
    /// nothing else uses and that lives for ever.
    unsafe fn start(
        &self,
        core: usize,
        stack_top: usize,
        entry: CoreEntry,
    ) -> Result<(), StartError>;

    /// Starts cores `1..=stack_tops.len()` together: core `n` runs `entry(n)` on the stack
    /// that ends at `stack_tops[n - 1]`. Returns once every one of them runs `entry` or a
    /// bounded wait has passed, after telling `report` each core's outcome in core order;
    /// a core without an answer is never started again. Boards that can signal all cores
    /// at once override it; by default it [`start`](Cores::start)s one after the other.
    ///
    /// # Safety
    /// Each of `stack_tops` must be as [`Cores::start`] requires, and all different.
    unsafe fn start_all(
        &self,
        stack_tops: &[usize],
        entry: CoreEntry,
        report: &mut dyn FnMut(usize, Result<(), StartError>),
    ) {
        for (index, &stack_top) in stack_tops.iter().enumerate() {
            // SAFETY: the caller's promises for every stack are `start`'s.
            report(index + 1, unsafe {
                self.start(index + 1, stack_top, entry)
            });
        }
    }
}

/// Halting the current core until something happens.
///
/// # Contract
/// `idle` masks interrupts, asks `still_idle`, and if it says `true`, unmasks interrupts
/// and halts in one step, so a wake-up sent after `still_idle` looked is not lost. It
/// returns with interrupts unmasked, after an interrupt was taken or once `deadline` has
/// passed (`None`: no deadline), or at once when `still_idle` said `false`. It may return
/// early for no reason; the caller checks again. `still_idle` runs with interrupts masked
/// and must not block.
pub trait CpuIdle {
    /// Halts the current core until an interrupt or `deadline`, unless `still_idle` says
    /// there is work after all.
    fn idle(&self, deadline: Option<Instant>, still_idle: &mut dyn FnMut() -> bool);
}

impl<T: CpuIdle + ?Sized> CpuIdle for &T {
    fn idle(&self, deadline: Option<Instant>, still_idle: &mut dyn FnMut() -> bool) {
        T::idle(self, deadline, still_idle);
    }
}
