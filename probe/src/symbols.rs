//! Names the addresses of a guest's backtrace as its console streams.
//!
//! A panic or CPU exception report ends with `backtrace:` and lines `  N: 0x...`, each an
//! address inside an instruction (see the kernel's `fault::backtrace`). Each such line
//! gains, before its newline, the function, file and line of that address from the image's
//! debug information: `  3: 0x1004f5 panic::main at apps/examples/panic.rs:15`, with the
//! functions inlined there innermost first. Everything else passes through untouched and
//! undelayed. An image without debug information (a stripped one) keeps the bare lines.

use std::path::{Path, PathBuf};

use addr2line::Loader;

/// The line that opens a backtrace block.
const HEADER: &[u8] = b"backtrace:";

/// Adds names to the backtrace lines of one guest's console output.
pub(crate) struct Annotator {
    elf: PathBuf,
    /// Loaded at the first backtrace line; `Some(None)` once loading failed.
    loader: Option<Option<Loader>>,
    /// The current line so far, without its newline.
    line: Vec<u8>,
    in_backtrace: bool,
}

impl std::fmt::Debug for Annotator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Annotator")
            .field("elf", &self.elf)
            .field("in_backtrace", &self.in_backtrace)
            .finish_non_exhaustive()
    }
}

impl Annotator {
    /// An annotator for the console of the image at `elf`.
    pub(crate) fn new(elf: &Path) -> Self {
        Self {
            elf: elf.to_owned(),
            loader: None,
            line: Vec::new(),
            in_backtrace: false,
        }
    }

    /// The console bytes to show for `bytes`: the same, with names added before the
    /// newline of each backtrace line.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        for &byte in bytes {
            if byte == b'\n' {
                let line = std::mem::take(&mut self.line);
                if let Some(names) = self.names_for(&line) {
                    out.push(b' ');
                    out.extend_from_slice(names.as_bytes());
                }
            } else {
                self.line.push(byte);
            }
            out.push(byte);
        }
        out
    }

    /// What to add to the finished `line`, if it is a backtrace line with a known address.
    fn names_for(&mut self, line: &[u8]) -> Option<String> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == HEADER {
            self.in_backtrace = true;
            return None;
        }
        if !self.in_backtrace {
            return None;
        }
        let Some(address) = frame_address(line) else {
            self.in_backtrace = false;
            return None;
        };
        let elf = &self.elf;
        let loader = self.loader.get_or_insert_with(|| Loader::new(elf).ok());
        describe(loader.as_ref()?, address)
    }
}

/// The address of a backtrace line `  N: 0xADDRESS`.
fn frame_address(line: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(line).ok()?;
    let (index, address) = line.strip_prefix("  ")?.split_once(": 0x")?;
    if index.is_empty() || !index.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    u64::from_str_radix(address, 16).ok()
}

/// `function at file:line` for `address`, with the functions inlined there innermost
/// first, joined by `, inlined into `; `None` when the debug information does not know it.
fn describe(loader: &Loader, address: u64) -> Option<String> {
    // The symbol table names the function that holds the address in full; the line tables
    // of a release build name only the functions inlined into it, and those briefly.
    let symbol = loader
        .find_symbol(address)
        .map(|symbol| addr2line::demangle_auto(symbol.into(), None).into_owned());
    let mut frames: Vec<(Option<String>, Option<String>)> = Vec::new();
    if let Ok(mut found) = loader.find_frames(address) {
        while let Ok(Some(frame)) = found.next() {
            let function = frame
                .function
                .as_ref()
                .and_then(|function| function.demangle().ok())
                .map(std::borrow::Cow::into_owned);
            let place = frame.location.as_ref().and_then(|location| {
                let file = shorten(location.file?);
                Some(match location.line {
                    Some(line) => format!("{file}:{line}"),
                    None => file,
                })
            });
            frames.push((function, place));
        }
    }
    match frames.last_mut() {
        Some((function, _)) => {
            if symbol.is_some() {
                function.clone_from(&symbol);
            }
        }
        // No line tables for it (hand-written assembly): the symbol table may still know.
        None => frames.push((Some(symbol?), None)),
    }
    let names: Vec<String> = frames
        .into_iter()
        .map(|(function, place)| {
            let function = function.unwrap_or_else(|| "?".to_owned());
            match place {
                Some(place) => format!("{function} at {place}"),
                None => function,
            }
        })
        .collect();
    Some(names.join(", inlined into "))
}

/// A source path as a reader of this workspace knows it: relative to the workspace.
fn shorten(file: &str) -> String {
    let root = crate::cargo::workspace_root();
    Path::new(file)
        .strip_prefix(root)
        .map_or_else(|_| file.to_owned(), |path| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Annotator, frame_address};

    #[test]
    fn reads_only_well_formed_frame_lines() {
        assert_eq!(frame_address(b"  0: 0x1004f5"), Some(0x10_04f5));
        assert_eq!(frame_address(b"  31: 0xffffffff"), Some(0xffff_ffff));
        for line in [
            &b"0: 0x1004f5"[..],
            b"  x: 0x1004f5",
            b"  : 0x1004f5",
            b"  1: 1004f5",
            b"  1: 0x",
            b"  1: 0x10g",
            b"  1: 0x1004f5 main",
        ] {
            assert_eq!(
                frame_address(line),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    /// An annotator over this test program itself, whose debug information names its own
    /// functions.
    fn annotator() -> Annotator {
        Annotator::new(&std::env::current_exe().unwrap())
    }

    #[inline(never)]
    fn a_known_function() {}

    /// Where `a_known_function` lies in this program's file: its address less where the
    /// (position-independent) program was loaded.
    fn known_address() -> u64 {
        let exe = std::env::current_exe().unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let base = maps
            .lines()
            .find_map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                let [range, _, "00000000", _, _, path] = words[..] else {
                    return None;
                };
                (Path::new(path) == exe).then(|| range.split('-').next())?
            })
            .expect("the program's first mapping");
        let base = u64::from_str_radix(base, 16).unwrap();
        a_known_function as *const () as u64 - base
    }

    #[test]
    fn names_the_addresses_of_a_backtrace_block_and_passes_the_rest_through() {
        let address = known_address();
        let console = format!(
            "boot\nbacktrace:\n  0: {address:#x}\n  1: 0xffffffffffff0000\ndone\n  2: \
             {address:#x}\n"
        );
        let mut annotator = annotator();
        // Byte by byte: lines arrive in pieces.
        let out: Vec<u8> = console
            .as_bytes()
            .chunks(1)
            .flat_map(|byte| annotator.feed(byte))
            .collect();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[..2], ["boot", "backtrace:"]);
        assert!(
            lines[2].starts_with(&format!("  0: {address:#x} "))
                && lines[2].contains("a_known_function at probe/src/symbols.rs:"),
            "{out}"
        );
        // An address nothing is known about stays bare; a line after the block is not
        // part of it.
        assert_eq!(
            lines[3..],
            [
                "  1: 0xffffffffffff0000",
                "done",
                &format!("  2: {address:#x}")
            ]
        );
    }

    #[test]
    fn an_image_without_debug_information_keeps_the_bare_lines() {
        let mut annotator = Annotator::new(Path::new("/nonexistent/image"));
        let console = b"backtrace:\n  0: 0x1004f5\n";
        assert_eq!(annotator.feed(console), console);
    }
}
