//! The Linux kernel the baseline boots: found in `/boot` (or named by the user), read from
//! its bzImage header, and unpacked to the `vmlinux` ELF that microvm boots through PVH.
//!
//! A bzImage's setup header (the x86 boot protocol, version 2.08 and later) says where the
//! compressed kernel (the payload) lies and the kernel's version string. The payload's own
//! magic says how it is compressed; probe runs the matching Debian tool (`xz`, `gzip`, ...)
//! to unpack it, and keeps the result only if it is an ELF with the PVH entry note.

use std::cmp::Ordering;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

use crate::elf;

/// A compression format a kernel payload or a module may use, and how to undo it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    pub(crate) name: &'static str,
    magic: &'static [u8],
    /// The file name ending of a module compressed this way, if modules use it.
    suffix: Option<&'static str>,
    /// The command that writes the unpacked data of its stdin to its stdout.
    command: &'static [&'static str],
    /// The Debian package that provides the command.
    pub(crate) package: &'static str,
}

impl Format {
    /// The program that unpacks this format.
    pub(crate) fn tool(self) -> &'static str {
        self.command[0]
    }
}

const FORMATS: [Format; 6] = [
    Format {
        name: "xz",
        magic: b"\xfd7zXZ\x00",
        suffix: Some(".xz"),
        // The kernel appends the unpacked size after the stream; this ignores it.
        command: &["xz", "-dc", "--single-stream"],
        package: "xz-utils",
    },
    Format {
        name: "gzip",
        magic: b"\x1f\x8b",
        suffix: Some(".gz"),
        command: &["gzip", "-dc"],
        package: "gzip",
    },
    Format {
        name: "zstd",
        magic: b"\x28\xb5\x2f\xfd",
        suffix: Some(".zst"),
        command: &["zstd", "-dc"],
        package: "zstd",
    },
    Format {
        name: "bzip2",
        magic: b"BZh",
        suffix: None,
        command: &["bzip2", "-dc"],
        package: "bzip2",
    },
    Format {
        name: "lzma",
        magic: b"\x5d\x00\x00",
        suffix: None,
        command: &["xz", "-dc", "--format=lzma"],
        package: "xz-utils",
    },
    Format {
        name: "lz4",
        magic: b"\x02\x21\x4c\x18",
        suffix: None,
        command: &["lz4", "-dc"],
        package: "lz4",
    },
];

/// The format whose magic starts `data`, if probe knows it.
fn format_of(data: &[u8]) -> Option<Format> {
    FORMATS
        .into_iter()
        .find(|format| data.starts_with(format.magic))
}

/// The format a compressed module's file name ends in, or `None` for a plain `.ko`.
pub(crate) fn module_format(file_name: &str) -> Option<Format> {
    FORMATS.into_iter().find(|format| {
        format
            .suffix
            .is_some_and(|suffix| file_name.ends_with(&format!(".ko{suffix}")))
    })
}

/// A kernel image, read and checked.
#[derive(Debug)]
pub(crate) struct Kernel {
    pub(crate) path: PathBuf,
    /// The release, as `uname -r` prints it and `/lib/modules` names it.
    pub(crate) version: String,
    bytes: Vec<u8>,
    /// Where the compressed kernel lies in `bytes`.
    payload: (usize, usize),
}

/// The newest `vmlinuz-<version>` in `dir` (normally `/boot`), by version order.
pub(crate) fn newest(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.starts_with("vmlinuz-").then(|| entry.path())
        })
        .max_by(|a, b| compare_versions(&a.to_string_lossy(), &b.to_string_lossy()))
}

/// Orders versions as `sort -V` does for kernels: runs of digits compare as numbers, the
/// rest as text, so `6.1.0-9` < `6.1.0-56` < `6.10.0-1`.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let (run_a, rest_a) = leading_run(a);
        let (run_b, rest_b) = leading_run(b);
        let digits = |run: &str| run.bytes().all(|byte| byte.is_ascii_digit());
        let order = if digits(run_a) && digits(run_b) {
            let (trim_a, trim_b) = (run_a.trim_start_matches('0'), run_b.trim_start_matches('0'));
            trim_a.len().cmp(&trim_b.len()).then(trim_a.cmp(trim_b))
        } else {
            run_a.cmp(run_b)
        };
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (rest_a, rest_b);
    }
}

/// Splits off the leading run of digits, or of non-digits.
fn leading_run(text: &str) -> (&str, &str) {
    let digit = text.starts_with(|c: char| c.is_ascii_digit());
    let end = text
        .find(|c: char| c.is_ascii_digit() != digit)
        .unwrap_or(text.len());
    text.split_at(end)
}

impl Kernel {
    /// Reads a bzImage.
    pub(crate) fn read(path: &Path) -> Result<Kernel, String> {
        let bytes = std::fs::read(path).map_err(|err| {
            // Some distributions keep /boot/vmlinuz-* readable by root alone.
            let hint = match err.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    "; name a readable copy with --linux-kernel"
                }
                _ => "",
            };
            format!("cannot read the kernel {}: {err}{hint}", path.display())
        })?;
        let header = parse_header(&bytes).map_err(|err| format!("{}: {err}", path.display()))?;
        Ok(Kernel {
            path: path.to_owned(),
            version: header.version,
            bytes,
            payload: header.payload,
        })
    }

    /// The compressed kernel inside the bzImage.
    fn payload(&self) -> &[u8] {
        let (start, len) = self.payload;
        &self.bytes[start..start + len]
    }

    /// How the payload is compressed, if probe knows the format.
    pub(crate) fn payload_format(&self) -> Option<Format> {
        format_of(self.payload())
    }

    /// Unpacks the payload and returns it if it is an ELF with a PVH entry, else why not.
    pub(crate) fn pvh_vmlinux(&self) -> Result<Vec<u8>, String> {
        let format = self
            .payload_format()
            .ok_or("its payload is compressed in a format probe does not know")?;
        let vmlinux = unpack(format, self.payload())?;
        if is_pvh(&vmlinux)? {
            Ok(vmlinux)
        } else {
            Err("its vmlinux has no PVH entry note (CONFIG_PVH is off)".to_owned())
        }
    }
}

/// True when an ELF kernel has the Xen `PHYS32_ENTRY` note (type 18) that PVH boots by.
fn is_pvh(vmlinux: &[u8]) -> Result<bool, String> {
    const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
    elf::has_note(vmlinux, b"Xen", XEN_ELFNOTE_PHYS32_ENTRY)
        .map_err(|err| format!("its payload does not unpack to a kernel ELF: {err}"))
}

/// What probe reads from a bzImage's setup header.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    version: String,
    /// Offset and length of the compressed kernel in the file.
    payload: (usize, usize),
}

/// Reads the boot protocol header of a bzImage; every offset is checked against the file.
fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    let u16_at = |offset: usize| {
        bytes
            .get(offset..offset + 2)
            .map(|field| u16::from_le_bytes([field[0], field[1]]))
    };
    let u32_at = |offset: usize| {
        bytes
            .get(offset..offset + 4)
            .map(|field| u32::from_le_bytes([field[0], field[1], field[2], field[3]]))
    };
    if bytes.get(0x202..0x206) != Some(b"HdrS".as_slice()) {
        return Err("not a bzImage (no HdrS boot header)".to_owned());
    }
    let protocol = u16_at(0x206).ok_or("truncated boot header")?;
    if protocol < 0x208 {
        return Err(format!(
            "boot protocol {}.{:02} is older than 2.08, which first says where the kernel lies",
            protocol >> 8,
            protocol & 0xff
        ));
    }
    let version = u16_at(0x20e)
        .map(|offset| usize::from(offset) + 0x200)
        .and_then(|start| bytes.get(start..))
        .and_then(|text| text.split(|&byte| byte == 0 || byte == b' ').next())
        .filter(|version| !version.is_empty())
        .and_then(|version| std::str::from_utf8(version).ok())
        .ok_or("the boot header has no kernel version")?;
    let setup_sectors = match bytes.get(0x1f1) {
        Some(0) => 4,
        Some(&sectors) => usize::from(sectors),
        None => return Err("truncated boot header".to_owned()),
    };
    let offset = u32_at(0x248).ok_or("truncated boot header")?;
    let len = u32_at(0x24c).ok_or("truncated boot header")?;
    let start = usize::try_from(offset)
        .ok()
        .and_then(|offset| offset.checked_add((setup_sectors + 1) * 512));
    let len = usize::try_from(len).ok();
    match (start, len) {
        (Some(start), Some(len))
            if start.checked_add(len).is_some_and(|end| end <= bytes.len()) =>
        {
            Ok(Header {
                version: version.to_owned(),
                payload: (start, len),
            })
        }
        _ => Err("the boot header's payload lies outside the file".to_owned()),
    }
}

/// Runs the format's command on `data` and returns what it wrote. Its exit status is not
/// trusted either way (gzip and zstd complain about the size the kernel appends to its
/// payload), so the caller checks the result.
pub(crate) fn unpack(format: Format, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new(format.tool())
        .args(&format.command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run {}: {err}", format.tool()))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or("the unpacker's stdin is missing")?;
    let output = thread::scope(|scope| {
        // Fed from another thread, or a full stdout pipe would block both sides.
        scope.spawn(move || {
            // A tool that stops reading early (at the end of its stream) closes the pipe.
            let _ignored = stdin.write_all(data);
        });
        child.wait_with_output()
    })
    .map_err(|err| format!("{} failed: {err}", format.tool()))?;
    if output.stdout.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "{} unpacked nothing: {}",
            format.command.join(" "),
            stderr.trim()
        ));
    }
    Ok(output.stdout)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cmp::Ordering;

    use std::io::Write;
    use std::process::{Command, Stdio};

    use super::{Header, compare_versions, format_of, module_format, parse_header, unpack};

    /// `data` compressed by `gzip` (an essential Debian package, so on every host).
    pub(crate) fn gzipped(data: &[u8]) -> Vec<u8> {
        let mut child = Command::new("gzip")
            .arg("-c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("gzip runs");
        child.stdin.take().unwrap().write_all(data).unwrap();
        child.wait_with_output().unwrap().stdout
    }

    /// A bzImage-shaped file: 2 setup sectors (so the kernel starts at 0x600), the version
    /// string at 0x300 and `payload` at offset 0x10 of the kernel.
    fn bzimage(protocol: u16, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0u8; 0x610];
        bytes[0x1f1] = 2;
        bytes[0x202..0x206].copy_from_slice(b"HdrS");
        bytes[0x206..0x208].copy_from_slice(&protocol.to_le_bytes());
        bytes[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        let version = b"6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP\0";
        bytes[0x300..0x300 + version.len()].copy_from_slice(version);
        bytes[0x248..0x24c].copy_from_slice(&0x10u32.to_le_bytes());
        let len = u32::try_from(payload.len()).unwrap();
        bytes[0x24c..0x250].copy_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn reads_the_version_and_payload() {
        let bytes = bzimage(0x20f, b"\xfd7zXZ\x00rest");
        assert_eq!(
            parse_header(&bytes),
            Ok(Header {
                version: "6.1.0-56-amd64".to_owned(),
                payload: (0x610, 10),
            })
        );
        assert_eq!(format_of(&bytes[0x610..]).map(|f| f.name), Some("xz"));
    }

    #[test]
    fn rejects_what_is_not_a_usable_bzimage() {
        assert!(parse_header(b"").unwrap_err().contains("not a bzImage"));
        assert!(
            parse_header(&vec![0; 0x1000])
                .unwrap_err()
                .contains("not a bzImage")
        );
        assert!(
            parse_header(&bzimage(0x207, b"x"))
                .unwrap_err()
                .contains("older than 2.08")
        );
        let mut beyond = bzimage(0x20f, b"xyz");
        beyond[0x24c..0x250].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_header(&beyond).unwrap_err().contains("outside"));
        let mut no_version = bzimage(0x20f, b"xyz");
        no_version[0x300] = 0;
        assert!(parse_header(&no_version).unwrap_err().contains("version"));
        // Every truncation is an error, never a panic.
        let whole = bzimage(0x20f, b"xyz");
        for len in 0..whole.len() {
            assert!(parse_header(&whole[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn knows_formats_by_magic_and_suffix() {
        assert_eq!(
            format_of(b"\x1f\x8b\x08\x00").map(|f| f.tool()),
            Some("gzip")
        );
        assert_eq!(
            format_of(b"\x28\xb5\x2f\xfd").map(|f| f.package),
            Some("zstd")
        );
        assert_eq!(format_of(b"\x89LZO"), None);
        assert_eq!(
            module_format("virtio_net.ko.xz").map(|f| f.package),
            Some("xz-utils")
        );
        assert_eq!(module_format("e1000.ko.zst").map(|f| f.name), Some("zstd"));
        assert_eq!(module_format("e1000.ko"), None);
        assert_eq!(module_format("notes.xz"), None);
    }

    #[test]
    fn unpacks_through_the_tool_despite_trailing_bytes() {
        let gzip = format_of(b"\x1f\x8b").unwrap();
        let mut packed = gzipped(b"\x7fELF and the rest");
        // The kernel's build appends the unpacked size; gzip then warns and exits 2.
        packed.extend_from_slice(&[18, 0, 0, 0]);
        assert_eq!(unpack(gzip, &packed).unwrap(), b"\x7fELF and the rest");
        let err = unpack(gzip, b"not gzip at all").unwrap_err();
        assert!(err.starts_with("gzip -dc unpacked nothing"), "{err}");
    }

    #[test]
    fn orders_kernel_versions_numerically() {
        let mut versions = [
            "vmlinuz-6.10.0-1-amd64",
            "vmlinuz-6.1.0-56-amd64",
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-5.19.0-1-amd64",
        ];
        versions.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            versions,
            [
                "vmlinuz-5.19.0-1-amd64",
                "vmlinuz-6.1.0-9-amd64",
                "vmlinuz-6.1.0-56-amd64",
                "vmlinuz-6.10.0-1-amd64",
            ]
        );
        assert_eq!(compare_versions("6.1", "6.1"), Ordering::Equal);
        assert_eq!(compare_versions("6.1", "6.1.1"), Ordering::Less);
        assert_eq!(compare_versions("007", "7"), Ordering::Equal);
    }
}
