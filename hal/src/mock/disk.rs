use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::block::{BlockDevice, Completion, ErrorKind, ErrorType, Request, SECTOR_SIZE, Token};
use crate::irq::{InterruptSource, Line};
use crate::mock::FakeInterrupts;
use crate::mock::time::Shared;

/// A disk in memory whose requests finish only when the test says so, as a real device's
/// finish later. Clones share one disk: the test keeps one, the kernel drives another.
///
/// A finished request raises the disk's interrupt line (once [`FakeDisk::connect`]ed) until
/// the interrupt is acknowledged. Requests wait at most [`FakeDisk::set_depth`] at once.
#[derive(Clone, Debug)]
pub struct FakeDisk {
    state: Arc<Shared<State>>,
}

#[derive(Debug)]
struct State {
    data: Vec<u8>,
    depth: usize,
    next_token: u16,
    /// Started, not finished yet.
    waiting: VecDeque<(Token, Transfer)>,
    /// Finished, not yet returned by `poll`.
    done: VecDeque<Completion<ErrorKind>>,
    finish_at_submit: bool,
    read_only: bool,
    failing_sector: Option<u64>,
    started: usize,
    flushes: usize,
    /// The device's interrupt status: set by a finish, cleared by the ack.
    interrupt: bool,
    line: Option<(FakeInterrupts, Line)>,
}

#[derive(Debug)]
enum Transfer {
    Read { first: u64, buf: Buffer },
    Write { first: u64, buf: Buffer },
    Flush,
}

/// A request's buffer, as the device keeps its address until the request finishes.
#[derive(Debug)]
struct Buffer {
    start: NonNull<u8>,
    len: usize,
}

// SAFETY: the address is only used by `finish`, under `submit`'s contract: the buffer stays
// valid and unused by anyone else until `poll` returns its token, whichever thread that is.
unsafe impl Send for Buffer {}

impl FakeDisk {
    /// A zeroed disk of `sectors` sectors, holding up to 4 requests.
    pub fn new(sectors: u64) -> Self {
        let len = usize::try_from(sectors).expect("disk fits in memory") * SECTOR_SIZE;
        Self::from_bytes(vec![0; len])
    }

    /// A disk holding `image`, padded with zeros to a whole sector.
    pub fn from_bytes(mut image: Vec<u8>) -> Self {
        image.resize(image.len().div_ceil(SECTOR_SIZE) * SECTOR_SIZE, 0);
        Self {
            state: Arc::new(Shared::new(State {
                data: image,
                depth: 4,
                next_token: 0,
                waiting: VecDeque::new(),
                done: VecDeque::new(),
                finish_at_submit: false,
                read_only: false,
                failing_sector: None,
                started: 0,
                flushes: 0,
                interrupt: false,
                line: None,
            })),
        }
    }

    /// Raises the disk's interrupts on `line` of `interrupts`.
    pub fn connect(&self, interrupts: &FakeInterrupts, line: Line) {
        self.state
            .with(|s| s.line = Some((interrupts.clone(), line)));
    }

    /// How many requests may wait at once (at least 1).
    pub fn set_depth(&self, depth: usize) {
        self.state.with(|s| s.depth = depth.max(1));
    }

    /// Whether each request finishes, and raises the interrupt, inside `submit` itself:
    /// before the submitting thread can wait for it.
    pub fn finish_at_submit(&self, on: bool) {
        self.state.with(|s| s.finish_at_submit = on);
    }

    /// Makes every later write fail with [`ErrorKind::ReadOnly`].
    pub fn set_read_only(&self, read_only: bool) {
        self.state.with(|s| s.read_only = read_only);
    }

    /// Makes every later request that touches `sector` finish with [`ErrorKind::Device`].
    pub fn fail_sector(&self, sector: Option<u64>) {
        self.state.with(|s| s.failing_sector = sector);
    }

    /// Finishes every waiting request.
    pub fn finish_all(&self) {
        self.finish(usize::MAX);
    }

    /// Finishes the `n` oldest waiting requests (fewer if fewer wait): does their transfers,
    /// queues their completions and raises the interrupt.
    pub fn finish(&self, n: usize) {
        let raise = self.state.with(|s| s.finish(n));
        if let Some((interrupts, line)) = raise {
            interrupts.assert_line(line);
        }
    }

    /// Requests started and not yet returned by `poll`.
    pub fn in_flight(&self) -> usize {
        self.state.with(|s| s.waiting.len() + s.done.len())
    }

    /// Requests started but not finished.
    pub fn waiting(&self) -> usize {
        self.state.with(|s| s.waiting.len())
    }

    /// How many requests the disk accepted so far.
    pub fn started(&self) -> usize {
        self.state.with(|s| s.started)
    }

    /// How many flushes finished.
    pub fn flushes(&self) -> usize {
        self.state.with(|s| s.flushes)
    }

    /// The disk's contents.
    pub fn bytes(&self) -> Vec<u8> {
        self.state.with(|s| s.data.clone())
    }

    /// Reads sectors from `first` into `buf` at once, bypassing the queue, as a layer above
    /// the kernel's waiting sees a disk; checked as a request is, and failing as one would
    /// on a failing sector.
    pub fn read_now(&self, first: u64, buf: &mut [u8]) -> Result<(), ErrorKind> {
        let sectors = crate::block::check_request(self.sector_count(), first, buf.len())?;
        self.state.with(|s| {
            s.check_failing(first, sectors)?;
            let start = first as usize * SECTOR_SIZE;
            buf.copy_from_slice(&s.data[start..start + buf.len()]);
            Ok(())
        })
    }

    /// Writes `buf` from sector `first` at once, as [`FakeDisk::read_now`] reads; refused
    /// with [`ErrorKind::ReadOnly`] on a read-only disk.
    pub fn write_now(&self, first: u64, buf: &[u8]) -> Result<(), ErrorKind> {
        let sectors = crate::block::check_request(self.sector_count(), first, buf.len())?;
        self.state.with(|s| {
            if s.read_only {
                return Err(ErrorKind::ReadOnly);
            }
            s.check_failing(first, sectors)?;
            let start = first as usize * SECTOR_SIZE;
            s.data[start..start + buf.len()].copy_from_slice(buf);
            Ok(())
        })
    }

    /// Counts a flush at once, as [`FakeDisk::read_now`] reads.
    pub fn flush_now(&self) {
        self.state.with(|s| s.flushes += 1);
    }

    /// Overwrites the start of the disk with `image`.
    pub fn write_image(&self, image: &[u8]) {
        self.state.with(|s| {
            let len = image.len().min(s.data.len());
            s.data[..len].copy_from_slice(&image[..len]);
        });
    }
}

impl State {
    /// Finishes up to `n` requests; returns the line to assert if the interrupt went up.
    fn finish(&mut self, n: usize) -> Option<(FakeInterrupts, Line)> {
        let mut finished = false;
        for _ in 0..n {
            let Some((token, transfer)) = self.waiting.pop_front() else {
                break;
            };
            let result = self.transfer(transfer);
            self.done.push_back(Completion { token, result });
            finished = true;
        }
        if !finished || self.interrupt {
            return None;
        }
        self.interrupt = true;
        self.line.clone()
    }

    /// Fails a transfer of `sectors` from `first` that touches the failing sector.
    fn check_failing(&self, first: u64, sectors: u64) -> Result<(), ErrorKind> {
        match self.failing_sector {
            Some(bad) if (first..first + sectors).contains(&bad) => Err(ErrorKind::Device),
            _ => Ok(()),
        }
    }

    fn transfer(&mut self, transfer: Transfer) -> Result<(), ErrorKind> {
        let (first, buf) = match &transfer {
            Transfer::Read { first, buf } | Transfer::Write { first, buf } => (*first, buf),
            Transfer::Flush => {
                self.flushes += 1;
                return Ok(());
            }
        };
        self.check_failing(first, (buf.len / SECTOR_SIZE) as u64)?;
        // Checked at submit: in range of a disk held in memory.
        let start = first as usize * SECTOR_SIZE;
        let disk = &mut self.data[start..start + buf.len];
        match transfer {
            Transfer::Read { buf, .. } => {
                // SAFETY: `submit`'s contract keeps the buffer valid and untouched until
                // `poll` returns its token, which comes after this; `buf.len` is its length.
                let buf = unsafe { core::slice::from_raw_parts_mut(buf.start.as_ptr(), buf.len) };
                buf.copy_from_slice(disk);
            }
            Transfer::Write { buf, .. } => {
                // SAFETY: as for reads; the device only reads a write's buffer.
                let buf = unsafe { core::slice::from_raw_parts(buf.start.as_ptr(), buf.len) };
                disk.copy_from_slice(buf);
            }
            Transfer::Flush => {}
        }
        Ok(())
    }
}

impl ErrorType for FakeDisk {
    type Error = ErrorKind;
}

impl BlockDevice for FakeDisk {
    fn sector_count(&self) -> u64 {
        self.state.with(|s| (s.data.len() / SECTOR_SIZE) as u64)
    }

    fn queue_depth(&self) -> usize {
        self.state.with(|s| s.depth)
    }

    unsafe fn submit(&mut self, request: Request<'_>) -> nb::Result<Token, ErrorKind> {
        request.check(self.sector_count())?;
        let raise = self.state.with(|s| {
            let transfer = match request {
                Request::Read { first, buf } => Transfer::Read {
                    first,
                    buf: Buffer {
                        len: buf.len(),
                        start: NonNull::from(buf).cast(),
                    },
                },
                Request::Write { .. } if s.read_only => {
                    return Err(nb::Error::Other(ErrorKind::ReadOnly));
                }
                Request::Write { first, buf } => Transfer::Write {
                    first,
                    buf: Buffer {
                        len: buf.len(),
                        start: NonNull::from(buf).cast(),
                    },
                },
                Request::Flush => Transfer::Flush,
            };
            if s.waiting.len() + s.done.len() >= s.depth {
                return Err(nb::Error::WouldBlock);
            }
            let token = Token(s.next_token);
            s.next_token = s.next_token.wrapping_add(1);
            s.started += 1;
            s.waiting.push_back((token, transfer));
            let raise = if s.finish_at_submit {
                s.finish(usize::MAX)
            } else {
                None
            };
            Ok((token, raise))
        });
        let (token, raise) = raise?;
        if let Some((interrupts, line)) = raise {
            interrupts.assert_line(line);
        }
        Ok(token)
    }

    fn poll(&mut self) -> Option<Completion<ErrorKind>> {
        self.state.with(|s| s.done.pop_front())
    }
}

impl InterruptSource for FakeDisk {
    fn ack_interrupt(&mut self) -> bool {
        let lower = self.state.with(|s| {
            let mine = core::mem::take(&mut s.interrupt);
            (mine, s.line.clone())
        });
        match lower {
            (true, Some((interrupts, line))) => {
                interrupts.lower_line(line);
                true
            }
            (mine, _) => mine,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::FakeDisk;
    use crate::block::{BlockDevice, Request, SECTOR_SIZE};
    use crate::irq::{InterruptSource, Interrupts, Line};
    use crate::mock::FakeInterrupts;

    static FIRED: AtomicUsize = AtomicUsize::new(0);

    fn fired(_: Line) {
        FIRED.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn finishing_raises_the_line_until_every_disk_on_it_is_acked() {
        let line = Line::new(5).unwrap();
        let mut irq = FakeInterrupts::new();
        irq.set_handler(fired);
        irq.route(line, 0);
        let (mut a, mut b) = (FakeDisk::new(2), FakeDisk::new(2));
        a.connect(&irq, line);
        b.connect(&irq, line);
        a.write_image(&[9; SECTOR_SIZE]);

        let mut buf = [0; SECTOR_SIZE];
        // SAFETY: `buf` lives until the completion was polled below.
        let token = unsafe {
            a.submit(Request::Read {
                first: 0,
                buf: &mut buf,
            })
        }
        .unwrap();
        assert_eq!((a.waiting(), FIRED.load(Ordering::SeqCst)), (1, 0));
        b.finish_at_submit(true);
        // SAFETY: a flush has no buffer.
        unsafe { b.submit(Request::Flush) }.unwrap();
        assert_eq!(FIRED.load(Ordering::SeqCst), 1, "finished inside submit");
        assert_eq!(b.flushes(), 1);
        a.finish_all();
        assert_eq!(FIRED.load(Ordering::SeqCst), 1, "masked until serviced");

        assert!(a.ack_interrupt());
        irq.unmask(line);
        assert_eq!(FIRED.load(Ordering::SeqCst), 2, "b still holds the line");
        assert!(b.ack_interrupt());
        assert!(!b.ack_interrupt(), "acked once");
        irq.unmask(line);
        assert_eq!(FIRED.load(Ordering::SeqCst), 2, "quiet once both are acked");
        assert_eq!(a.poll().map(|c| c.token), Some(token));
        assert_eq!(buf, [9; SECTOR_SIZE]);
        assert_eq!((a.in_flight(), b.in_flight()), (0, 1));
    }
}
