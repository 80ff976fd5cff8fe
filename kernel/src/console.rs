//! The kernel console: one board console shared by `print!`, the logger and fault reports.

use core::fmt;

use spin::Mutex;

/// What the kernel needs of a console: bytes out, errors ignored (a console that cannot
/// print has nobody to tell).
pub(crate) trait Sink: Send {
    fn write_bytes(&mut self, bytes: &[u8]);
}

impl<C: hal::console::Console + Send> Sink for C {
    fn write_bytes(&mut self, bytes: &[u8]) {
        let _ = self.write_all(bytes);
    }
}

static CONSOLE: Mutex<Option<&'static mut dyn Sink>> = Mutex::new(None);

pub(crate) fn install(sink: &'static mut dyn Sink) {
    *CONSOLE.lock() = Some(sink);
}

struct Writer<'a>(&'a mut dyn Sink);

impl fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Writes formatted text to the console; what `print!` expands to.
#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    if let Some(sink) = CONSOLE.lock().as_deref_mut() {
        let _ = fmt::write(&mut Writer(sink), args);
    }
}

/// Writes a report when the kernel is going down. It waits only a bounded time for the
/// console lock: the failing code may hold it and will never release it, and a report that
/// interleaves with other output beats no report.
pub(crate) fn emergency_print(args: fmt::Arguments<'_>) {
    const ATTEMPTS: u32 = 1 << 20;
    let guard = (0..ATTEMPTS).find_map(|_| {
        let guard = CONSOLE.try_lock();
        if guard.is_none() {
            core::hint::spin_loop();
        }
        guard
    });
    let mut guard = guard.unwrap_or_else(|| {
        // SAFETY: whoever holds the lock has stopped for good (it faulted or panicked while
        // printing); the kernel is going down, and a torn line is the worst that can happen.
        unsafe { CONSOLE.force_unlock() };
        CONSOLE.lock()
    });
    if let Some(sink) = guard.as_deref_mut() {
        let _ = fmt::write(&mut Writer(sink), args);
    }
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::_print(format_args!($($arg)*)) };
}

/// Prints to the console, with a newline.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::_print(format_args!("{}\n", format_args!($($arg)*))) };
}
