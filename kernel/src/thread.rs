//! Threads, as `std::thread` has them, each pinned to one core.
//!
//! A thread runs on the core it was created on, for its whole life: [`spawn`] creates it
//! on the current core, [`Builder::core`] on another one (by a message to that core). The
//! scheduler of each core is cooperative: a thread runs until it blocks, yields or ends,
//! so a thread that computes for a long time without blocking delays the other threads of
//! its core, never those of other cores.
//!
//! [`JoinHandle::join`] returns `Err` when the thread panicked, took a CPU exception
//! (division by zero, a bad pointer, an invalid instruction) or overflowed its stack into
//! the guard page below it: the thread ends, everything else goes on. The build aborts on
//! panic rather than unwinding, so such a thread's destructors do not run: what it owned
//! leaks. A [`Mutex`](crate::sync::Mutex) it held is poisoned: the next thread to lock it
//! gets it with a [`PoisonError`](crate::sync::PoisonError), as in `std`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use spin::Mutex;

use crate::fault::PanicMessage;
use crate::sched::{self, Outcome, SpawnError as SchedSpawnError, ThreadInner};
use crate::time::{Duration, Instant};

/// The stack size of a thread when [`Builder::stack_size`] does not say.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// How a thread ended when it did not return a value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThreadError {
    /// The thread panicked, with this message.
    Panicked(PanicMessage),
    /// An allocation of `size` bytes failed in the thread: the heap ran out.
    OutOfMemory {
        /// The size of the allocation that failed.
        size: usize,
    },
    /// The thread took a CPU exception.
    Fault {
        /// The exception vector.
        vector: u8,
        /// The exception's name.
        name: &'static str,
        /// The faulting instruction.
        instruction_pointer: u64,
        /// The address whose access faulted, for page faults.
        address: Option<u64>,
    },
    /// The thread ran past the end of its stack, into the guard page at `address`.
    StackOverflow {
        /// The address in the guard page that was touched.
        address: u64,
    },
    /// The stack was too small to start the thread on.
    StackTooSmall,
}

impl fmt::Display for ThreadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panicked(message) => write!(f, "panicked: {message}"),
            Self::OutOfMemory { size } => {
                write!(f, "out of memory: an allocation of {size} bytes failed")
            }
            Self::Fault {
                vector,
                name,
                instruction_pointer,
                address,
            } => {
                write!(
                    f,
                    "CPU exception {vector} ({name}) at RIP={instruction_pointer:#x}"
                )?;
                match address {
                    Some(address) => write!(f, " touching {address:#x}"),
                    None => Ok(()),
                }
            }
            Self::StackOverflow { address } => {
                write!(f, "stack overflow (touched the guard page at {address:#x})")
            }
            Self::StackTooSmall => f.write_str("the stack is too small to start the thread"),
        }
    }
}

/// Why a thread could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// The core does not exist or runs no threads; the count is [`available_cores`].
    NoSuchCore(usize),
    /// There was no memory for the thread's stack.
    OutOfMemory,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchCore(core) => {
                write!(
                    f,
                    "no core {core} to run a thread on ({} cores run threads)",
                    available_cores()
                )
            }
            Self::OutOfMemory => f.write_str("out of memory for the thread's stack"),
        }
    }
}

/// A thread's identity, unique for the life of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(u64);

impl ThreadId {
    /// The number behind the identity.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// A handle to a thread.
#[derive(Clone)]
pub struct Thread(Arc<ThreadInner>);

impl Thread {
    /// The thread's identity.
    pub fn id(&self) -> ThreadId {
        ThreadId(self.0.id)
    }

    /// The thread's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The core the thread runs on.
    pub fn core(&self) -> usize {
        self.0.core
    }

    /// Lets the thread go on if it is in [`park`], or makes its next `park` return at once.
    pub fn unpark(&self) {
        sched::unpark(&self.0);
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.0.id)
            .field("name", &self.0.name)
            .field("core", &self.0.core)
            .finish()
    }
}

/// The thread that calls this, or `None` outside any thread (in a core's own loop).
pub fn try_current() -> Option<Thread> {
    sched::current().map(Thread)
}

/// The thread that calls this.
///
/// # Panics
/// Outside a thread, which application code never is.
pub fn current() -> Thread {
    try_current().expect("thread::current outside a thread")
}

/// The number of cores that run threads: threads can be created on cores
/// `0..available_cores()`.
pub fn available_cores() -> usize {
    sched::running_cores()
}

/// Gives the other ready threads of this core a turn.
pub fn yield_now() {
    sched::yield_now();
}

/// Blocks the thread for at least `duration`; the core runs other threads or halts.
pub fn sleep(duration: Duration) {
    sleep_until(Instant::now() + duration);
}

/// Blocks the thread until `deadline`.
pub fn sleep_until(deadline: Instant) {
    while Instant::now() < deadline {
        sched::park_until(deadline.into());
    }
}

/// Blocks until [`Thread::unpark`] (which may have come first) or, rarely, for no reason:
/// callers check their condition again, as with `std::thread::park`.
pub fn park() {
    sched::park();
}

/// As [`park`], for at most `timeout`.
pub fn park_timeout(timeout: Duration) {
    sched::park_until((Instant::now() + timeout).into());
}

/// Where a thread's result goes, and who waits for it.
struct Packet<T> {
    result: Mutex<Option<Result<T, ThreadError>>>,
    done: AtomicBool,
    joiner: Mutex<Option<Thread>>,
}

impl<T> Packet<T> {
    fn finish(&self, result: Result<T, ThreadError>) {
        *self.result.lock() = Some(result);
        self.done.store(true, Ordering::Release);
        if let Some(joiner) = self.joiner.lock().take() {
            joiner.unpark();
        }
    }
}

impl<T: Send> Outcome for Packet<T> {
    fn fail(&self, error: ThreadError) {
        self.finish(Err(error));
    }
}

/// The right to wait for a thread and take its result.
pub struct JoinHandle<T> {
    thread: Thread,
    packet: Arc<Packet<T>>,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to end: its value, or how it failed.
    pub fn join(self) -> Result<T, ThreadError> {
        loop {
            if self.packet.done.load(Ordering::Acquire) {
                let result = self
                    .packet
                    .result
                    .lock()
                    .take()
                    .expect("a finished thread left its result");
                if let Err(error) = &result {
                    log::debug!(
                        "joined thread {} ({}): {error}; its report above ends with the backtrace",
                        self.thread.id().as_u64(),
                        self.thread.name().unwrap_or("unnamed"),
                    );
                }
                return result;
            }
            *self.packet.joiner.lock() = Some(current());
            if !self.packet.done.load(Ordering::Acquire) {
                park();
            }
        }
    }

    /// The thread.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.packet.done.load(Ordering::Acquire)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .finish_non_exhaustive()
    }
}

/// How to create a thread: its name, core and stack size.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    name: Option<String>,
    core: Option<usize>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A thread on the current core, unnamed, with [`DEFAULT_STACK_SIZE`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the thread.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Puts the thread on `core` (`0..available_cores()`).
    pub fn core(mut self, core: usize) -> Self {
        self.core = Some(core);
        self
    }

    /// Gives the thread a stack of at least `bytes` (rounded up to whole pages).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Creates the thread running `f`.
    pub fn spawn<F, T>(self, f: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let core = self.core.unwrap_or_else(sched::current_core);
        let packet = Arc::new(Packet {
            result: Mutex::new(None),
            done: AtomicBool::new(false),
            joiner: Mutex::new(None),
        });
        let result = packet.clone();
        let start = Box::new(move || result.finish(Ok(f())));
        let outcome: Arc<dyn Outcome> = packet.clone();
        let stack_size = self.stack_size.unwrap_or(DEFAULT_STACK_SIZE);
        match sched::spawn(core, self.name, stack_size, start, outcome) {
            Ok(inner) => Ok(JoinHandle {
                thread: Thread(inner),
                packet,
            }),
            Err(SchedSpawnError::NoSuchCore) => Err(SpawnError::NoSuchCore(core)),
            Err(SchedSpawnError::OutOfMemory) => Err(SpawnError::OutOfMemory),
        }
    }
}

/// Creates a thread on the current core running `f`.
///
/// # Panics
/// When there is no memory for its stack; [`Builder::spawn`] returns that as an error.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("spawning a thread")
}

/// The main thread's id, so that a fault there ends the machine as `std` ends the process.
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);

pub(crate) fn set_main(thread: &Thread) {
    MAIN_THREAD.store(thread.0.id, Ordering::Relaxed);
}

pub(crate) fn is_main(id: u64) -> bool {
    MAIN_THREAD.load(Ordering::Relaxed) == id
}
