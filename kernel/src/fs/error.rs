//! What a file operation says when it fails.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use hal::block;

use super::device::StorageError;

/// The kind of a file error, as `std::io::ErrorKind` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No such file or directory (or no FAT volume at all).
    NotFound,
    /// The file or directory exists already.
    AlreadyExists,
    /// The disk is read-only, or the file is marked read-only.
    PermissionDenied,
    /// A bad argument: an option set that does not go together, a negative seek, the root
    /// directory where a named entry is needed.
    InvalidInput,
    /// A name FAT cannot store (empty, longer than 255 characters, or with one of `"*/:<>?\|`).
    InvalidFilename,
    /// The volume is corrupt, or not FAT at all.
    InvalidData,
    /// No free cluster, or no room left in a FAT12/16 root directory.
    StorageFull,
    /// FAT files end at 4 GiB - 1 byte.
    FileTooLarge,
    /// A directory was found where a file was needed.
    IsADirectory,
    /// A file was found where a directory was needed.
    NotADirectory,
    /// The directory to remove still holds entries.
    DirectoryNotEmpty,
    /// FAT or this layer cannot do it (for example moving a directory to another parent).
    Unsupported,
    /// The disk failed a transfer, or a thread failed while it used the volume.
    Other,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::NotFound => "not found",
            Self::AlreadyExists => "already exists",
            Self::PermissionDenied => "permission denied",
            Self::InvalidInput => "invalid input",
            Self::InvalidFilename => "not a valid FAT name",
            Self::InvalidData => "the volume is corrupt",
            Self::StorageFull => "the volume is full",
            Self::FileTooLarge => "FAT files end at 4 GiB",
            Self::IsADirectory => "is a directory",
            Self::NotADirectory => "not a directory",
            Self::DirectoryNotEmpty => "directory not empty",
            Self::Unsupported => "not supported",
            Self::Other => "file error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A failed file operation: its kind, the path it was about (when there was one) and, where
/// the kind alone does not say it, what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    path: Option<Box<str>>,
    detail: Option<&'static str>,
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            path: None,
            detail: None,
        }
    }

    pub(crate) const fn with_detail(kind: ErrorKind, detail: &'static str) -> Self {
        Self {
            kind,
            path: None,
            detail: Some(detail),
        }
    }

    /// The same error, about `path` (unless it names a path already).
    pub(crate) fn at(mut self, path: &str) -> Self {
        if self.path.is_none() {
            self.path = Some(path.into());
        }
        self
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The path the failed operation was about, if any.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl From<StorageError> for Error {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Disk(block::ErrorKind::ReadOnly) => {
                Self::with_detail(ErrorKind::PermissionDenied, "the disk is read-only")
            }
            StorageError::Disk(block::ErrorKind::Device) => {
                Self::with_detail(ErrorKind::Other, "the disk failed a transfer")
            }
            StorageError::Disk(_) => {
                Self::with_detail(ErrorKind::Other, "the disk refused a transfer")
            }
            StorageError::PastEnd => Self::with_detail(
                ErrorKind::InvalidData,
                "its structures point past the end of the disk",
            ),
            StorageError::Loop => Self::with_detail(
                ErrorKind::InvalidData,
                "a cluster chain or directory never ends (it loops)",
            ),
            StorageError::Eof => Self::with_detail(
                ErrorKind::InvalidData,
                "a cluster chain ends before its data",
            ),
            StorageError::BadCluster => Self::with_detail(
                ErrorKind::InvalidData,
                "a FAT or directory entry holds a cluster number the volume does not have",
            ),
            StorageError::BadSizes => Self::with_detail(
                ErrorKind::InvalidData,
                "its boot sector's sizes do not add up",
            ),
            StorageError::WriteZero => Self::with_detail(
                ErrorKind::StorageFull,
                "a directory is full (a FAT12/16 root directory has a fixed size)",
            ),
        }
    }
}

impl From<fatfs::Error<StorageError>> for Error {
    fn from(error: fatfs::Error<StorageError>) -> Self {
        match error {
            fatfs::Error::Io(error) => error.into(),
            fatfs::Error::UnexpectedEof => StorageError::Eof.into(),
            fatfs::Error::WriteZero => StorageError::WriteZero.into(),
            fatfs::Error::NotFound => Self::new(ErrorKind::NotFound),
            fatfs::Error::AlreadyExists => Self::new(ErrorKind::AlreadyExists),
            fatfs::Error::DirectoryIsNotEmpty => Self::new(ErrorKind::DirectoryNotEmpty),
            fatfs::Error::CorruptedFileSystem => Self::with_detail(
                ErrorKind::InvalidData,
                "its boot sector or FS information sector is invalid",
            ),
            fatfs::Error::NotEnoughSpace => Self::new(ErrorKind::StorageFull),
            fatfs::Error::InvalidFileNameLength => Self::with_detail(
                ErrorKind::InvalidFilename,
                "a name is empty or longer than 255 characters",
            ),
            fatfs::Error::UnsupportedFileNameCharacter => Self::with_detail(
                ErrorKind::InvalidFilename,
                "a name holds a character FAT cannot store",
            ),
            _ => Self::new(ErrorKind::InvalidInput),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        f.write_str(self.kind.describe())?;
        if let Some(detail) = self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl core::error::Error for Error {}

impl embedded_io::Error for Error {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self.kind {
            ErrorKind::NotFound => embedded_io::ErrorKind::NotFound,
            ErrorKind::AlreadyExists => embedded_io::ErrorKind::AlreadyExists,
            ErrorKind::PermissionDenied => embedded_io::ErrorKind::PermissionDenied,
            ErrorKind::InvalidInput | ErrorKind::InvalidFilename => {
                embedded_io::ErrorKind::InvalidInput
            }
            ErrorKind::InvalidData => embedded_io::ErrorKind::InvalidData,
            ErrorKind::Unsupported => embedded_io::ErrorKind::Unsupported,
            _ => embedded_io::ErrorKind::Other,
        }
    }
}

/// Builds a path for an error message from the components that were walked.
pub(crate) fn joined(components: &[&str]) -> String {
    let mut path = String::new();
    for c in components {
        path.push('/');
        path.push_str(c);
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}
