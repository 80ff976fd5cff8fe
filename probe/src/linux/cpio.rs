//! Writes a cpio archive in the "newc" format, the one the Linux kernel unpacks as its
//! initramfs. The kernel takes it uncompressed, so probe needs neither `cpio` nor `gzip`.
//!
//! Each member is a 110-byte ASCII header (`070701` and thirteen 8-digit hex fields), the
//! path with a NUL, padding to 4 bytes, the data, padding to 4 bytes; a member named
//! `TRAILER!!!` ends the archive. Owners are root, times 0, so the archive depends only on
//! what is put in it.

use std::collections::BTreeMap;

/// What a path in the archive is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Dir,
    File {
        data: Vec<u8>,
        executable: bool,
    },
    /// A character device node, e.g. `/dev/console` (5, 1).
    CharDevice {
        major: u32,
        minor: u32,
    },
}

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFCHR: u32 = 0o020_000;

impl Entry {
    fn mode(&self) -> u32 {
        match self {
            Entry::Dir => S_IFDIR | 0o755,
            Entry::File {
                executable: true, ..
            } => S_IFREG | 0o755,
            Entry::File { .. } => S_IFREG | 0o644,
            Entry::CharDevice { .. } => S_IFCHR | 0o600,
        }
    }

    fn data(&self) -> &[u8] {
        match self {
            Entry::File { data, .. } => data,
            Entry::Dir | Entry::CharDevice { .. } => &[],
        }
    }
}

/// A file tree to archive: absolute guest paths (`/bin/busybox`) to entries. Adding a path
/// adds its missing parent directories, and the archive lists parents before children.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    entries: BTreeMap<String, Entry>,
}

impl Tree {
    /// Adds `entry` at `path`; a path that is not absolute and normal (no `.`, `..` or empty
    /// parts), that is already there, or whose parent is not a directory, is an error.
    pub(crate) fn add(&mut self, path: &str, entry: Entry) -> Result<(), String> {
        let relative = relative(path)?;
        let mut parent = String::new();
        let parts: Vec<&str> = relative.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            match self.entries.get(&parent) {
                None => {
                    self.entries.insert(parent.clone(), Entry::Dir);
                }
                Some(Entry::Dir) => {}
                Some(_) => return Err(format!("{path}: /{parent} is not a directory")),
            }
        }
        if self.entries.contains_key(relative) {
            return Err(format!("{path} is in the initramfs twice"));
        }
        self.entries.insert(relative.to_owned(), entry);
        Ok(())
    }

    /// The archive: every entry in path order, then the trailer.
    pub(crate) fn archive(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (inode, (path, entry)) in (1u32..).zip(&self.entries) {
            let (major, minor) = match entry {
                Entry::CharDevice { major, minor } => (*major, *minor),
                _ => (0, 0),
            };
            member(
                &mut out,
                inode,
                path,
                entry.mode(),
                entry.data(),
                major,
                minor,
            );
        }
        member(&mut out, 0, "TRAILER!!!", 0, &[], 0, 0);
        out
    }
}

/// `path` without its leading `/`, checked.
fn relative(path: &str) -> Result<&str, String> {
    let bad = || format!("{path:?} is not an absolute path of normal parts");
    let relative = path.strip_prefix('/').ok_or_else(bad)?;
    if relative
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad());
    }
    Ok(relative)
}

fn member(
    out: &mut Vec<u8>,
    inode: u32,
    name: &str,
    mode: u32,
    data: &[u8],
    rdev_major: u32,
    rdev_minor: u32,
) {
    let nlink = if mode & S_IFDIR == S_IFDIR { 2 } else { 1 };
    // The kernel's limit for one member is far above anything probe puts in an initramfs.
    let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let name_size = u32::try_from(name.len() + 1).unwrap_or(u32::MAX);
    let fields = [
        inode, mode, 0, 0, nlink, 0, size, 0, 0, rdev_major, rdev_minor, name_size, 0,
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad(out);
    out.extend_from_slice(data);
    pad(out);
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::{Entry, Tree};

    /// One member as read back: name, mode, rdev and data.
    type Member = (String, u32, (u32, u32), Vec<u8>);

    /// Reads a newc archive back, checking the layout rules the kernel relies on.
    fn read(mut archive: &[u8]) -> Vec<Member> {
        let mut members = Vec::new();
        let mut offset = 0;
        loop {
            assert_eq!(&archive[..6], b"070701", "magic at offset {offset}");
            let field = |index: usize| {
                let start = 6 + 8 * index;
                let text = std::str::from_utf8(&archive[start..start + 8]).unwrap();
                u32::from_str_radix(text, 16).unwrap()
            };
            let (mode, size, name_size) = (field(1), field(6), field(11));
            let rdev = (field(9), field(10));
            let name_end = 110 + name_size as usize;
            assert_eq!(archive[name_end - 1], 0, "name ends in NUL");
            let name = String::from_utf8(archive[110..name_end - 1].to_vec()).unwrap();
            let data_start = name_end.next_multiple_of(4);
            let data_end = data_start + size as usize;
            let data = archive[data_start..data_end].to_vec();
            let next = data_end.next_multiple_of(4);
            assert!(archive[data_end..next].iter().all(|&byte| byte == 0));
            archive = &archive[next..];
            offset += next;
            if name == "TRAILER!!!" {
                assert!(archive.is_empty(), "nothing after the trailer");
                return members;
            }
            members.push((name, mode, rdev, data));
        }
    }

    #[test]
    fn one_file_byte_by_byte() {
        let mut tree = Tree::default();
        tree.add(
            "/init",
            Entry::File {
                data: b"hi".to_vec(),
                executable: true,
            },
        )
        .unwrap();
        let archive = tree.archive();
        let header = "070701\
                      00000001000081ed000000000000000000000001000000000000000200000000\
                      00000000000000000000000000000005\
                      00000000";
        assert_eq!(&archive[..110], header.as_bytes());
        // "init\0" ends at 115, padded to 116; "hi" padded to 120, then the trailer.
        assert_eq!(&archive[110..120], b"init\0\0hi\0\0");
        assert_eq!(&archive[120..126], b"070701");
        assert_eq!(archive.len() % 4, 0);
    }

    #[test]
    fn round_trips_every_kind_with_parents_first() {
        let mut tree = Tree::default();
        tree.add("/dev/console", Entry::CharDevice { major: 5, minor: 1 })
            .unwrap();
        tree.add(
            "/www/a/index.html",
            Entry::File {
                data: b"<p>".to_vec(),
                executable: false,
            },
        )
        .unwrap();
        tree.add(
            "/bin/sh",
            Entry::File {
                data: b"#!".to_vec(),
                executable: true,
            },
        )
        .unwrap();
        tree.add("/proc", Entry::Dir).unwrap();
        let members = read(&tree.archive());
        let names: Vec<&str> = members.iter().map(|member| member.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/sh",
                "dev",
                "dev/console",
                "proc",
                "www",
                "www/a",
                "www/a/index.html"
            ]
        );
        assert_eq!(members[0].1, 0o040_755);
        assert_eq!(
            members[1],
            ("bin/sh".to_owned(), 0o100_755, (0, 0), b"#!".to_vec())
        );
        assert_eq!(members[3].1, 0o020_600);
        assert_eq!(members[3].2, (5, 1));
        assert_eq!(members[7].1, 0o100_644);
        assert_eq!(members[7].3, b"<p>");
    }

    #[test]
    fn rejects_bad_and_clashing_paths() {
        let mut tree = Tree::default();
        let file = || Entry::File {
            data: Vec::new(),
            executable: false,
        };
        for bad in ["", "init", "/", "/a//b", "/a/../b", "/./a", "/a/"] {
            assert!(tree.add(bad, file()).is_err(), "{bad:?}");
        }
        tree.add("/etc/motd", file()).unwrap();
        assert!(tree.add("/etc/motd", file()).unwrap_err().contains("twice"));
        assert!(
            tree.add("/etc/motd/x", file())
                .unwrap_err()
                .contains("not a directory")
        );
        // A directory that already exists (made as a parent) cannot be added again.
        assert!(tree.add("/etc", Entry::Dir).is_err());
        let empty = Tree::default().archive();
        assert!(read(&empty).is_empty());
    }
}
