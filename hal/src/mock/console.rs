use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::convert::Infallible;

use embedded_io::{ErrorType, Read, ReadReady, Write};

use crate::mock::time::Shared;

/// A console that records what is written and reads what the test queued.
///
/// Clones share one record, so a test can keep a clone after handing the console away.
#[derive(Clone, Debug, Default)]
pub struct RecordingConsole {
    output: Arc<Shared<Vec<u8>>>,
    input: Arc<Shared<VecDeque<u8>>>,
}

impl RecordingConsole {
    /// An empty console.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far.
    pub fn output(&self) -> Vec<u8> {
        self.output.with(|o| o.clone())
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> alloc::string::String {
        alloc::string::String::from_utf8_lossy(&self.output()).into_owned()
    }

    /// Queues bytes for later reads.
    pub fn push_input(&self, bytes: &[u8]) {
        self.input.with(|i| i.extend(bytes));
    }
}

impl ErrorType for RecordingConsole {
    type Error = Infallible;
}

impl Write for RecordingConsole {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.output.with(|o| o.extend_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl Read for RecordingConsole {
    /// Returns what was queued; with nothing queued, returns 0 (end of input) rather than
    /// block a test forever.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Ok(self.input.with(|input| {
            let n = buf.len().min(input.len());
            for (slot, byte) in buf.iter_mut().zip(input.drain(..n)) {
                *slot = byte;
            }
            n
        }))
    }
}

impl ReadReady for RecordingConsole {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(self.input.with(|i| !i.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use embedded_io::{Read, ReadReady, Write};

    use super::RecordingConsole;

    #[test]
    fn records_writes_and_serves_queued_input() {
        let mut console = RecordingConsole::new();
        let record = console.clone();
        console.write_all(b"hello ").unwrap();
        console.write_all(b"world").unwrap();
        assert_eq!(record.text(), "hello world");

        assert!(!console.read_ready().unwrap());
        record.push_input(b"ab");
        assert!(console.read_ready().unwrap());
        let mut buf = [0; 4];
        assert_eq!(console.read(&mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ab");
        assert_eq!(console.read(&mut buf).unwrap(), 0);
    }
}
