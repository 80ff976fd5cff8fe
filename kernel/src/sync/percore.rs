use alloc::boxed::Box;
use core::fmt;

use crate::sync::OnceLock;

/// One value per core, each used by the threads of its core: data that is never shared
/// between cores needs no cross-core synchronisation and causes no cache traffic.
///
/// The values are made on first use, one per core of the machine, by `init(core)`.
pub struct PerCore<T> {
    values: OnceLock<Box<[T]>>,
    init: fn(usize) -> T,
}

impl<T> PerCore<T> {
    /// Values that `init(core)` makes on first use.
    pub const fn new(init: fn(usize) -> T) -> Self {
        Self {
            values: OnceLock::new(),
            init,
        }
    }

    fn values(&self) -> &[T] {
        self.values
            .get_or_init(|| (0..crate::system::core_count()).map(self.init).collect())
    }

    /// The value of the current core.
    pub fn get(&self) -> &T {
        &self.values()[crate::system::current_core()]
    }

    /// The value of `core`, for reading another core's share (totals, statistics).
    pub fn of(&self, core: usize) -> Option<&T> {
        self.values().get(core)
    }
}

impl<T> fmt::Debug for PerCore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerCore").finish_non_exhaustive()
    }
}
