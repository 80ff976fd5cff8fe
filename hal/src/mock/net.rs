use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use crate::net::{DEFAULT_MTU, MacAddress, NetDevice, RxToken, TxToken};

/// A NIC whose wire is the test: frames the test queues are received, frames the code
/// under test sends are kept, and the transmit queue has a fixed number of slots.
#[derive(Debug)]
pub struct FakeNic {
    mac: MacAddress,
    rx: VecDeque<Vec<u8>>,
    sent: Vec<Vec<u8>>,
    tx_slots: usize,
}

impl FakeNic {
    /// A NIC with address `mac` and room for `tx_slots` unsent frames.
    pub fn new(mac: MacAddress, tx_slots: usize) -> Self {
        Self {
            mac,
            rx: VecDeque::new(),
            sent: Vec::new(),
            tx_slots,
        }
    }

    /// Queues a frame for the code under test to receive.
    pub fn push_rx(&mut self, frame: &[u8]) {
        self.rx.push_back(frame.to_vec());
    }

    /// Takes the frames sent so far, which frees their transmit slots.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.sent)
    }

    fn tx_token(&mut self) -> Option<FakeTxToken<'_>> {
        (self.sent.len() < self.tx_slots).then_some(FakeTxToken {
            sent: &mut self.sent,
        })
    }
}

/// A frame from [`FakeNic`].
#[derive(Debug)]
pub struct FakeRxToken(Vec<u8>);

impl RxToken for FakeRxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

/// Room for one frame in [`FakeNic`].
#[derive(Debug)]
pub struct FakeTxToken<'a> {
    sent: &'a mut Vec<Vec<u8>>,
}

impl TxToken for FakeTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len.min(DEFAULT_MTU)];
        let result = f(&mut frame);
        self.sent.push(frame);
        result
    }
}

impl NetDevice for FakeNic {
    type RxToken<'a> = FakeRxToken;
    type TxToken<'a> = FakeTxToken<'a>;

    fn receive(&mut self) -> Option<(FakeRxToken, FakeTxToken<'_>)> {
        if self.sent.len() >= self.tx_slots {
            return None;
        }
        let frame = self.rx.pop_front()?;
        Some((
            FakeRxToken(frame),
            FakeTxToken {
                sent: &mut self.sent,
            },
        ))
    }

    fn transmit(&mut self) -> Option<FakeTxToken<'_>> {
        self.tx_token()
    }

    fn mac_address(&self) -> MacAddress {
        self.mac
    }
}

#[cfg(test)]
mod tests {
    use super::FakeNic;
    use crate::net::{NetDevice, RxToken, TxToken};

    #[test]
    fn hands_out_tokens_only_when_it_can() {
        let mut nic = FakeNic::new([2, 0, 0, 0, 0, 1], 1);
        assert!(nic.receive().is_none());
        nic.push_rx(b"ping");
        let (rx, tx) = nic.receive().expect("a frame is waiting");
        let len = rx.consume(|frame| frame.len());
        tx.consume(len, |buf| buf.copy_from_slice(b"pong"));
        assert!(nic.transmit().is_none(), "the only slot is taken");
        assert_eq!(nic.take_sent(), [b"pong".to_vec()]);
        assert!(nic.transmit().is_some());
        assert_eq!(nic.mac_address(), [2, 0, 0, 0, 0, 1]);
    }
}
