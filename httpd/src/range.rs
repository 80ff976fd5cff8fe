//! A `Range: bytes=...` header against a file's length (RFC 9110 §14).
//!
//! One range is served as 206; a range that starts past the end is 416. Several ranges,
//! other units and malformed values are ignored, as the RFC allows: the whole file is sent
//! with 200, which every client takes.

use crate::request::trim;

/// What to send of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// All of it (200).
    Whole,
    /// Bytes `first..=last` (206).
    Part {
        /// The first byte sent.
        first: u64,
        /// The last byte sent.
        last: u64,
    },
    /// Nothing: the range starts past the end (416).
    Unsatisfiable,
}

/// Resolves a `Range` value against a file of `len` bytes: see the [module docs](self).
pub fn resolve(value: &[u8], len: u64) -> ByteRange {
    let value = trim(value);
    let Some(unit) = value.get(..6) else {
        return ByteRange::Whole;
    };
    if !unit.eq_ignore_ascii_case(b"bytes=") || value.contains(&b',') {
        return ByteRange::Whole;
    }
    let spec = trim(&value[6..]);
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return ByteRange::Whole;
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (number(first), number(last)) {
        // `-n`: the last n bytes.
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || len == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part {
                    first: len.saturating_sub(n),
                    last: len - 1,
                }
            }
        }
        (Some(first), None) if last.is_empty() => part(first, u64::MAX, len),
        (Some(first), Some(last)) if first <= last => part(first, last, len),
        _ => ByteRange::Whole,
    }
}

fn part(first: u64, last: u64, len: u64) -> ByteRange {
    if first >= len {
        ByteRange::Unsatisfiable
    } else {
        ByteRange::Part {
            first,
            last: last.min(len - 1),
        }
    }
}

/// A decimal number; one too large for `u64` reads as `u64::MAX`, which is past any file.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::{ByteRange, resolve};

    fn part(first: u64, last: u64) -> ByteRange {
        ByteRange::Part { first, last }
    }

    #[test]
    fn single_ranges_are_cut_to_the_file() {
        assert_eq!(resolve(b"bytes=0-9", 100), part(0, 9));
        assert_eq!(resolve(b"bytes=90-200", 100), part(90, 99));
        assert_eq!(resolve(b"bytes=10-", 100), part(10, 99));
        assert_eq!(resolve(b"bytes=-10", 100), part(90, 99));
        assert_eq!(resolve(b"bytes=-1000", 100), part(0, 99));
        assert_eq!(resolve(b" Bytes= 5-5 ", 100), part(5, 5));
        assert_eq!(
            resolve(b"bytes=0-99999999999999999999999", 100),
            part(0, 99)
        );
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(resolve(b"bytes=100-", 100), ByteRange::Unsatisfiable);
        assert_eq!(resolve(b"bytes=100-200", 100), ByteRange::Unsatisfiable);
        assert_eq!(resolve(b"bytes=-0", 100), ByteRange::Unsatisfiable);
        assert_eq!(resolve(b"bytes=0-", 0), ByteRange::Unsatisfiable);
        assert_eq!(resolve(b"bytes=-5", 0), ByteRange::Unsatisfiable);
        assert_eq!(
            resolve(b"bytes=99999999999999999999999-", 100),
            ByteRange::Unsatisfiable
        );
    }

    #[test]
    fn what_is_not_one_byte_range_gets_the_whole_file() {
        for other in [
            &b""[..],
            b"bytes",
            b"items=0-9",
            b"bytes=0-9,20-29",
            b"bytes=9-0",
            b"bytes=-",
            b"bytes=a-9",
            b"bytes=0x1-9",
            b"bytes=1",
        ] {
            assert_eq!(resolve(other, 100), ByteRange::Whole, "{other:?}");
        }
    }
}
