//! `--share DIR`: a host folder given to the guest as a FAT disk. probe copies the folder
//! into a fresh image (see `fat::share`) and attaches it like `--disk`. The guest's writes
//! go to that image, which is removed when the guest exits, unless `keep=FILE` names where
//! to keep it; probe says which on stderr before the boot.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::board::Board;
use crate::cli::memory_bytes;
use crate::disk::{Bus, Disk, Scratch};
use crate::fat::command::{NewOptions, new};
use crate::fat::share::Tree;
use crate::fat::{Format, Layout, MAX_BYTES};

/// The smallest volume `--share` makes without `size=`: room for the guest to write.
const DEFAULT_BYTES: u64 = 64 << 20;

/// One `--share DIR[,keep=FILE][,size=SIZE][,bus=virtio|ide]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Share {
    pub(crate) dir: PathBuf,
    /// Where to keep the image with the guest's writes; `None`: discard it.
    pub(crate) keep: Option<PathBuf>,
    /// `None`: 64 MiB, or twice what the folder takes if that is more.
    pub(crate) bytes: Option<u64>,
    pub(crate) bus: Bus,
}

const SYNTAX: &str = "DIR[,keep=FILE][,size=SIZE][,bus=virtio|ide]";

impl Share {
    /// Parses the value of `--share`; the folder is read at boot.
    pub(crate) fn parse(value: &str) -> Result<Share, String> {
        let mut parts = value.split(',');
        let dir = parts.next().unwrap_or_default();
        if dir.is_empty() {
            return Err(format!(
                "--share needs a directory: {SYNTAX}, not '{value}'"
            ));
        }
        let mut share = Share {
            dir: PathBuf::from(dir),
            keep: None,
            bytes: None,
            bus: Bus::Virtio,
        };
        for option in parts {
            match option.split_once('=') {
                Some(("keep", "")) => {
                    return Err(format!("--share {value}: keep= needs a file"));
                }
                Some(("keep", file)) => share.keep = Some(PathBuf::from(file)),
                Some(("size", size)) => {
                    share.bytes = Some(memory_bytes(size).ok_or_else(|| {
                        format!(
                            "--share {value}: size must be a size such as 64M or 1G, not '{size}'"
                        )
                    })?);
                }
                Some(("bus", "virtio")) => share.bus = Bus::Virtio,
                Some(("bus", "ide")) => share.bus = Bus::Ide,
                Some(("bus", other)) => {
                    return Err(format!(
                        "--share {value}: bus must be virtio or ide, not '{other}'"
                    ));
                }
                _ => {
                    return Err(format!(
                        "--share {value}: unknown option '{option}' ({SYNTAX})"
                    ));
                }
            }
        }
        Ok(share)
    }
}

/// The image of a share, attached as a disk; a discarded one is removed on drop.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) disk: Disk,
    _scratch: Option<Scratch>,
}

/// Builds the images of `shares`, which become disks `first`, `first + 1`...; says on
/// stderr what each holds and what becomes of the guest's writes.
pub(crate) fn prepare(
    board: Board,
    shares: &[Share],
    first: usize,
) -> Result<Vec<Prepared>, String> {
    if let (Board::Microvm, Some(ide)) = (board, shares.iter().find(|s| s.bus == Bus::Ide)) {
        return Err(format!(
            "--share {},bus=ide: microvm has no IDE controller; use bus=virtio",
            ide.dir.display()
        ));
    }
    let mut prepared = Vec::new();
    for (index, share) in shares.iter().enumerate() {
        let tree = Tree::scan(&share.dir)?;
        let bytes = match share.bytes {
            Some(bytes) => bytes,
            None => DEFAULT_BYTES
                .max((tree.bytes_needed() * 2).next_multiple_of(1 << 20))
                .min(MAX_BYTES / (1 << 20) * (1 << 20)),
        };
        let (file, scratch) = match &share.keep {
            Some(file) => {
                if file.exists() {
                    return Err(format!(
                        "--share {},keep={}: the file exists already; attach it with --disk {} \
                         or name a new one",
                        share.dir.display(),
                        file.display(),
                        file.display()
                    ));
                }
                (file.clone(), None)
            }
            None => {
                // Unique within probe: Scratch empties a directory of the same name.
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let scratch =
                    Scratch::new(&format!("share{}", NEXT.fetch_add(1, Ordering::Relaxed)))?;
                (scratch.path().join("share.img"), Some(scratch))
            }
        };
        let options = NewOptions {
            format: Format {
                bytes,
                layout: Layout::WholeDisk,
                fat: None,
            },
            share: Some(share.dir.clone()),
            force: false,
            file: file.clone(),
        };
        let summary = new(&options).map_err(|message| {
            if share.bytes.is_some() && message.contains("does not fit") {
                format!("{message}: give a larger size= or none")
            } else {
                message
            }
        })?;
        let fate = match &share.keep {
            Some(file) => format!(
                "the guest's writes are kept in {} (read it with `cargo probe disk ls {}`)",
                file.display(),
                file.display()
            ),
            None => format!(
                "the guest's writes are discarded when it exits (keep them with --share {},keep=FILE)",
                share.dir.display()
            ),
        };
        let described = summary
            .split_once(": ")
            .map_or(summary.as_str(), |(_, rest)| rest);
        eprintln!(
            "probe: --share {}: disk {} ({}): {described}; {fate}",
            share.dir.display(),
            first + index,
            share.bus
        );
        prepared.push(Prepared {
            disk: Disk {
                file,
                bus: share.bus,
                faults: None,
            },
            _scratch: scratch,
        });
    }
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Share, prepare};
    use crate::board::Board;
    use crate::disk::{Bus, Scratch};
    use crate::fat::command::get;

    fn share(dir: PathBuf) -> Share {
        Share {
            dir,
            keep: None,
            bytes: None,
            bus: Bus::Ide,
        }
    }

    #[test]
    fn a_discarded_share_goes_when_dropped_and_a_kept_one_stays() {
        let scratch = Scratch::new("share-prepare").unwrap();
        let dir = scratch.path().join("www");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("index.html"), b"<p>hi</p>").unwrap();
        let prepared = prepare(Board::QemuPc, &[share(dir.clone())], 1).unwrap();
        let image = prepared[0].disk.file.clone();
        assert_eq!(prepared[0].disk.bus, Bus::Ide);
        // 64 MiB unless the folder needs more.
        assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 << 20);
        let out = scratch.path().join("out");
        get(&image, "index.html", Some(&out)).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"<p>hi</p>");
        drop(prepared);
        assert!(!image.exists());

        let keep = scratch.path().join("kept.img");
        let kept = Share {
            keep: Some(keep.clone()),
            bytes: Some(2 << 20),
            ..share(dir.clone())
        };
        drop(prepare(Board::QemuPc, std::slice::from_ref(&kept), 0).unwrap());
        assert_eq!(std::fs::metadata(&keep).unwrap().len(), 2 << 20);
        let err = prepare(Board::QemuPc, std::slice::from_ref(&kept), 0).unwrap_err();
        assert!(
            err.contains("the file exists already; attach it with --disk"),
            "{err}"
        );
        std::fs::remove_file(&keep).unwrap();
        let err = prepare(Board::Microvm, &[kept], 0).unwrap_err();
        assert!(
            err.ends_with("microvm has no IDE controller; use bus=virtio"),
            "{err}"
        );
        assert!(!keep.exists());
    }

    #[test]
    fn a_folder_larger_than_the_size_given_is_refused() {
        let scratch = Scratch::new("share-too-big").unwrap();
        let dir = scratch.path().join("big");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("blob"), vec![7u8; 3 << 20]).unwrap();
        let small = Share {
            bytes: Some(2 << 20),
            ..share(dir.clone())
        };
        let err = prepare(Board::QemuPc, &[small], 0).unwrap_err();
        assert!(err.ends_with("give a larger size= or none"), "{err}");
        // Without a size, the volume grows to hold it.
        let prepared = prepare(Board::QemuPc, &[share(dir)], 0).unwrap();
        assert_eq!(
            std::fs::metadata(&prepared[0].disk.file).unwrap().len(),
            64 << 20
        );
    }
}
