//! The schedulers: one per core, each with its own run queue, and no queue shared between
//! cores.
//!
//! Threads stay on the core they were created on. Within a core, scheduling is
//! cooperative, as in Toro: a thread runs until it blocks (a lock, a channel, a join, a
//! sleep), yields or ends, and every blocking call is a switch point. A thread that never
//! blocks keeps its core: the other threads of that core wait until it does, while every
//! other core goes on. Cores talk through an inbox each: a thread created for another core,
//! or woken from another core, is put in that core's inbox, and the core is woken by an
//! interrupt if it is halted.
//!
//! This is the kernel's context-switch boundary, the one module that switches stacks.
//!
//! # How a switch stays sound
//! Each core keeps a depth counter of "kernel code in progress". Every switch happens at
//! depth 1, and the code a switch lands in takes that 1 over: a resumed thread lowers it on
//! its way back to the application, a new thread lowers it first thing. A CPU exception at
//! depth 0 in a thread belongs to that thread; at depth above 0, or outside any thread, it
//! is the kernel's own.

mod stack;

use alloc::boxed::Box;
use alloc::collections::{BinaryHeap, VecDeque};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::{Cell, UnsafeCell};
use core::cmp::{Ordering as CmpOrdering, Reverse};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use hal::context::{Context, ContextSwitch};
use hal::cpu::{Cores, CpuIdle};
use hal::memory::GuardPages;
use hal::time::{Clock, Instant};
use spin::{Mutex, Once};

pub(crate) use self::stack::Stack;
use crate::sync::LockHolder;
use crate::thread::ThreadError;

/// The board's devices the schedulers use.
pub(crate) struct Machine {
    pub(crate) cores: &'static (dyn Cores + Sync),
    pub(crate) idle: &'static (dyn CpuIdle + Sync),
    pub(crate) switch: &'static (dyn ContextSwitch + Sync),
    pub(crate) guard: &'static (dyn GuardPages + Sync),
    pub(crate) clock: &'static (dyn Clock + Sync),
}

static MACHINE: Once<Machine> = Once::new();
static CORES: Once<Box<[Core]>> = Once::new();
/// How many cores run a scheduler: core 0 and the cores started after it.
static RUNNING: AtomicUsize = AtomicUsize::new(1);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn machine() -> &'static Machine {
    match MACHINE.get() {
        Some(machine) => machine,
        None => no_machine(),
    }
}

/// `machine()` before `init`: a bug in the kernel. Out of line, so that each of the many
/// inlined `machine()` calls costs one `call` (`cargo probe size`).
#[cold]
#[inline(never)]
fn no_machine() -> ! {
    panic!("the kernel took over the board")
}

/// Sets the schedulers up, one per core; the cores other than 0 start later.
pub(crate) fn init(machine: Machine) {
    let count = machine.cores.count();
    MACHINE.call_once(|| machine);
    CORES.call_once(|| (0..count).map(|_| Core::new()).collect());
}

fn cores() -> &'static [Core] {
    CORES.get().map_or(&[], |cores| cores)
}

fn this_core() -> &'static Core {
    &cores()[current_core()]
}

/// How many cores run threads.
pub(crate) fn running_cores() -> usize {
    RUNNING.load(Ordering::Acquire)
}

/// Marks `count` cores (0..count) as running threads.
pub(crate) fn set_running_cores(count: usize) {
    RUNNING.store(count.clamp(1, cores().len().max(1)), Ordering::Release);
}

/// Where a thread is in its life, as its own core sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunState {
    /// Created, not yet given a context on its core.
    New,
    Ready,
    Running,
    Blocked,
    Dead,
}

/// The park token, as `std::thread::park` has it.
const EMPTY: u8 = 0;
const PARKED: u8 = 1;
const NOTIFIED: u8 = 2;

/// What a thread's end is reported to when it does not end by returning.
pub(crate) trait Outcome: Send + Sync {
    /// The thread ended with `error` instead of a value.
    fn fail(&self, error: ThreadError);
}

/// A thread, as the scheduler keeps it.
pub(crate) struct ThreadInner {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
    pub(crate) core: usize,
    token: AtomicU8,
    // Only the thread's own core touches what follows.
    state: Cell<RunState>,
    context: UnsafeCell<Context>,
    stack: UnsafeCell<Option<Stack>>,
    start: UnsafeCell<Option<Box<dyn FnOnce() + Send>>>,
    /// Taken and dropped by the thread itself as it ends, at depth 0: it may hold the
    /// thread's result, whose `Drop` is application code and must not run inside a
    /// scheduler.
    outcome: UnsafeCell<Option<Arc<dyn Outcome>>>,
    /// Counts the thread's timed waits; a sleeper entry of an earlier wait is stale.
    sleep_generation: Cell<u64>,
    /// The mutexes it holds, for their waiters to learn if it fails.
    pub(crate) locks: LockHolder,
}

// SAFETY: the cells are used only by the core the thread belongs to (its scheduler and the
// thread itself, which never run at once); other cores only touch `token`, the immutable
// fields and `locks` (whose own `Sync` says why), and hand the thread over through an inbox.
unsafe impl Sync for ThreadInner {}
// SAFETY: as for Sync; the start closure and the outcome are Send themselves.
unsafe impl Send for ThreadInner {}

impl ThreadInner {
    /// The guard page of this thread's stack, if it has a stack.
    fn guard_range(&self) -> Option<core::ops::Range<u64>> {
        // SAFETY: called on the thread's own core (by the fault handler, for the current
        // thread); nothing else touches the stack field meanwhile.
        unsafe { (*self.stack.get()).as_ref().map(Stack::guard_range) }
    }

    /// The addresses of this thread's stack above its guard page, if it has a stack: where
    /// a backtrace of the thread may read.
    pub(crate) fn stack_range(&self) -> Option<core::ops::Range<usize>> {
        // SAFETY: called on the thread's own core (by the fault and panic reports, for the
        // current thread); nothing else touches the stack field meanwhile.
        unsafe { (*self.stack.get()).as_ref().map(Stack::range) }
    }
}

struct Sleeper {
    deadline: Instant,
    thread: Arc<ThreadInner>,
    generation: u64,
}

impl Sleeper {
    /// Whether the wait this entry was made for is still going on.
    fn live(&self) -> bool {
        self.thread.sleep_generation.get() == self.generation
    }
}

impl PartialEq for Sleeper {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}

impl Eq for Sleeper {}

impl PartialOrd for Sleeper {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sleeper {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.deadline.cmp(&other.deadline)
    }
}

/// One core's scheduler.
struct Core {
    // Only this core touches the cells.
    ready: UnsafeCell<VecDeque<Arc<ThreadInner>>>,
    sleepers: UnsafeCell<BinaryHeap<Reverse<Sleeper>>>,
    current: UnsafeCell<Option<Arc<ThreadInner>>>,
    /// The core's own loop, where it waits when no thread is ready.
    home: UnsafeCell<Context>,
    /// A thread that ended, whose stack is freed once the core has left it.
    dead: UnsafeCell<Option<Arc<ThreadInner>>>,
    depth: Cell<u32>,
    // What other cores use.
    inbox: Mutex<Vec<Arc<ThreadInner>>>,
    has_mail: AtomicBool,
    halted: AtomicBool,
}

// SAFETY: the cells are used only on the core itself (by its loop and its threads, which
// never run at once, and never from interrupt handlers); other cores use only the inbox
// and the atomics.
unsafe impl Sync for Core {}

impl Core {
    fn new() -> Self {
        Self {
            ready: UnsafeCell::new(VecDeque::new()),
            sleepers: UnsafeCell::new(BinaryHeap::new()),
            current: UnsafeCell::new(None),
            home: UnsafeCell::new(Context::default()),
            dead: UnsafeCell::new(None),
            depth: Cell::new(0),
            inbox: Mutex::new(Vec::new()),
            has_mail: AtomicBool::new(false),
            halted: AtomicBool::new(false),
        }
    }

    #[allow(clippy::mut_from_ref)] // A core-local cell: see the `Sync` impl above.
    fn ready(&self) -> &mut VecDeque<Arc<ThreadInner>> {
        // SAFETY: only this core uses the queue, and no caller holds the reference across
        // a switch or another call that takes it.
        unsafe { &mut *self.ready.get() }
    }

    #[allow(clippy::mut_from_ref)] // A core-local cell: see the `Sync` impl above.
    fn sleepers(&self) -> &mut BinaryHeap<Reverse<Sleeper>> {
        // SAFETY: as for `ready`.
        unsafe { &mut *self.sleepers.get() }
    }

    fn current(&self) -> Option<&Arc<ThreadInner>> {
        // SAFETY: only this core sets `current`, and only between switches.
        unsafe { (*self.current.get()).as_ref() }
    }

    fn set_current(&self, thread: Option<Arc<ThreadInner>>) {
        // SAFETY: as for `current`.
        unsafe { *self.current.get() = thread };
    }

    /// Takes in what other cores sent and wakes the sleepers whose time has come.
    fn collect(&self) {
        crate::irq::service(current_core());
        if self.has_mail.swap(false, Ordering::Acquire) {
            let mail = core::mem::take(&mut *self.inbox.lock());
            for thread in mail {
                self.accept(thread);
            }
        }
        if !self.sleepers().is_empty() {
            let now = machine().clock.now();
            while self
                .sleepers()
                .peek()
                .is_some_and(|Reverse(s)| s.deadline <= now)
            {
                if let Some(Reverse(sleeper)) = self.sleepers().pop()
                    && sleeper.live()
                {
                    unpark(&sleeper.thread);
                }
            }
        }
    }

    /// Makes a thread of this core ready: a new one gets its context, a blocked one is
    /// queued, one that is ready or running already is left alone.
    fn accept(&self, thread: Arc<ThreadInner>) {
        match thread.state.get() {
            RunState::New => {
                // SAFETY: the thread is new and belongs to this core; nothing else uses
                // its stack or context yet.
                let stack = unsafe { &mut *thread.stack.get() };
                let Some(stack) = stack.as_mut() else { return };
                if !stack.protect() {
                    log::warn!("thread {}: no guard page below its stack", thread.id);
                }
                let arg = Arc::into_raw(thread.clone()) as usize;
                match machine().switch.prepare(stack.usable(), thread_entry, arg) {
                    Some(context) => {
                        // SAFETY: as above.
                        unsafe { *thread.context.get() = context };
                        thread.state.set(RunState::Ready);
                        self.ready().push_back(thread);
                    }
                    None => {
                        // SAFETY: `arg` came from `Arc::into_raw` just above and was not used.
                        drop(unsafe { Arc::from_raw(arg as *const ThreadInner) });
                        thread.state.set(RunState::Dead);
                        // SAFETY: the thread never ran, so nothing else uses its outcome.
                        if let Some(outcome) = unsafe { (*thread.outcome.get()).take() } {
                            outcome.fail(ThreadError::StackTooSmall);
                        }
                    }
                }
            }
            RunState::Blocked => {
                thread.state.set(RunState::Ready);
                self.ready().push_back(thread);
            }
            RunState::Ready | RunState::Running | RunState::Dead => {}
        }
    }

    /// Frees the stack of the thread that ended last, now that the core is off it.
    fn reap(&self) {
        // SAFETY: only this core uses `dead`, and the thread in it no longer runs.
        if let Some(dead) = unsafe { (*self.dead.get()).take() } {
            // SAFETY: as above; the stack is dropped on the core that protected it.
            drop(unsafe { (*dead.stack.get()).take() });
        }
    }

    fn earliest_deadline(&self) -> Option<Instant> {
        let sleepers = self.sleepers();
        // Waits that ended early (a disk request's driver check, a socket timeout) would
        // wake the core for nothing.
        while sleepers.peek().is_some_and(|Reverse(s)| !s.live()) {
            sleepers.pop();
        }
        sleepers.peek().map(|Reverse(s)| s.deadline)
    }
}

/// Runs the threads that are ready on the current core until none is, then returns: one
/// turn of the core's loop. Host tests drive cores turn by turn with it.
pub(crate) fn turn() {
    let core = this_core();
    core.depth.set(1);
    loop {
        core.collect();
        let Some(next) = core.ready().pop_front() else {
            break;
        };
        next.state.set(RunState::Running);
        let to = next.context.get();
        core.set_current(Some(next));
        // SAFETY: `to` is the context of a ready thread of this core, prepared or saved by
        // its last switch, with its stack alive; `home` is this core's own context.
        unsafe { machine().switch.switch(&mut *core.home.get(), &*to) };
        core.reap();
    }
    core.depth.set(0);
}

/// The core's loop: run what is ready, then halt until an interrupt or the next sleeper's
/// deadline. Never returns.
pub(crate) fn run_core() -> ! {
    loop {
        turn();
        halt();
    }
}

/// Halts the current core until an interrupt or its next sleeper's deadline, unless it has
/// work waiting.
pub(crate) fn halt() {
    let index = current_core();
    let core = &cores()[index];
    let deadline = core.earliest_deadline();
    core.halted.store(true, Ordering::SeqCst);
    machine()
        .idle
        .idle(deadline, &mut || still_idle(core, index));
    core.halted.store(false, Ordering::SeqCst);
}

/// Whether `core`, number `index`, may halt: no mail and no device interrupt pending. The
/// idle asks with interrupts masked, so that whatever comes after ends the halt.
fn still_idle(core: &Core, index: usize) -> bool {
    !core.has_mail.load(Ordering::SeqCst) && !crate::irq::pending(index)
}

/// Whether the current core would halt now.
pub(crate) fn would_idle() -> bool {
    let index = current_core();
    still_idle(&cores()[index], index)
}

/// Where a new thread begins, on its own stack.
extern "C" fn thread_entry(arg: usize) -> ! {
    // SAFETY: `accept` passed a pointer from `Arc::into_raw`, used once here.
    let me = unsafe { Arc::from_raw(arg as *const ThreadInner) };
    let core = this_core();
    core.reap();
    // SAFETY: the closure is taken once, by the thread itself, on its own core.
    let start = unsafe { (*me.start.get()).take() };
    drop(me);
    core.depth.set(0);
    if let Some(start) = start {
        start();
    }
    drop(take_outcome());
    exit_current()
}

/// The current thread's outcome, taken so that it is dropped here, at depth 0.
fn take_outcome() -> Option<Arc<dyn Outcome>> {
    let me = this_core().current()?;
    // SAFETY: only the thread itself takes its outcome, on its own core.
    unsafe { (*me.outcome.get()).take() }
}

/// What the current thread does as it leaves the CPU.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leave {
    Yield,
    Block,
    Exit,
}

/// Switches from the current thread to the next ready one, or to the core's loop. Returns
/// when the current thread runs again (never, for `Exit`).
fn reschedule(leave: Leave) {
    let core = this_core();
    core.depth.set(core.depth.get() + 1);
    let Some(me) = core.current().cloned() else {
        core.depth.set(core.depth.get() - 1);
        return;
    };
    match leave {
        Leave::Yield => me.state.set(RunState::Ready),
        Leave::Block => me.state.set(RunState::Blocked),
        Leave::Exit => me.state.set(RunState::Dead),
    }
    core.collect();
    if leave == Leave::Yield {
        if core.ready().is_empty() {
            me.state.set(RunState::Running);
            core.depth.set(core.depth.get() - 1);
            return;
        }
        core.ready().push_back(me.clone());
    }
    let next = core.ready().pop_front();
    if next.as_ref().is_some_and(|next| Arc::ptr_eq(next, &me)) {
        // Woken while it was leaving: it simply goes on.
        me.state.set(RunState::Running);
        core.depth.set(core.depth.get() - 1);
        return;
    }
    let from = me.context.get();
    let to = match next {
        Some(next) => {
            next.state.set(RunState::Running);
            let to = next.context.get();
            core.set_current(Some(next));
            to.cast_const()
        }
        None => {
            core.set_current(None);
            core.home.get().cast_const()
        }
    };
    // The thread must outlive the switch, even when nobody else holds it (a thread that
    // blocks for ever): a dead one stays in the core's `dead` slot until the next thread
    // has left its stack, a live one in this frame until it runs again.
    let keep = if leave == Leave::Exit {
        // SAFETY: only this core uses `dead`; the previous dead thread was reaped when this
        // thread was switched to.
        unsafe { *core.dead.get() = Some(me) };
        None
    } else {
        Some(me)
    };
    // SAFETY: `to` is a ready thread's context or the core's loop, both suspended on live
    // stacks; `from` belongs to the current thread, which `keep` or `dead` keeps alive.
    unsafe { machine().switch.switch(&mut *from, &*to) };
    drop(keep);
    let core = this_core();
    core.reap();
    core.depth.set(core.depth.get() - 1);
}

/// Gives the other ready threads of this core a turn.
pub(crate) fn yield_now() {
    reschedule(Leave::Yield);
}

/// Ends the current thread. Its `start` closure already reported how it ended.
pub(crate) fn exit_current() -> ! {
    if let Some(me) = this_core().current()
        && me.locks.holds_any()
    {
        // A mutex it still holds names it as owner, for its waiters to look at: keep it.
        core::mem::forget(me.clone());
    }
    reschedule(Leave::Exit);
    unreachable!("a dead thread was switched to")
}

/// Ends the current thread with `error`, reported to whoever joins it.
pub(crate) fn fail_current(error: ThreadError) -> ! {
    // Kernel work: should telling the others fail in turn (no memory to wake a thread on
    // another core), the machine stops with a report instead of the thread failing twice
    // and its joiner never hearing of it.
    enter_kernel();
    if let Some(me) = this_core().current().cloned() {
        me.locks.fail();
    }
    if let Some(outcome) = take_outcome() {
        outcome.fail(error);
    }
    leave_kernel();
    exit_current()
}

/// Marks kernel work on the current core, as a fault handler does while it reports, so
/// that a fault meanwhile is the kernel's, not the thread's. Pair with [`leave_kernel`].
pub(crate) fn enter_kernel() {
    if let Some(core) = MACHINE.get().and_then(|m| cores().get(m.cores.current())) {
        core.depth.set(core.depth.get() + 1);
    }
}

/// Runs `f` as kernel work on core `core` (the current core, already known to the
/// caller): the allocator's lock and caches are kernel state, so a fault inside them must
/// stop the machine rather than end a thread and leave them half-changed.
pub(crate) fn as_kernel<R>(core: usize, f: impl FnOnce() -> R) -> R {
    let Some(depth) = cores().get(core).map(|c| &c.depth) else {
        return f();
    };
    depth.set(depth.get() + 1);
    let result = f();
    depth.set(depth.get() - 1);
    result
}

/// Ends what [`enter_kernel`] began.
pub(crate) fn leave_kernel() {
    if let Some(core) = MACHINE.get().and_then(|m| cores().get(m.cores.current())) {
        core.depth.set(core.depth.get().saturating_sub(1));
    }
}

/// Blocks the current thread until [`unpark`] (which may have come first).
pub(crate) fn park() {
    let Some(me) = this_core().current().cloned() else {
        return;
    };
    if me
        .token
        .compare_exchange(EMPTY, PARKED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        drop(me);
        reschedule(Leave::Block);
        if let Some(me) = this_core().current() {
            me.token.store(EMPTY, Ordering::Release);
        }
    } else {
        me.token.store(EMPTY, Ordering::Release);
    }
}

/// Blocks the current thread until [`unpark`] or `deadline`.
pub(crate) fn park_until(deadline: Instant) {
    let core = this_core();
    let Some(me) = core.current().cloned() else {
        return;
    };
    if machine().clock.now() >= deadline {
        return;
    }
    let generation = me.sleep_generation.get();
    let sleepers = core.sleepers();
    sleepers.push(Reverse(Sleeper {
        deadline,
        thread: me.clone(),
        generation,
    }));
    // Waits that ended early leave their entries behind until their deadline; clear them
    // out as the heap doubles, so that many short waits with long timeouts cannot pile up.
    if sleepers.len() >= 64 && sleepers.len().is_power_of_two() {
        sleepers.retain(|Reverse(s)| s.live());
    }
    park();
    // Whether the deadline or something else woke us, this wait is over.
    me.sleep_generation.set(generation + 1);
}

/// Lets a parked thread go on, on whichever core it is.
pub(crate) fn unpark(thread: &Arc<ThreadInner>) {
    if thread.token.swap(NOTIFIED, Ordering::AcqRel) == PARKED {
        make_ready(thread.clone());
    }
}

/// Hands `thread` to its core: directly on that core, else through its inbox and a
/// wake-up interrupt if the core is halted.
fn make_ready(thread: Arc<ThreadInner>) {
    let here = current_core();
    let target = thread.core;
    if target == here {
        let core = this_core();
        core.depth.set(core.depth.get() + 1);
        core.accept(thread);
        core.depth.set(core.depth.get() - 1);
        return;
    }
    let core = &cores()[target];
    core.inbox.lock().push(thread);
    // Mail already waiting means the core was woken for it, or checks it before it halts
    // (it never halts with `has_mail` set): one interrupt serves a burst of mail.
    if !core.has_mail.swap(true, Ordering::SeqCst) && core.halted.load(Ordering::SeqCst) {
        machine().cores.wake(target);
    }
}

/// Why a thread could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpawnError {
    NoSuchCore,
    OutOfMemory,
}

/// Creates a thread on `core` that runs `start`; `outcome` hears if it fails instead.
pub(crate) fn spawn(
    core: usize,
    name: Option<String>,
    stack_size: usize,
    start: Box<dyn FnOnce() + Send>,
    outcome: Arc<dyn Outcome>,
) -> Result<Arc<ThreadInner>, SpawnError> {
    if core >= running_cores() {
        return Err(SpawnError::NoSuchCore);
    }
    let stack = Stack::new(stack_size).ok_or(SpawnError::OutOfMemory)?;
    let thread = Arc::new(ThreadInner {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        name,
        core,
        token: AtomicU8::new(EMPTY),
        state: Cell::new(RunState::New),
        context: UnsafeCell::new(Context::default()),
        stack: UnsafeCell::new(Some(stack)),
        start: UnsafeCell::new(Some(start)),
        outcome: UnsafeCell::new(Some(outcome)),
        sleep_generation: Cell::new(0),
        locks: LockHolder::new(),
    });
    make_ready(thread.clone());
    Ok(thread)
}

/// The board's context switch, once the kernel has it.
pub(crate) fn context_switch() -> Option<&'static (dyn ContextSwitch + Sync)> {
    MACHINE.get().map(|machine| machine.switch)
}

/// The current thread, if a thread (not a core's loop) runs.
pub(crate) fn current() -> Option<Arc<ThreadInner>> {
    cores().get(current_core())?.current().cloned()
}

/// The current thread, without taking a reference: null outside any thread.
pub(crate) fn current_ptr() -> *const ThreadInner {
    cores()
        .get(current_core())
        .and_then(Core::current)
        .map_or(core::ptr::null(), Arc::as_ptr)
}

unsafe extern "Rust" {
    /// The board's `Cores::here`, defined by [`cores!`](crate::cores).
    fn __novillo_current_core() -> Option<usize>;
}

/// The current core.
#[inline]
pub(crate) fn current_core() -> usize {
    // SAFETY: `kernel::cores!`, which `kernel::board!` invokes, defines it with exactly this
    // signature; an image or test without it does not link.
    match unsafe { __novillo_current_core() } {
        Some(core) => core,
        None => MACHINE.get().map_or(0, |m| m.cores.current()),
    }
}

/// The thread a CPU exception belongs to: the current thread, unless the exception hit
/// kernel code (a scheduler in the middle of its work, or a core's loop). With the thread
/// comes whether the faulting address lies in its stack's guard page.
pub(crate) fn faulting_thread(address: Option<u64>) -> Option<(Arc<ThreadInner>, bool)> {
    let core = cores().get(MACHINE.get()?.cores.current())?;
    if core.depth.get() != 0 {
        return None;
    }
    let thread = core.current()?.clone();
    let overflow = address.is_some_and(|a| thread.guard_range().is_some_and(|r| r.contains(&a)));
    Some((thread, overflow))
}
