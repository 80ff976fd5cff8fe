//! Backtraces: the calls that led to a failure, found by following the stack's chain of
//! frame pointers.
//!
//! Every function in an image keeps a frame pointer (`-C force-frame-pointers=yes` in
//! `.cargo/config.toml`; the precompiled `core` and `alloc` keep theirs too): its frame
//! holds the caller's frame pointer and, above it, the address to return to. A walk follows
//! that chain outward and reads only inside the stack it walks, each frame above the last
//! and 16-byte aligned, [`MAX_FRAMES`] at most, so that a damaged stack ends the walk
//! instead of faulting the report. A new thread's first frame and the boot stack end the
//! chain with a zero frame pointer.
//!
//! Each line is `  N: 0x...`, an address inside the instruction that was running in that
//! frame: the faulting instruction, then each call (its return address minus one), so that
//! `addr2line` or gdb's `info line *0x...` names the right line. `cargo probe run` adds the
//! function, file and line of each from the image's debug information.

use core::fmt;
use core::ops::Range;

use crate::sched::ThreadInner;

/// The most frames a backtrace shows.
const MAX_FRAMES: u64 = 32;

/// Where a walk may read when the chain lies in no thread's stack (a core's own loop on
/// its boot or core stack, both 64 KiB): this much above the first frame pointer.
const OTHER_STACK_WINDOW: usize = 64 * 1024;

/// The calls that led to a failure, printed as a block of `  N: 0x...` lines.
pub(crate) struct Backtrace {
    /// The faulting instruction, for a CPU exception.
    first: Option<u64>,
    frame_pointer: usize,
    stack: Range<usize>,
}

impl Backtrace {
    /// The calls that led to the instruction at `first` (when there is one) in the frame of
    /// `frame_pointer`, in the stack of `thread` when the frame is there.
    pub(crate) fn new(
        first: Option<u64>,
        frame_pointer: usize,
        thread: Option<&ThreadInner>,
    ) -> Self {
        let stack = thread
            .and_then(ThreadInner::stack_range)
            .filter(|stack| stack.contains(&frame_pointer))
            .unwrap_or(frame_pointer..frame_pointer.saturating_add(OTHER_STACK_WINDOW));
        Self {
            first,
            frame_pointer,
            stack,
        }
    }
}

impl fmt::Display for Backtrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("backtrace:\n")?;
        let walk = Walk {
            first: self.first,
            frame_pointer: self.frame_pointer,
            stack: self.stack.clone(),
        };
        for (index, address) in (0..MAX_FRAMES).zip(walk) {
            writeln!(f, "  {index}: {address:#x}")?;
        }
        Ok(())
    }
}

/// The faulting instruction, if any, then the calls along a frame chain, innermost first.
struct Walk {
    first: Option<u64>,
    frame_pointer: usize,
    /// Where the next frame may lie: its start rises past each frame read.
    stack: Range<usize>,
}

impl Iterator for Walk {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        let frame = self.frame_pointer;
        let end = frame.checked_add(16)?;
        if frame == 0
            || !frame.is_multiple_of(16)
            || frame < self.stack.start
            || end > self.stack.end
        {
            return None;
        }
        // SAFETY: both words lie inside the stack being walked, which is mapped memory of
        // this thread or core; reading them changes nothing.
        let (caller_frame, return_address) = unsafe {
            let words = frame as *const usize;
            (words.read_volatile(), words.add(1).read_volatile())
        };
        let call = return_address.checked_sub(1)?;
        self.frame_pointer = caller_frame;
        self.stack.start = end;
        u64::try_from(call).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::{Backtrace, MAX_FRAMES};

    /// A fake stack whose frames are given by word index: each frame's word holds the next
    /// frame's address, the word above it a return address.
    struct FakeStack {
        words: Vec<usize>,
    }

    impl FakeStack {
        fn new() -> Self {
            // One spare word so that a 16-byte-aligned start exists.
            Self { words: vec![0; 65] }
        }

        /// The first word at a 16-byte-aligned address.
        fn origin(&self) -> usize {
            let base = self.words.as_ptr() as usize;
            (base.next_multiple_of(16) - base) / 8
        }

        fn address(&self, word: usize) -> usize {
            self.words.as_ptr() as usize + 8 * (self.origin() + word)
        }

        /// Puts a frame at `word` that returns to `ret` and links to the frame at `next`
        /// (`None`: the end of the chain).
        fn frame(&mut self, word: usize, next: Option<usize>, ret: usize) {
            let next = next.map_or(0, |next| self.address(next));
            let at = self.origin() + word;
            self.words[at] = next;
            self.words[at + 1] = ret;
        }

        fn range(&self) -> core::ops::Range<usize> {
            self.address(0)..self.address(64)
        }

        fn backtrace(&self, first: Option<u64>, start: usize) -> String {
            Backtrace {
                first,
                frame_pointer: self.address(start),
                stack: self.range(),
            }
            .to_string()
        }
    }

    #[test]
    fn follows_the_chain_to_its_end() {
        let mut stack = FakeStack::new();
        stack.frame(2, Some(8), 0x10_1005);
        stack.frame(8, Some(20), 0x10_2005);
        stack.frame(20, None, 0x10_3005);
        assert_eq!(
            stack.backtrace(Some(0x10_0abc), 2),
            "backtrace:\n  0: 0x100abc\n  1: 0x101004\n  2: 0x102004\n  3: 0x103004\n"
        );
    }

    #[test]
    fn stops_at_a_frame_outside_the_stack_misaligned_or_not_above_the_last() {
        let mut stack = FakeStack::new();
        stack.frame(2, Some(8), 0x10_1005);
        // Points back down: a loop would never end.
        stack.frame(8, Some(2), 0x10_2005);
        assert_eq!(
            stack.backtrace(None, 2),
            "backtrace:\n  0: 0x101004\n  1: 0x102004\n"
        );

        let mut stack = FakeStack::new();
        stack.frame(2, Some(9), 0x10_1005);
        stack.frame(9, None, 0x10_2005);
        assert_eq!(stack.backtrace(None, 2), "backtrace:\n  0: 0x101004\n");

        let mut stack = FakeStack::new();
        stack.frame(62, Some(64), 0x10_1005);
        assert_eq!(stack.backtrace(None, 62), "backtrace:\n  0: 0x101004\n");
        // A frame whose return address would sit past the stack's end is not read.
        assert_eq!(stack.backtrace(None, 64), "backtrace:\n");
    }

    #[test]
    fn shows_at_most_max_frames() {
        let mut stack = FakeStack::new();
        for frame in 0..31 {
            stack.frame(2 * frame, Some(2 * frame + 2), 0x10_0001 + frame);
        }
        stack.frame(62, None, 0x20_0001);
        let text = stack.backtrace(Some(0x1), 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            1 + usize::try_from(MAX_FRAMES).unwrap(),
            "{text}"
        );
        assert_eq!(lines[1], "  0: 0x1");
        assert_eq!(lines[32], "  31: 0x10001e");
    }

    #[test]
    fn a_zero_frame_pointer_has_no_frames() {
        let backtrace = Backtrace::new(Some(0x10_0000), 0, None);
        assert_eq!(backtrace.to_string(), "backtrace:\n  0: 0x100000\n");
    }
}
