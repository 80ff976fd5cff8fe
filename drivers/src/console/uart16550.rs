//! The 16550 UART: the serial port of every PC and of QEMU's microvm.
//!
//! The driver runs the port at 115200 baud, 8N1, FIFOs on, interrupts off, and implements
//! the [`embedded_io`] traits that make it a [`hal::console::Console`].

use core::convert::Infallible;

use embedded_io::{ErrorType, Read, ReadReady, Write};

use crate::x86_64::port;

/// Access to the UART's eight registers.
pub trait Registers {
    /// Reads register `offset` (0..8).
    fn read(&mut self, offset: u8) -> u8;
    /// Writes register `offset` (0..8).
    fn write(&mut self, offset: u8, value: u8);
}

/// The registers at I/O ports `base..base + 8`.
#[derive(Debug)]
pub struct PortRegisters {
    base: u16,
}

impl PortRegisters {
    /// The COM1 port base.
    pub const COM1: u16 = 0x3f8;

    /// # Safety
    /// A 16550 must sit at `base..base + 8`, used by nothing else.
    pub unsafe fn new(base: u16) -> Self {
        Self { base }
    }
}

impl Registers for PortRegisters {
    fn read(&mut self, offset: u8) -> u8 {
        // SAFETY: `new`'s caller vouched that a UART, used by no one else, is here.
        unsafe { port::inb(self.base + u16::from(offset)) }
    }

    fn write(&mut self, offset: u8, value: u8) {
        // SAFETY: as for `read`.
        unsafe { port::outb(self.base + u16::from(offset), value) }
    }
}

const DATA: u8 = 0;
const INTERRUPT_ENABLE: u8 = 1;
const FIFO_CONTROL: u8 = 2;
const LINE_CONTROL: u8 = 3;
const MODEM_CONTROL: u8 = 4;
const LINE_STATUS: u8 = 5;

const LINE_STATUS_DATA_READY: u8 = 1 << 0;
const LINE_STATUS_TRANSMIT_EMPTY: u8 = 1 << 5;

/// How long `write` waits for room before it drops the byte: a console must not hang the
/// kernel when nobody drains the line.
const TRANSMIT_POLLS: u32 = 1 << 20;

/// A 16550 UART.
#[derive(Debug)]
pub struct Uart16550<R> {
    registers: R,
}

impl<R: Registers> Uart16550<R> {
    /// Sets the port up: 115200 baud, 8 data bits, no parity, one stop bit, FIFOs enabled
    /// and cleared, interrupts off.
    pub fn new(mut registers: R) -> Self {
        registers.write(INTERRUPT_ENABLE, 0);
        registers.write(LINE_CONTROL, 0x80); // divisor latch on
        registers.write(DATA, 1); // divisor 1: 115200 baud
        registers.write(INTERRUPT_ENABLE, 0);
        registers.write(LINE_CONTROL, 0x03); // 8N1, latch off
        registers.write(FIFO_CONTROL, 0x07); // enable and clear both FIFOs
        registers.write(MODEM_CONTROL, 0x03); // DTR, RTS
        Self { registers }
    }

    fn send(&mut self, byte: u8) {
        for _ in 0..TRANSMIT_POLLS {
            if self.registers.read(LINE_STATUS) & LINE_STATUS_TRANSMIT_EMPTY != 0 {
                self.registers.write(DATA, byte);
                return;
            }
            core::hint::spin_loop();
        }
    }

    fn data_ready(&mut self) -> bool {
        self.registers.read(LINE_STATUS) & LINE_STATUS_DATA_READY != 0
    }
}

impl<R> ErrorType for Uart16550<R> {
    type Error = Infallible;
}

impl<R: Registers> Write for Uart16550<R> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &byte in buf {
            self.send(byte);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl<R: Registers> ReadReady for Uart16550<R> {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(self.data_ready())
    }
}

impl<R: Registers> Read for Uart16550<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        while !self.data_ready() {
            core::hint::spin_loop();
        }
        let mut n = 0;
        while n < buf.len() && self.data_ready() {
            buf[n] = self.registers.read(DATA);
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use embedded_io::{Read, ReadReady, Write};

    use super::{LINE_STATUS, Registers, Uart16550};

    /// A register bank that logs writes and answers reads from a script.
    #[derive(Default)]
    struct FakeRegisters {
        writes: Vec<(u8, u8)>,
        line_status: u8,
        rx: VecDeque<u8>,
    }

    impl Registers for FakeRegisters {
        fn read(&mut self, offset: u8) -> u8 {
            match offset {
                0 => self.rx.pop_front().unwrap_or(0),
                LINE_STATUS => self.line_status | u8::from(!self.rx.is_empty()),
                _ => 0,
            }
        }

        fn write(&mut self, offset: u8, value: u8) {
            self.writes.push((offset, value));
        }
    }

    #[test]
    fn init_sets_115200_8n1_then_sends_bytes_to_the_data_register() {
        let regs = FakeRegisters {
            line_status: 0x20,
            ..Default::default()
        };
        let mut uart = Uart16550::new(regs);
        let init = uart.registers.writes.clone();
        assert!(init.contains(&(3, 0x80)) && init.contains(&(0, 1)) && init.contains(&(3, 0x03)));
        uart.write_all(b"hi").unwrap();
        assert_eq!(
            &uart.registers.writes[init.len()..],
            &[(0, b'h'), (0, b'i')]
        );
    }

    #[test]
    fn a_stuck_transmitter_drops_bytes_instead_of_hanging() {
        let mut uart = Uart16550::new(FakeRegisters::default());
        let before = uart.registers.writes.len();
        uart.write_all(b"x").unwrap();
        assert_eq!(uart.registers.writes.len(), before);
    }

    #[test]
    fn reads_what_arrived() {
        let mut uart = Uart16550::new(FakeRegisters::default());
        assert!(!uart.read_ready().unwrap());
        uart.registers.rx.extend(b"ok");
        assert!(uart.read_ready().unwrap());
        let mut buf = [0; 8];
        assert_eq!(uart.read(&mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ok");
    }
}
