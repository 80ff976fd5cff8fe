//! A panic message kept without the heap: a thread that panics because the heap ran out
//! must still be reported, and its `join` must still return the message.

use core::fmt;
use core::ops::Deref;

/// The bytes a message keeps; a longer one is cut at a character boundary and ends in
/// [`CUT`]. Small enough that a `Result` with a [`ThreadError`] stays cheap to return
/// (clippy's `result_large_err`), large enough for a line.
///
/// [`ThreadError`]: crate::thread::ThreadError
const CAPACITY: usize = 118;
const CUT: &str = "...";

/// The text of a panic, as [`ThreadError::Panicked`](crate::thread::ThreadError) carries
/// it: at most 118 bytes, longer messages cut short with `...` (the console report shows
/// the whole message). Reads as a `&str`.
#[derive(Clone)]
pub struct PanicMessage {
    bytes: [u8; CAPACITY],
    len: u8,
    cut: bool,
}

impl PanicMessage {
    /// The message `text` formats to, cut short if it is too long.
    pub fn new(text: impl fmt::Display) -> Self {
        let mut message = Self {
            bytes: [0; CAPACITY],
            len: 0,
            cut: false,
        };
        // An error only means the text was cut, which `write_str` marked.
        let _ = fmt::write(&mut message, format_args!("{text}"));
        message
    }

    /// The message.
    pub fn as_str(&self) -> &str {
        // `write_str` copies whole characters only.
        core::str::from_utf8(&self.bytes[..self.used()]).unwrap_or_default()
    }

    /// The size of the allocation that failed, when this is the panic of a failed
    /// allocation (`alloc::alloc::handle_alloc_error`'s "memory allocation of N bytes
    /// failed").
    pub(crate) fn failed_allocation(&self) -> Option<usize> {
        const BEFORE: &str = "memory allocation of ";
        const AFTER: &str = " bytes failed";
        let text = self.as_str();
        let size_end = text.len().checked_sub(AFTER.len())?;
        if !(holds_at(text, 0, BEFORE) && holds_at(text, size_end, AFTER)) {
            return None;
        }
        text.get(BEFORE.len()..size_end)?.parse().ok()
    }

    fn used(&self) -> usize {
        usize::from(self.len)
    }

    /// Appends `bytes`, which fit and end at a character boundary: the length stays within
    /// `CAPACITY`, below 256.
    fn push(&mut self, bytes: &[u8]) {
        let start = self.used();
        let end = start + bytes.len();
        self.bytes[start..end].copy_from_slice(bytes);
        self.len = u8::try_from(end).unwrap_or(u8::MAX);
    }
}

/// Whether `text` holds `part` from byte `at` on, compared a byte at a time: `==` on slices
/// calls `memcmp`, which no other code in a small image needs (0.6 KiB).
fn holds_at(text: &str, at: usize, part: &str) -> bool {
    text.as_bytes().get(at..).is_some_and(|rest| {
        rest.len() >= part.len() && rest.iter().zip(part.bytes()).all(|(a, b)| *a == b)
    })
}

impl fmt::Write for PanicMessage {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.cut {
            return Err(fmt::Error);
        }
        let room = CAPACITY - CUT.len() - self.used();
        if text.len() <= room {
            self.push(text.as_bytes());
            return Ok(());
        }
        let end = (0..=room)
            .rev()
            .find(|&end| text.is_char_boundary(end))
            .unwrap_or(0);
        // Bytes, not `&text[..end]`: a `str` slice brings in its panic message, whose
        // formatting (char escapes, Unicode tables) costs about 6 KiB of image.
        self.push(&text.as_bytes()[..end]);
        self.push(CUT.as_bytes());
        self.cut = true;
        // Stops the formatting: nothing more fits.
        Err(fmt::Error)
    }
}

impl Deref for PanicMessage {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for PanicMessage {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for PanicMessage {}

impl PartialEq<str> for PanicMessage {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for PanicMessage {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::{CAPACITY, PanicMessage};

    #[test]
    fn keeps_a_short_message_whole() {
        let message = PanicMessage::new(format_args!("no disk ({} found)", 0));
        assert_eq!(message, "no disk (0 found)");
        assert_eq!(format!("{message:?}"), "\"no disk (0 found)\"");
    }

    #[test]
    fn cuts_a_long_message_at_a_character_boundary() {
        let long = "é".repeat(CAPACITY);
        let message = PanicMessage::new(&long);
        assert!(message.len() <= CAPACITY, "{}", message.len());
        assert!(message.ends_with("é..."), "{message}");
        assert!(long.starts_with(message.trim_end_matches('.')));
    }

    #[test]
    fn recognises_a_failed_allocation() {
        let size = 4096;
        let message = PanicMessage::new(format_args!("memory allocation of {size} bytes failed"));
        assert_eq!(message.failed_allocation(), Some(4096));
        assert_eq!(PanicMessage::new("out of disk").failed_allocation(), None);
        assert_eq!(
            PanicMessage::new("memory allocation of many bytes failed").failed_allocation(),
            None
        );
        for near_miss in [
            "memory allocation at 64 bytes failed",
            "memory allocation of 64 bytes missed",
            "memory allocation of bytes failed",
            "bytes failed",
            "",
        ] {
            assert_eq!(
                PanicMessage::new(near_miss).failed_allocation(),
                None,
                "{near_miss}"
            );
        }
    }
}
