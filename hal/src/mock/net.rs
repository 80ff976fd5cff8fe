use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use crate::irq::InterruptSource;
use crate::net::{DEFAULT_MTU, MIN_FRAME, MacAddress, NetDevice, NetStats};

/// A NIC whose wire is the test: frames the test queues are received, frames the code
/// under test sends are kept, and the transmit queue has a fixed number of slots.
#[derive(Debug)]
pub struct FakeNic {
    mac: MacAddress,
    rx: VecDeque<Vec<u8>>,
    sent: Vec<Vec<u8>>,
    tx_slots: usize,
    stats: NetStats,
    interrupt: bool,
}

impl FakeNic {
    /// A NIC with address `mac` and room for `tx_slots` unsent frames.
    pub fn new(mac: MacAddress, tx_slots: usize) -> Self {
        Self {
            mac,
            rx: VecDeque::new(),
            sent: Vec::new(),
            tx_slots,
            stats: NetStats::default(),
            interrupt: false,
        }
    }

    /// Queues a frame for the code under test to receive, and raises the interrupt.
    pub fn push_rx(&mut self, frame: &[u8]) {
        self.rx.push_back(frame.to_vec());
        self.interrupt = true;
    }

    /// Takes the frames sent so far, which frees their transmit slots.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        if !self.sent.is_empty() {
            self.interrupt = true;
        }
        core::mem::take(&mut self.sent)
    }
}

impl NetDevice for FakeNic {
    fn mac_address(&self) -> MacAddress {
        self.mac
    }

    fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let frame = self.rx.pop_front()?;
            if (MIN_FRAME..=DEFAULT_MTU.min(buf.len())).contains(&frame.len()) {
                buf[..frame.len()].copy_from_slice(&frame);
                self.stats.rx_frames += 1;
                return Some(frame.len());
            }
            self.stats.rx_dropped += 1;
        }
    }

    fn can_transmit(&mut self) -> bool {
        self.sent.len() < self.tx_slots
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> bool {
        if !self.can_transmit() {
            return false;
        }
        let mut frame = vec![0; len.min(DEFAULT_MTU)];
        fill(&mut frame);
        self.sent.push(frame);
        self.stats.tx_frames += 1;
        true
    }

    fn stats(&self) -> NetStats {
        self.stats
    }
}

impl InterruptSource for FakeNic {
    fn ack_interrupt(&mut self) -> bool {
        core::mem::take(&mut self.interrupt)
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::FakeNic;
    use crate::irq::InterruptSource;
    use crate::mock::{NetHarness, net_contract};
    use crate::net::{DEFAULT_MTU, NetDevice};

    struct Harness(FakeNic);

    impl NetHarness for Harness {
        type Device = FakeNic;

        fn device(&mut self) -> &mut FakeNic {
            &mut self.0
        }

        fn deliver(&mut self, frame: &[u8]) -> bool {
            self.0.push_rx(frame);
            true
        }

        fn sent(&mut self) -> Vec<Vec<u8>> {
            self.0.take_sent()
        }

        fn interrupts(&self) -> bool {
            true
        }
    }

    #[test]
    fn the_fake_keeps_the_contract() {
        net_contract(|| Harness(FakeNic::new([2, 0, 0, 0, 0, 1], 8)));
    }

    #[test]
    fn receives_queued_frames_and_sends_into_free_slots() {
        let mut nic = FakeNic::new([2, 0, 0, 0, 0, 1], 1);
        let mut buf = [0; DEFAULT_MTU];
        assert_eq!(nic.receive(&mut buf), None);
        nic.push_rx(b"an ethernet frame, ping");
        assert!(nic.ack_interrupt());
        assert!(!nic.ack_interrupt(), "acking lowers the line");
        let len = nic.receive(&mut buf).expect("a frame is waiting");
        assert_eq!(&buf[..len], b"an ethernet frame, ping");
        assert!(nic.transmit(4, &mut |frame| frame.copy_from_slice(b"pong")));
        assert!(!nic.can_transmit(), "the only slot is taken");
        assert!(!nic.transmit(4, &mut |_| panic!("no room: fill is not called")));
        assert_eq!(nic.take_sent(), [b"pong".to_vec()]);
        assert!(nic.can_transmit());
        let stats = nic.stats();
        assert_eq!((stats.rx_frames, stats.tx_frames), (1, 1));
        assert_eq!(nic.mac_address(), [2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn drops_and_counts_frames_that_are_too_short_or_too_long() {
        let mut nic = FakeNic::new([2, 0, 0, 0, 0, 1], 1);
        nic.push_rx(b"short");
        nic.push_rx(&[0; DEFAULT_MTU + 1]);
        nic.push_rx(&[7; 60]);
        let mut buf = [0; DEFAULT_MTU];
        assert_eq!(nic.receive(&mut buf), Some(60));
        assert_eq!(nic.stats().rx_dropped, 2);
    }
}
