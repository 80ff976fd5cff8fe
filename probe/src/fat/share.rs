//! A host folder copied into a FAT volume: every file and directory under it, with its
//! modification time. Names FAT cannot hold, and things that are neither files nor
//! directories, are refused before anything is written, each with the path that is wrong.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::fat::{Mounted, count, show_bytes};

/// The longest long name lamfat writes, in bytes of UTF-8.
const MAX_NAME_BYTES: usize = 255;

/// Characters no FAT long name holds.
const FORBIDDEN: &[char] = &['"', '*', '/', ':', '<', '>', '?', '\\', '|'];

/// One entry under the folder, parents before children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// `/`-separated, relative to the folder.
    pub(crate) path: String,
    pub(crate) host: PathBuf,
    pub(crate) modified: SystemTime,
    /// `None` for a directory.
    pub(crate) size: Option<u64>,
}

/// What a folder holds, checked to fit FAT's rules.
#[derive(Debug)]
pub(crate) struct Tree {
    pub(crate) root: PathBuf,
    pub(crate) entries: Vec<Entry>,
}

impl Tree {
    /// Reads `root` and everything under it, in name order.
    pub(crate) fn scan(root: &Path) -> Result<Tree, String> {
        let metadata =
            std::fs::metadata(root).map_err(|err| format!("--share {}: {err}", root.display()))?;
        if !metadata.is_dir() {
            return Err(format!("--share {}: not a directory", root.display()));
        }
        let mut entries = Vec::new();
        walk(root, root, "", &mut entries)?;
        Ok(Tree {
            root: root.to_owned(),
            entries,
        })
    }

    /// The bytes of file data.
    pub(crate) fn file_bytes(&self) -> u64 {
        self.entries.iter().filter_map(|entry| entry.size).sum()
    }

    /// A generous estimate of the space the tree takes on a volume with 4 KiB clusters:
    /// each file rounded up to a cluster, each directory a cluster, plus 1 MiB for the
    /// tables.
    pub(crate) fn bytes_needed(&self) -> u64 {
        const CLUSTER: u64 = 4096;
        let data: u64 = self
            .entries
            .iter()
            .map(|entry| {
                entry
                    .size
                    .map_or(CLUSTER, |size| size.div_ceil(CLUSTER) * CLUSTER)
            })
            .sum();
        data + (1 << 20)
    }

    /// `3 files and 1 directory`.
    pub(crate) fn counts(&self) -> String {
        let files = self
            .entries
            .iter()
            .filter(|entry| entry.size.is_some())
            .count();
        format!(
            "{} and {}",
            count(files, "file", "files"),
            count(self.entries.len() - files, "directory", "directories")
        )
    }

    /// Copies the tree into the volume, stamping every entry with its host time.
    pub(crate) fn copy_into(&self, mounted: &Mounted) -> Result<(), String> {
        let root = mounted.volume.root_dir();
        for entry in &self.entries {
            mounted.clock.set(entry.modified);
            let failed = |err: fatfs::Error<std::io::Error>| self.failed(entry, &err);
            match entry.size {
                None => {
                    root.create_dir(&entry.path).map_err(failed)?;
                }
                Some(_) => {
                    let mut source = std::fs::File::open(&entry.host)
                        .map_err(|err| format!("cannot read {}: {err}", entry.host.display()))?;
                    let mut file = root.create_file(&entry.path).map_err(failed)?;
                    std::io::copy(&mut source, &mut file).map_err(|err| {
                        match err
                            .get_ref()
                            .and_then(|inner| inner.downcast_ref::<fatfs::Error<std::io::Error>>())
                        {
                            Some(fatfs::Error::NotEnoughSpace) => self.too_big(),
                            _ => format!(
                                "cannot copy {} into the volume: {err}",
                                entry.host.display()
                            ),
                        }
                    })?;
                    // The last write stamped the file; its flush on drop writes the entry.
                    fatfs::Write::flush(&mut file).map_err(failed)?;
                }
            }
        }
        Ok(())
    }

    fn failed(&self, entry: &Entry, err: &fatfs::Error<std::io::Error>) -> String {
        match err {
            fatfs::Error::NotEnoughSpace => self.too_big(),
            other => format!(
                "cannot copy {} into the volume: {other}",
                entry.host.display()
            ),
        }
    }

    fn too_big(&self) -> String {
        format!(
            "--share {}: {} in {} does not fit the volume; it needs about {}",
            self.root.display(),
            show_bytes(self.file_bytes()),
            self.counts(),
            show_bytes(self.bytes_needed())
        )
    }
}

fn walk(root: &Path, dir: &Path, prefix: &str, entries: &mut Vec<Entry>) -> Result<(), String> {
    let unreadable =
        |path: &Path, err: std::io::Error| format!("cannot read {}: {err}", path.display());
    let mut children: Vec<(String, PathBuf)> = Vec::new();
    for child in std::fs::read_dir(dir).map_err(|err| unreadable(dir, err))? {
        let child = child.map_err(|err| unreadable(dir, err))?;
        let host = child.path();
        let name = child.file_name().into_string().map_err(|_| {
            format!(
                "--share {}: {} has a name that is not UTF-8, which FAT cannot hold",
                root.display(),
                host.display()
            )
        })?;
        check_name(&name)
            .map_err(|why| format!("--share {}: {}: {why}", root.display(), host.display()))?;
        children.push((name, host));
    }
    children.sort();
    // FAT compares names without case: two that differ only in case cannot both be there.
    let mut folded: Vec<(String, &Path)> = children
        .iter()
        .map(|(name, host)| (name.to_lowercase(), host.as_path()))
        .collect();
    folded.sort();
    if let Some(pair) = folded.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(format!(
            "--share {}: {} and {} differ only in case, and FAT does not tell them apart",
            root.display(),
            pair[0].1.display(),
            pair[1].1.display()
        ));
    }
    for (name, host) in children {
        let path = format!("{prefix}{name}");
        let link = std::fs::symlink_metadata(&host).map_err(|err| unreadable(&host, err))?;
        let metadata = std::fs::metadata(&host).map_err(|err| unreadable(&host, err))?;
        let modified = metadata.modified().map_err(|err| unreadable(&host, err))?;
        if metadata.is_dir() {
            if link.file_type().is_symlink() {
                return Err(format!(
                    "--share {}: {} is a link to a directory; FAT has no links (copy the \
                     directory in instead)",
                    root.display(),
                    host.display()
                ));
            }
            entries.push(Entry {
                path: path.clone(),
                host: host.clone(),
                modified,
                size: None,
            });
            walk(root, &host, &format!("{path}/"), entries)?;
        } else if metadata.is_file() {
            entries.push(Entry {
                path,
                host,
                modified,
                size: Some(metadata.len()),
            });
        } else {
            return Err(format!(
                "--share {}: {} is neither a file nor a directory",
                root.display(),
                host.display()
            ));
        }
    }
    Ok(())
}

/// Why FAT cannot hold `name` as it is, if it cannot.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "the name is {} bytes long, and a FAT long name holds at most {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| FORBIDDEN.contains(c) || c.is_control() || u32::from(*c) > 0xffff)
    {
        return Err(format!(
            "the name holds {bad:?}, which FAT names cannot (nor any of {} or control \
             characters, or characters beyond U+FFFF)",
            FORBIDDEN.iter().collect::<String>()
        ));
    }
    if name.ends_with(['.', ' ']) {
        return Err("the name ends with a dot or a space, which FAT drops".to_owned());
    }
    Ok(())
}
