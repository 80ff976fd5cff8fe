use alloc::vec;
use alloc::vec::Vec;

use crate::block::{BlockDevice, ErrorKind, ErrorType, SECTOR_SIZE, check_request};

/// A block device in memory.
#[derive(Clone, Debug)]
pub struct RamDisk {
    data: Vec<u8>,
    read_only: bool,
    flushes: usize,
    failing_sector: Option<u64>,
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
        }
    }

    /// Makes every later write fail with [`ErrorKind::ReadOnly`].
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    /// Makes every later request that touches `sector` fail with [`ErrorKind::Device`], as
    /// a bad sector would.
    pub fn fail_sector(&mut self, sector: Option<u64>) {
        self.failing_sector = sector;
    }

    /// The disk's contents.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// How many times `flush` was called.
    pub fn flushes(&self) -> usize {
        self.flushes
    }

    fn range(&self, first: u64, len: usize) -> Result<core::ops::Range<usize>, ErrorKind> {
        let sectors = check_request(self.sector_count(), first, len)?;
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
}

impl ErrorType for RamDisk {
    type Error = ErrorKind;
}

impl BlockDevice for RamDisk {
    fn sector_count(&self) -> u64 {
        (self.data.len() / SECTOR_SIZE) as u64
    }

    fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), ErrorKind> {
        let range = self.range(first, buf.len())?;
        buf.copy_from_slice(&self.data[range]);
        Ok(())
    }

    fn write(&mut self, first: u64, buf: &[u8]) -> Result<(), ErrorKind> {
        if self.read_only {
            return Err(ErrorKind::ReadOnly);
        }
        let range = self.range(first, buf.len())?;
        self.data[range].copy_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.flushes += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::RamDisk;
    use crate::block::{BlockDevice, ErrorKind, SECTOR_SIZE};

    #[test]
    fn reads_back_what_was_written() {
        let mut disk = RamDisk::new(4);
        let sector = [0xab; SECTOR_SIZE];
        disk.write(2, &sector).unwrap();
        let mut buf = [0; 2 * SECTOR_SIZE];
        disk.read(1, &mut buf).unwrap();
        assert!(buf[..SECTOR_SIZE].iter().all(|&b| b == 0));
        assert_eq!(&buf[SECTOR_SIZE..], &sector[..]);
        disk.flush().unwrap();
        assert_eq!(disk.flushes(), 1);
    }

    #[test]
    fn enforces_the_contract() {
        let mut disk = RamDisk::from_bytes(vec![1; 1000]);
        assert_eq!(disk.sector_count(), 2);
        let mut buf = [0; SECTOR_SIZE];
        assert_eq!(disk.read(2, &mut buf), Err(ErrorKind::OutOfRange));
        assert_eq!(disk.read(0, &mut buf[..10]), Err(ErrorKind::InvalidBuffer));
        disk.fail_sector(Some(1));
        assert_eq!(
            disk.read(0, &mut [0; 2 * SECTOR_SIZE]),
            Err(ErrorKind::Device)
        );
        assert_eq!(disk.read(0, &mut buf), Ok(()));
        disk.set_read_only(true);
        assert_eq!(disk.write(0, &buf), Err(ErrorKind::ReadOnly));
    }
}
