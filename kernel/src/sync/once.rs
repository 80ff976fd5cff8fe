use core::cell::Cell;
use core::fmt;
use core::ops::Deref;

use crate::sync::Mutex;

/// A value set once, by the first thread that asks for it; the others wait (parked) until
/// it is there.
pub struct OnceLock<T> {
    value: spin::Once<T>,
    init: Mutex<()>,
}

impl<T> OnceLock<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        Self {
            value: spin::Once::new(),
            init: Mutex::new(()),
        }
    }

    /// The value, if it was set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// The value, set by `init` if nobody set it yet.
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        if let Some(value) = self.value.get() {
            return value;
        }
        // The blocking mutex, not the spinning `Once`, makes the others wait: on a core
        // whose threads take turns, spinning would never let the initialising thread run.
        let _only_one = self.init.lock();
        self.value.call_once(init)
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
pub struct LazyLock<T> {
    cell: OnceLock<T>,
    init: Cell<Option<fn() -> T>>,
}

// SAFETY: `init` is only taken inside `OnceLock::get_or_init`'s closure, which one thread
// runs, once, under the cell's lock; the value is shared as `&T`.
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
    pub fn force(this: &Self) -> &T {
        this.cell
            .get_or_init(|| (this.init.take().expect("LazyLock initialised once"))())
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
