//! Open files, as `std::fs::File` has them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::dir::Metadata;
use super::error::{Error, ErrorKind};
use super::volume::{self, Volume};

/// How to open a file, as `std::fs::OpenOptions`: `read`, `write`, `append` (every write
/// goes to the end; implies `write`), `truncate` (needs `write`), `create` and `create_new`
/// (need `write` or `append`).
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) append: bool,
    pub(crate) truncate: bool,
    pub(crate) create: bool,
    pub(crate) create_new: bool,
}

impl OpenOptions {
    /// All options off.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows reading.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }

    /// Allows writing.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }

    /// Writes go to the end of the file, wherever the position is.
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.append = on;
        self
    }

    /// An existing file is cut to 0 bytes.
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.truncate = on;
        self
    }

    /// A missing file is created.
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }

    /// The file is created, and must not exist yet (`AlreadyExists` otherwise).
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.create_new = on;
        self
    }

    /// Opens `path` on the volume the kernel mounted (see [`kernel::fs`](super)).
    pub fn open(&self, path: &str) -> Result<File, Error> {
        self.open_on(super::volume()?, path)
    }

    /// Opens `path` on `volume`.
    pub fn open_on(&self, volume: &Volume, path: &str) -> Result<File, Error> {
        let writes = self.write || self.append;
        let invalid = |why| Err(Error::with_detail(ErrorKind::InvalidInput, why).at(path));
        if !self.read && !writes {
            return invalid("open for reading, writing or appending");
        }
        if self.truncate && (self.append || !self.write) {
            return invalid("truncate needs write, and goes not with append");
        }
        if (self.create || self.create_new) && !writes {
            return invalid("create needs write or append");
        }
        volume.open_with(path, self)
    }
}

/// An open file: reads and writes at its position, which each call moves. A `File` names its
/// file by path: once the file is removed or renamed, its calls fail with `NotFound`.
///
/// It implements `embedded_io`'s `Read`, `Write` and `Seek`, and has the same methods of its
/// own. Writes wait in the volume's cache until it fills or syncs; [`File::sync_all`] puts
/// them on the disk, durable.
pub struct File {
    volume: Volume,
    path: String,
    pos: u64,
    read: bool,
    write: bool,
    append: bool,
    /// Where the last read ended: a read from there is sequential (none yet: `u64::MAX`).
    next_read: u64,
    /// Data read ahead of sequential reads.
    ahead: Option<Ahead>,
}

/// How much a sequential read reads ahead: each call finds the file again and walks its
/// cluster chain to the position, so fewer, larger calls cost far less.
const READ_AHEAD: usize = 1 << 20;

/// A file's bytes from `pos`, as they were when the volume had had `writes` writes.
struct Ahead {
    pos: u64,
    data: Vec<u8>,
    writes: u64,
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("path", &self.path)
            .field("pos", &self.pos)
            .finish()
    }
}

impl File {
    pub(crate) fn new(volume: Volume, path: String, options: &OpenOptions) -> Self {
        Self {
            volume,
            path,
            pos: 0,
            read: options.read,
            write: options.write || options.append,
            append: options.append,
            next_read: u64::MAX,
            ahead: None,
        }
    }

    /// Opens `path` for reading, on the volume the kernel mounted.
    pub fn open(path: &str) -> Result<Self, Error> {
        OpenOptions::new().read(true).open(path)
    }

    /// Creates `path` (or cuts it to 0 bytes) for writing, on the volume the kernel mounted.
    pub fn create(path: &str) -> Result<Self, Error> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Options to open a file with.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// The file's path on its volume, from the root: `/dir/name`.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn refuse(&self, why: &'static str) -> Error {
        Error::with_detail(ErrorKind::PermissionDenied, why).at(&self.path)
    }

    /// Reads into `buf` from the position: as many bytes as the file holds there, up to
    /// `buf.len()`; 0 at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if !self.read {
            return Err(self.refuse("the file was not opened for reading"));
        }
        if let Some(n) = self.read_held(buf) {
            return Ok(n);
        }
        let pos = self.pos;
        let n = if pos == self.next_read && buf.len() < READ_AHEAD {
            let writes = self.volume.writes();
            let mut data = self.ahead.take().map(|a| a.data).unwrap_or_default();
            let got = self
                .volume
                .with_file(&self.path, READ_AHEAD as u64, |file, len| {
                    let left = len.saturating_sub(pos).min(READ_AHEAD as u64) as usize;
                    data.resize(left.max(buf.len()), 0);
                    volume::read_at(file, len, pos, &mut data)
                })?;
            data.truncate(got);
            let n = got.min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            self.ahead = Some(Ahead { pos, data, writes });
            n
        } else {
            self.volume
                .with_file(&self.path, buf.len() as u64, |file, len| {
                    volume::read_at(file, len, pos, buf)
                })?
        };
        self.pos += n as u64;
        self.next_read = self.pos;
        Ok(n)
    }

    /// Reads from the data read ahead, if it holds the position and is still current.
    fn read_held(&mut self, buf: &mut [u8]) -> Option<usize> {
        let ahead = self.ahead.as_ref()?;
        let offset = usize::try_from(self.pos.checked_sub(ahead.pos)?).ok()?;
        if offset >= ahead.data.len() || ahead.writes != self.volume.writes() {
            return None;
        }
        let n = buf.len().min(ahead.data.len() - offset);
        buf[..n].copy_from_slice(&ahead.data[offset..offset + n]);
        self.pos += n as u64;
        self.next_read = self.pos;
        Some(n)
    }

    /// Reads until `buf` is full; `InvalidData` if the file ends first.
    pub fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), Error> {
        while !buf.is_empty() {
            match self.read(buf)? {
                0 => {
                    return Err(Error::with_detail(
                        ErrorKind::InvalidData,
                        "the file ended before the buffer was full",
                    )
                    .at(&self.path));
                }
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// Reads from the position to the end, appending to `buf`; returns how many bytes.
    pub fn read_to_end(&mut self, buf: &mut Vec<u8>) -> Result<usize, Error> {
        /// Read per call: large enough to cost few calls, small enough that a size the
        /// entry claims but its chain does not hold costs little memory.
        const CHUNK: u64 = 1 << 20;
        let start = buf.len();
        let mut left = self.metadata()?.len().saturating_sub(self.pos);
        loop {
            let filled = buf.len();
            buf.resize(filled + left.clamp(1, CHUNK) as usize, 0);
            match self.read(&mut buf[filled..]) {
                Ok(0) => {
                    buf.truncate(filled);
                    return Ok(filled - start);
                }
                Ok(n) => {
                    buf.truncate(filled + n);
                    left = left.saturating_sub(n as u64);
                }
                Err(e) => {
                    buf.truncate(filled);
                    return Err(e);
                }
            }
        }
    }

    /// Reads from the position to the end into `buf`; `InvalidData` if it is not UTF-8.
    pub fn read_to_string(&mut self, buf: &mut String) -> Result<usize, Error> {
        let mut bytes = Vec::new();
        let n = self.read_to_end(&mut bytes)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::with_detail(ErrorKind::InvalidData, "the file is not UTF-8").at(&self.path)
        })?;
        buf.push_str(&text);
        Ok(n)
    }

    /// Writes `buf` at the position (at the end, when opened to append), filling any gap
    /// from the end with zeros. Returns how many bytes it wrote: all of them, unless the
    /// volume filled up (or the file reached 4 GiB) after some were written.
    pub fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        if !self.write {
            return Err(self.refuse("the file was not opened for writing"));
        }
        let (pos, append) = (self.pos, self.append);
        let (n, at) = self
            .volume
            .with_file(&self.path, buf.len() as u64 + pos, |file, len| {
                let at = if append { len } else { pos };
                Ok((volume::write_at(file, len, at, buf)?, at))
            })?;
        self.pos = at + n as u64;
        Ok(n)
    }

    /// Writes all of `buf`; `StorageFull` (or `FileTooLarge`) if it does not fit.
    pub fn write_all(&mut self, mut buf: &[u8]) -> Result<(), Error> {
        while !buf.is_empty() {
            match self.write(buf)? {
                0 => return Err(Error::new(ErrorKind::StorageFull).at(&self.path)),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Nothing to do, as for `std`'s files: [`File::sync_all`] puts writes on the disk.
    pub fn flush(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Moves the position, as `std`'s `seek`: from the start, the end or the position;
    /// past the end is allowed (a write there fills the gap with zeros), before the start
    /// is `InvalidInput`. Returns the new position.
    pub fn seek(&mut self, to: embedded_io::SeekFrom) -> Result<u64, Error> {
        let new = match to {
            embedded_io::SeekFrom::Start(n) => Some(n),
            embedded_io::SeekFrom::End(d) => self.metadata()?.len().checked_add_signed(d),
            embedded_io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| {
            Error::with_detail(ErrorKind::InvalidInput, "seek before the start of the file")
                .at(&self.path)
        })?;
        Ok(self.pos)
    }

    /// The position.
    pub fn stream_position(&self) -> u64 {
        self.pos
    }

    /// Makes the file `size` bytes long: cut, or grown with zeros. The position stays.
    pub fn set_len(&self, size: u64) -> Result<(), Error> {
        if !self.write {
            return Err(self.refuse("the file was not opened for writing"));
        }
        self.volume.with_file(&self.path, size, |file, len| {
            volume::set_len(file, len, size)
        })
    }

    /// Writes the whole volume back, marks it clean and asks the disk to make it durable:
    /// once it returns, this file's writes (and every other's) survive a power cut.
    pub fn sync_all(&self) -> Result<(), Error> {
        self.volume.sync().map_err(|e| e.at(&self.path))
    }

    /// As [`File::sync_all`]: FAT keeps a file's size in its directory entry, so the data
    /// is not durable without it.
    pub fn sync_data(&self) -> Result<(), Error> {
        self.sync_all()
    }

    /// The file's size, times and attributes.
    pub fn metadata(&self) -> Result<Metadata, Error> {
        self.volume.metadata(&self.path)
    }
}

impl embedded_io::ErrorType for File {
    type Error = Error;
}

impl embedded_io::Read for File {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        File::read(self, buf)
    }
}

impl embedded_io::Write for File {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        File::write(self, buf)
    }

    fn flush(&mut self) -> Result<(), Error> {
        File::flush(self)
    }
}

impl embedded_io::Seek for File {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, Error> {
        File::seek(self, pos)
    }
}
