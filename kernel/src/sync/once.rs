use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::mem::MaybeUninit;
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::sync::{Mutex, PoisonError};

/// A value set once, by the first thread that asks for it; the others wait (parked) until
/// it is there.
///
/// As with `std`, an initialiser that fails (its thread panics or takes a CPU exception)
/// leaves the cell empty, and the next caller, or a thread that was waiting, runs its own.
pub struct OnceLock<T> {
    set: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
    /// Held while an initialiser runs. The blocking mutex makes the others wait: on a core
    /// whose threads take turns, spinning would never let the initialising thread run.
    init: Mutex<()>,
}

// SAFETY: the value is written once, under `init`, before `set` is raised, and only read
// (as `&T`) after; sharing the cell shares `&T` and may move the value in from any thread.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        Self {
            set: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            init: Mutex::new(()),
        }
    }

    /// The value, if it was set.
    pub fn get(&self) -> Option<&T> {
        if self.set.load(Ordering::Acquire) {
            // SAFETY: `set` is raised only after the value was written, and it is never
            // written again.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, set by `init` if nobody set it yet.
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        // Poisoned means an initialiser failed, leaving the cell empty: this one goes on.
        let _only_one = self.init.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = self.get() {
            return value;
        }
        let value = init();
        // SAFETY: `init` is held and `set` is down, so nobody else reads or writes the
        // value.
        let value = unsafe { (*self.value.get()).write(value) };
        self.set.store(true, Ordering::Release);
        value
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        if *self.set.get_mut() {
            // SAFETY: the value was written, and `&mut self` means nobody uses it.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceLock").field(&self.get()).finish()
    }
}

/// A value made on first use, as `std::sync::LazyLock`.
///
/// As with `std`, an initialiser that fails (its thread panics or takes a CPU exception)
/// poisons it: every later use, and every thread that was waiting, panics.
pub struct LazyLock<T> {
    cell: OnceLock<T>,
    init: Cell<Option<fn() -> T>>,
}

// SAFETY: `init` is only taken inside `OnceLock::get_or_init`'s closure, which one thread
// at a time runs, under the cell's lock; the value is shared as `&T`.
unsafe impl<T: Send + Sync> Sync for LazyLock<T> {}

impl<T> LazyLock<T> {
    /// A value that `init` makes on first use.
    pub const fn new(init: fn() -> T) -> Self {
        Self {
            cell: OnceLock::new(),
            init: Cell::new(Some(init)),
        }
    }

    /// The value, made now if this is the first use.
    ///
    /// # Panics
    /// When an earlier initialiser failed.
    pub fn force(this: &Self) -> &T {
        this.cell.get_or_init(|| match this.init.take() {
            Some(init) => init(),
            None => {
                panic!("LazyLock instance has previously been poisoned (its initialiser failed)")
            }
        })
    }
}

impl<T> Deref for LazyLock<T> {
    type Target = T;

    fn deref(&self) -> &T {
        Self::force(self)
    }
}

impl<T: fmt::Debug> fmt::Debug for LazyLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LazyLock").field(&self.cell.get()).finish()
    }
}
