//! The guest's kernel command line (QEMU's `-append`).
//!
//! Words are separated by spaces. A word with whitespace, a `"` or a `\` (or an empty
//! word) is wrapped in double quotes, and inside the quotes `"` and `\` are escaped with
//! a backslash; the guest's parser undoes exactly that.

use std::path::Path;

use crate::board::Board;

/// The longest command line a board keeps, in bytes: `MAX_COMMAND_LINE` in drivers'
/// `x86_64::boot`. The guest warns when it gets a longer one and cuts it.
pub(crate) const BOARD_KEEPS: usize = 4096;

/// The most bytes microvm adds after the command line: ` virtio_mmio.device=512@0x...:N`
/// (at most 37 bytes) for each of its 8 virtio-mmio transports in use.
const MICROVM_ADDS: usize = 8 * 37;

/// The longest command line probe passes for `elf` on `board`: what the board keeps less
/// what QEMU adds (on qemu-pc, Multiboot puts the image path and a space first).
fn longest(board: Board, elf: &Path) -> usize {
    let added = match board {
        Board::Microvm => MICROVM_ADDS,
        Board::QemuPc => elf.as_os_str().len() + 1,
    };
    BOARD_KEEPS.saturating_sub(added)
}

/// Checks that the board will not cut `cmdline`; the error is a one-line message.
pub(crate) fn check_length(board: Board, elf: &Path, cmdline: &str) -> Result<(), String> {
    let longest = longest(board, elf);
    if cmdline.len() <= longest {
        return Ok(());
    }
    let added = match board {
        Board::Microvm => "its virtio-mmio devices",
        Board::QemuPc => "the image path",
    };
    Err(format!(
        "the guest command line is {} bytes, and the {board} board keeps only {longest} of it \
         ({BOARD_KEEPS} less what QEMU adds: {added}); pass fewer or shorter guest arguments",
        cmdline.len()
    ))
}

/// Builds the command line: the TSC hint first, then the guest's own arguments.
pub(crate) fn guest_cmdline(tsc_khz: Option<u64>, args: &[String]) -> String {
    let hint = tsc_khz.map(|khz| format!("tsc_khz={khz}"));
    hint.into_iter()
        .chain(args.iter().map(|arg| quote(arg)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Puts `time=<Unix seconds>` before `cmdline`: the guest's wall clock starts from it
/// (microvm has no other source; on qemu-pc it wins over the RTC).
pub(crate) fn with_time(unix_seconds: u64, cmdline: &str) -> String {
    if cmdline.is_empty() {
        format!("time={unix_seconds}")
    } else {
        format!("time={unix_seconds} {cmdline}")
    }
}

/// Quotes one argument if the guest would otherwise split or misread it.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\');
    if plain {
        return arg.to_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{BOARD_KEEPS, check_length, guest_cmdline, longest, with_time};
    use crate::board::Board;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn hint_comes_first() {
        assert_eq!(
            guest_cmdline(Some(2_995_200), &args(&["a", "b"])),
            "tsc_khz=2995200 a b"
        );
        assert_eq!(guest_cmdline(None, &args(&["a", "b"])), "a b");
        assert_eq!(guest_cmdline(None, &[]), "");
        assert_eq!(guest_cmdline(Some(1), &[]), "tsc_khz=1");
    }

    #[test]
    fn the_time_comes_first() {
        assert_eq!(
            with_time(1_795_809_209, "tsc_khz=1 a"),
            "time=1795809209 tsc_khz=1 a"
        );
        assert_eq!(with_time(0, ""), "time=0");
    }

    #[test]
    fn quotes_words_the_guest_would_split() {
        assert_eq!(
            guest_cmdline(None, &args(&["hello world"])),
            r#""hello world""#
        );
        assert_eq!(guest_cmdline(None, &args(&["tab\there"])), "\"tab\there\"");
        assert_eq!(guest_cmdline(None, &args(&[""])), r#""""#);
    }

    #[test]
    fn escapes_quotes_and_backslashes() {
        assert_eq!(
            guest_cmdline(None, &args(&[r#"say "hi""#])),
            r#""say \"hi\"""#
        );
        assert_eq!(guest_cmdline(None, &args(&[r"a\b"])), r#""a\\b""#);
        assert_eq!(
            guest_cmdline(None, &args(&["key=value", "--flag"])),
            "key=value --flag"
        );
    }

    #[test]
    fn too_long_a_line_is_refused_with_the_limit() {
        let elf = Path::new("/img/hello");
        for board in Board::ALL {
            let limit = longest(board, elf);
            assert!(limit > 3000 && limit < BOARD_KEEPS, "{board}: {limit}");
            assert_eq!(check_length(board, elf, &"a".repeat(limit)), Ok(()));
            let err = check_length(board, elf, &"a".repeat(limit + 1)).unwrap_err();
            assert!(
                err.starts_with(&format!(
                    "the guest command line is {} bytes, and the {board} board keeps only {limit} ",
                    limit + 1
                )),
                "{err}"
            );
        }
        // `probe run --help` names this number.
        assert_eq!(longest(Board::Microvm, elf), 3800);
        // On qemu-pc, a longer image path leaves less room.
        assert_eq!(
            longest(Board::QemuPc, elf),
            BOARD_KEEPS - "/img/hello ".len()
        );
    }

    /// The limits probe keeps in step with the guest are the guest's.
    #[test]
    fn the_board_limit_is_the_drivers_one() {
        let boot = include_str!("../../drivers/src/board/common.rs");
        assert!(boot.contains(&format!(
            "pub const MAX_COMMAND_LINE: usize = {BOARD_KEEPS};"
        )));
    }
}
