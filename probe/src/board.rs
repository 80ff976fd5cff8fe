//! The boards probe knows how to boot: one table, so a new board or device is one edit.

use std::fmt;

/// A board an image can be built for; chosen by the `bsp-<name>` feature of `apps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Board {
    /// QEMU's minimal virtual machine: no PCI, no firmware, fastest to boot.
    Microvm,
    /// QEMU's classic i440FX PC.
    QemuPc,
}

impl Board {
    /// Every board, in the order `probe test --board all` runs them.
    pub(crate) const ALL: [Board; 2] = [Board::Microvm, Board::QemuPc];

    /// The name used in the image's board note, in `--board` and in feature names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Board::Microvm => "microvm",
            Board::QemuPc => "qemu-pc",
        }
    }

    /// Looks a board up by its name.
    pub(crate) fn from_name(name: &str) -> Option<Board> {
        Board::ALL.into_iter().find(|board| board.name() == name)
    }

    /// The names of all boards, for error messages: `microvm, qemu-pc`.
    pub(crate) fn known_names() -> String {
        Board::ALL.map(Board::name).join(", ")
    }

    /// The `apps` feature that builds an image for this board.
    pub(crate) fn feature(self) -> String {
        format!("bsp-{}", self.name())
    }

    /// QEMU arguments selecting the machine and its board-specific devices.
    pub(crate) fn machine_args(self) -> &'static [&'static str] {
        match self {
            // No option ROMs, RTC or ACPI: the kernel does not use them and they cost boot time.
            Board::Microvm => &["-M", "microvm,x-option-roms=off,rtc=off,acpi=off"],
            Board::QemuPc => &["-M", "pc"],
        }
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Board;

    #[test]
    fn names_round_trip() {
        for board in Board::ALL {
            assert_eq!(Board::from_name(board.name()), Some(board));
        }
        assert_eq!(Board::from_name("pc"), None);
        assert_eq!(Board::known_names(), "microvm, qemu-pc");
        assert_eq!(Board::QemuPc.feature(), "bsp-qemu-pc");
    }
}
