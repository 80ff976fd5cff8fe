//! Directory listings and metadata, as `std::fs` has them.

use alloc::string::String;
use alloc::vec::IntoIter;
use alloc::vec::Vec;
use core::time::Duration;

use super::error::{Error, ErrorKind};

/// Whether an entry is a file or a directory (FAT has no links).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileType {
    dir: bool,
}

impl FileType {
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.dir
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        !self.dir
    }

    /// Never: FAT has no symbolic links.
    pub fn is_symlink(&self) -> bool {
        false
    }
}

/// What a directory entry says about a file or directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    file_type: FileType,
    len: u64,
    read_only: bool,
    modified: Option<Duration>,
    created: Option<Duration>,
    accessed: Option<Duration>,
}

impl Metadata {
    pub(crate) fn new(
        dir: bool,
        len: u64,
        read_only: bool,
        modified: Option<Duration>,
        created: Option<Duration>,
        accessed: Option<Duration>,
    ) -> Self {
        Self {
            file_type: FileType { dir },
            len,
            read_only,
            modified,
            created,
            accessed,
        }
    }

    /// The root directory's, which has no entry and so no times.
    pub(crate) fn root() -> Self {
        Self::new(true, 0, false, None, None, None)
    }

    /// File or directory.
    pub fn file_type(&self) -> FileType {
        self.file_type
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type.dir
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        !self.file_type.dir
    }

    /// The size in bytes (0 for a directory).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the size is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the entry carries FAT's read-only attribute (writes to it are refused).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The last write, to two seconds, since the Unix epoch (FAT keeps no time zone: UTC).
    /// `Err` for the root directory or a date that is not one.
    pub fn modified(&self) -> Result<Duration, Error> {
        stamp(self.modified)
    }

    /// The creation, to 10 ms, as [`Metadata::modified`].
    pub fn created(&self) -> Result<Duration, Error> {
        stamp(self.created)
    }

    /// The day of the last access (FAT keeps no time of day for it): midnight UTC.
    pub fn accessed(&self) -> Result<Duration, Error> {
        stamp(self.accessed)
    }
}

fn stamp(time: Option<Duration>) -> Result<Duration, Error> {
    time.ok_or(Error::with_detail(
        ErrorKind::Unsupported,
        "no such time: the root directory has none, or the entry's is not a valid date",
    ))
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    path: String,
    name_at: usize,
    metadata: Metadata,
}

impl DirEntry {
    pub(crate) fn new(dir: &str, name: String, metadata: Metadata) -> Self {
        let mut path = String::from(dir.trim_end_matches('/'));
        path.push('/');
        let name_at = path.len();
        path.push_str(&name);
        Self {
            path,
            name_at,
            metadata,
        }
    }

    /// The name: the long name if the entry has one, else the short name in lower case.
    pub fn file_name(&self) -> &str {
        &self.path[self.name_at..]
    }

    /// The path from the root: `/dir/name`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The entry's metadata, as read with the listing.
    pub fn metadata(&self) -> Result<Metadata, Error> {
        Ok(self.metadata.clone())
    }

    /// File or directory.
    pub fn file_type(&self) -> Result<FileType, Error> {
        Ok(self.metadata.file_type)
    }
}

/// The entries of a directory, read at once when it was opened (`.` and `..` left out).
#[derive(Debug)]
pub struct ReadDir(IntoIter<DirEntry>);

impl ReadDir {
    pub(crate) fn new(entries: Vec<DirEntry>) -> Self {
        Self(entries.into_iter())
    }
}

impl Iterator for ReadDir {
    type Item = Result<DirEntry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(Ok)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}
