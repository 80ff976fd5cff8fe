//! A byte range of an image file, seen as a file of its own: the volume of a whole disk,
//! or one partition of an MBR disk. Reads go through a one-block cache, because the FAT
//! crate reads directory entries and FAT entries a few bytes at a time.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// The cached block's size.
const BLOCK: u64 = 64 << 10;

/// `len` bytes of `file` from `start`: reads past the end find nothing, writes past it fail.
#[derive(Debug)]
pub(crate) struct Region {
    file: File,
    start: u64,
    len: u64,
    position: u64,
    /// The block of the region at `cached * BLOCK`, as far as the region goes.
    cache: Vec<u8>,
    cached: Option<u64>,
}

impl Region {
    pub(crate) fn new(file: File, start: u64, len: u64) -> Self {
        Region {
            file,
            start,
            len,
            position: 0,
            cache: Vec::new(),
            cached: None,
        }
    }

    /// How much of `wanted` fits before the end.
    fn room(&self, wanted: usize) -> usize {
        let left = self.len.saturating_sub(self.position);
        wanted.min(usize::try_from(left).unwrap_or(usize::MAX))
    }

    /// Loads the block `index` into the cache; a file shorter than the region leaves it
    /// short.
    fn load(&mut self, index: u64) -> io::Result<()> {
        if self.cached == Some(index) {
            return Ok(());
        }
        self.cached = None;
        let wanted = BLOCK.min(self.len - index * BLOCK) as usize;
        self.cache.resize(wanted, 0);
        self.file
            .seek(SeekFrom::Start(self.start + index * BLOCK))?;
        let mut filled = 0;
        while filled < wanted {
            match self.file.read(&mut self.cache[filled..]) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        self.cache.truncate(filled);
        self.cached = Some(index);
        Ok(())
    }
}

impl Read for Region {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.room(buf.len());
        if room == 0 {
            return Ok(0);
        }
        let index = self.position / BLOCK;
        self.load(index)?;
        let offset = (self.position - index * BLOCK) as usize;
        let available = self.cache.len().saturating_sub(offset).min(room);
        buf[..available].copy_from_slice(&self.cache[offset..offset + available]);
        self.position += available as u64;
        Ok(available)
    }
}

impl Write for Region {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.room(buf.len());
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "a write past the end of the volume",
            ));
        }
        self.cached = None;
        self.file
            .seek(SeekFrom::Start(self.start + self.position))?;
        let written = self.file.write(&buf[..room])?;
        self.position += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Region {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a seek before the volume's start",
            )
        })?;
        self.position = target;
        Ok(target)
    }
}
