//! The context switch: saving one thread's registers and resuming another's.
//!
//! A thread's registers live on its own stack while it is suspended; a [`Context`] is only
//! the stack pointer that finds them again. The scheduler decides whom to run; the
//! implementation of [`ContextSwitch`] only moves between two stacks.

/// The first function a new context runs; it receives the `arg` given to
/// [`ContextSwitch::prepare`] and never returns.
pub type Entry = extern "C" fn(arg: usize) -> !;

/// A suspended thread: where its stack pointer was left.
#[derive(Debug, Default)]
#[repr(C)]
pub struct Context {
    /// The saved stack pointer; meaningless while the thread runs.
    pub stack_pointer: usize,
}

/// Switching between stacks.
///
/// # Contract
/// [`prepare`](Self::prepare) writes only into the stack it is given; the first
/// [`switch`](Self::switch) to the returned context calls `entry(arg)` on that stack with the
/// stack aligned as the platform's C calling convention wants.
pub trait ContextSwitch {
    /// Lays out `stack` so that the first switch to the returned context calls
    /// `entry(arg)`, or `None` when `stack` is too small to hold the initial frame
    /// (256 bytes always suffice).
    fn prepare(&self, stack: &mut [u8], entry: Entry, arg: usize) -> Option<Context>;

    /// Saves the current thread's registers into `from` and resumes `to`. Returns when some
    /// later switch resumes `from`.
    ///
    /// # Safety
    /// `to` must be a context that [`prepare`](Self::prepare) returned or that a `switch`
    /// saved and that has not been resumed since, and its stack must still be alive.
    unsafe fn switch(&self, from: &mut Context, to: &Context);

    /// The frame pointer of the function that calls this method, where a backtrace of it
    /// starts: that frame holds its caller's frame pointer at `fp` and its return address
    /// at `fp + 8`, and so on up the chain, which ends with a frame pointer of 0. Valid
    /// while the calling function runs; 0 where the code keeps no frame chain.
    fn frame_pointer(&self) -> usize;
}
