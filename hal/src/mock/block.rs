use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use crate::block::{BlockDevice, Completion, ErrorKind, ErrorType, Request, SECTOR_SIZE, Token};
use crate::irq::InterruptSource;

/// How many requests a [`RamDisk`] holds before `submit` says `WouldBlock`.
const DEPTH: usize = 4;

/// A block device in memory. Each request is done inside `submit`; its completion waits
/// for `poll`. It raises no interrupts.
#[derive(Clone, Debug)]
pub struct RamDisk {
    data: Vec<u8>,
    read_only: bool,
    flushes: usize,
    failing_sector: Option<u64>,
    next_token: u16,
    done: VecDeque<Completion<ErrorKind>>,
}

impl RamDisk {
    /// A zeroed disk of `sectors` sectors.
    pub fn new(sectors: u64) -> Self {
        let len = usize::try_from(sectors).expect("disk fits in memory") * SECTOR_SIZE;
        Self::from_bytes(vec![0; len])
    }

    /// A disk holding `image`, which is padded with zeros to a whole sector.
    pub fn from_bytes(mut image: Vec<u8>) -> Self {
        image.resize(image.len().div_ceil(SECTOR_SIZE) * SECTOR_SIZE, 0);
        Self {
            data: image,
            read_only: false,
            flushes: 0,
            failing_sector: None,
            next_token: 0,
            done: VecDeque::new(),
        }
    }

    /// Makes every later write fail with [`ErrorKind::ReadOnly`].
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    /// Makes every later request that touches `sector` finish with [`ErrorKind::Device`],
    /// as a bad sector would.
    pub fn fail_sector(&mut self, sector: Option<u64>) {
        self.failing_sector = sector;
    }

    /// The disk's contents.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// How many flushes were done.
    pub fn flushes(&self) -> usize {
        self.flushes
    }

    /// The bytes of `len` bytes of sectors from `first`, or the device error of a bad
    /// sector among them. The request was checked.
    fn range(&self, first: u64, len: usize) -> Result<core::ops::Range<usize>, ErrorKind> {
        let sectors = (len / SECTOR_SIZE) as u64;
        if self
            .failing_sector
            .is_some_and(|bad| (first..first + sectors).contains(&bad))
        {
            return Err(ErrorKind::Device);
        }
        // In range of a disk held in memory, so the offsets fit in usize.
        let start = first as usize * SECTOR_SIZE;
        Ok(start..start + len)
    }

    fn transfer(&mut self, request: Request<'_>) -> Result<(), ErrorKind> {
        match request {
            Request::Read { first, buf } => {
                let range = self.range(first, buf.len())?;
                buf.copy_from_slice(&self.data[range]);
            }
            Request::Write { first, buf } => {
                let range = self.range(first, buf.len())?;
                self.data[range].copy_from_slice(buf);
            }
            Request::Flush => self.flushes += 1,
        }
        Ok(())
    }
}

impl ErrorType for RamDisk {
    type Error = ErrorKind;
}

impl BlockDevice for RamDisk {
    fn sector_count(&self) -> u64 {
        (self.data.len() / SECTOR_SIZE) as u64
    }

    fn queue_depth(&self) -> usize {
        DEPTH
    }

    unsafe fn submit(&mut self, request: Request<'_>) -> nb::Result<Token, ErrorKind> {
        request.check(self.sector_count())?;
        if self.read_only && matches!(request, Request::Write { .. }) {
            return Err(nb::Error::Other(ErrorKind::ReadOnly));
        }
        if self.done.len() >= DEPTH {
            return Err(nb::Error::WouldBlock);
        }
        let token = Token(self.next_token);
        self.next_token = self.next_token.wrapping_add(1);
        let result = self.transfer(request);
        self.done.push_back(Completion { token, result });
        Ok(token)
    }

    fn poll(&mut self) -> Option<Completion<ErrorKind>> {
        self.done.pop_front()
    }
}

impl InterruptSource for RamDisk {
    fn ack_interrupt(&mut self) -> bool {
        false
    }
}
