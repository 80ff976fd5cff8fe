//! The VGA text screen (80×25 cells of character and colour at 0xb8000) as a copy of a
//! console: what the kernel prints also appears on the screen of a PC or hypervisor
//! without a serial line. [`WithScreen`] writes to its console first (the main one) and
//! then to the screen, and reads from the console only.
//!
//! Lines scroll up at the bottom; a line longer than 80 columns wraps. Lines with
//! `warning` or `panicked` in their first 80 columns turn yellow or red once written.

use embedded_io::{ErrorType, Read, ReadReady, Write};

/// The text screen's size in cells.
pub const COLUMNS: usize = 80;
pub const ROWS: usize = 25;
/// Where the colour text screen's cells are, physically.
pub const BUFFER: usize = 0xb_8000;

/// Light grey on black, yellow on black, light red on black.
const PLAIN: u16 = 0x07 << 8;
const YELLOW: u16 = 0x0e << 8;
const RED: u16 = 0x0c << 8;

/// The VGA text screen, written from a row on.
#[derive(Debug)]
pub struct VgaText {
    cells: *mut u16,
    row: usize,
    column: usize,
}

// SAFETY: the cells are the machine's screen, owned by this one value (see `new`).
unsafe impl Send for VgaText {}

impl VgaText {
    /// The screen at `cells`, written from the start of `row` on (below what the BIOS
    /// printed).
    ///
    /// # Safety
    /// `cells` points at [`ROWS`] × [`COLUMNS`] cells of 16 bits that nothing else uses
    /// while this value lives.
    pub unsafe fn new(cells: *mut u16, row: usize) -> Self {
        Self {
            cells,
            row: row.min(ROWS - 1),
            column: 0,
        }
    }

    fn cell(&self, index: usize) -> *mut u16 {
        // Every index passed is below ROWS * COLUMNS, within the cells `new` was given.
        self.cells.wrapping_add(index)
    }

    fn put(&mut self, byte: u8) {
        match byte {
            b'\n' => self.new_line(),
            b'\r' => self.column = 0,
            _ => {
                if self.column == COLUMNS {
                    self.new_line();
                }
                let at = self.cell(self.row * COLUMNS + self.column);
                // SAFETY: row < ROWS and column < COLUMNS: one of `new`'s cells.
                unsafe { at.write_volatile(PLAIN | u16::from(byte)) };
                self.column += 1;
            }
        }
    }

    /// Colours the current row by what it says.
    fn colour_row(&mut self) {
        let start = self.row * COLUMNS;
        let mut text = [0u8; COLUMNS];
        for (i, byte) in text.iter_mut().enumerate() {
            // SAFETY: one of `new`'s cells, in the current row.
            *byte = unsafe { self.cell(start + i).read_volatile() } as u8;
        }
        let has = |word: &[u8]| text.windows(word.len()).any(|w| w == word);
        let colour = if has(b"panicked") {
            RED
        } else if has(b"warning") {
            YELLOW
        } else {
            return;
        };
        for (i, &byte) in text.iter().enumerate() {
            // SAFETY: as above.
            unsafe {
                self.cell(start + i)
                    .write_volatile(colour | u16::from(byte))
            };
        }
    }

    fn new_line(&mut self) {
        self.colour_row();
        self.column = 0;
        if self.row + 1 < ROWS {
            self.row += 1;
            return;
        }
        for i in 0..ROWS * COLUMNS {
            let below = if i < (ROWS - 1) * COLUMNS {
                // SAFETY: i + COLUMNS < ROWS * COLUMNS: one of `new`'s cells.
                unsafe { self.cell(i + COLUMNS).read_volatile() }
            } else {
                PLAIN | u16::from(b' ')
            };
            // SAFETY: i < ROWS * COLUMNS.
            unsafe { self.cell(i).write_volatile(below) };
        }
    }
}

/// A console with the screen beside it, when there is one.
#[derive(Debug)]
pub struct WithScreen<C> {
    console: C,
    screen: Option<VgaText>,
}

impl<C> WithScreen<C> {
    /// `console`, copied to `screen` when there is one.
    pub fn new(console: C, screen: Option<VgaText>) -> Self {
        Self { console, screen }
    }
}

impl<C: ErrorType> ErrorType for WithScreen<C> {
    type Error = C::Error;
}

impl<C: Write> Write for WithScreen<C> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let written = self.console.write(buf)?;
        if let Some(screen) = &mut self.screen {
            buf[..written].iter().for_each(|&byte| screen.put(byte));
        }
        Ok(written)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.console.flush()
    }
}

impl<C: Read> Read for WithScreen<C> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.console.read(buf)
    }
}

impl<C: ReadReady> ReadReady for WithScreen<C> {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        self.console.read_ready()
    }
}

#[cfg(test)]
mod tests {
    use embedded_io::{Read, Write};
    use hal::mock::RecordingConsole;

    use super::{COLUMNS, ROWS, VgaText, WithScreen};

    fn row(cells: &[u16], row: usize) -> String {
        cells[row * COLUMNS..(row + 1) * COLUMNS]
            .iter()
            .map(|&cell| char::from(cell as u8))
            .collect::<String>()
            .trim_end_matches(['\0', ' '])
            .to_owned()
    }

    fn screen(cells: &mut [u16], first_row: usize) -> WithScreen<RecordingConsole> {
        // SAFETY: the test's cells, used by nothing else while the screen lives.
        let vga = unsafe { VgaText::new(cells.as_mut_ptr(), first_row) };
        WithScreen::new(RecordingConsole::new(), Some(vga))
    }

    #[test]
    fn writes_both_and_wraps_long_lines() {
        let mut cells = vec![0u16; ROWS * COLUMNS];
        let mut console = screen(&mut cells, 2);
        console.write_all(b"hello\r\n").unwrap();
        console
            .write_all("x".repeat(COLUMNS + 3).as_bytes())
            .unwrap();
        assert_eq!(
            console.console.output(),
            [b"hello\r\n".as_slice(), &[b'x'; 83]].concat()
        );
        console.console.push_input(b"k");
        let mut key = [0];
        assert_eq!(console.read(&mut key), Ok(1));
        assert_eq!(key, *b"k", "reads come from the console");
        drop(console);
        assert_eq!(row(&cells, 1), "");
        assert_eq!(row(&cells, 2), "hello");
        assert_eq!(row(&cells, 3), "x".repeat(COLUMNS));
        assert_eq!(row(&cells, 4), "xxx");
        assert_eq!(cells[2 * COLUMNS] >> 8, 0x07);
    }

    #[test]
    fn scrolls_at_the_bottom_and_colours_warnings() {
        let mut cells = vec![0u16; ROWS * COLUMNS];
        let mut console = screen(&mut cells, 30);
        console
            .write_all(b"first\nqemu-pc: warning: cut\nthread 'main' panicked at x\nlast")
            .unwrap();
        drop(console);
        assert_eq!(row(&cells, ROWS - 4), "first");
        assert_eq!(row(&cells, ROWS - 3), "qemu-pc: warning: cut");
        assert_eq!(cells[(ROWS - 3) * COLUMNS] >> 8, 0x0e);
        assert_eq!(cells[(ROWS - 2) * COLUMNS] >> 8, 0x0c);
        assert_eq!(row(&cells, ROWS - 1), "last");
        assert_eq!(cells[(ROWS - 1) * COLUMNS] >> 8, 0x07);
    }
}
