//! The e1000 driver against a device that writes whatever the input says: descriptors
//! with any length, status and error bits, frames of any size, transmits, interrupts and
//! link changes in any order. The driver must never panic, never hand over a frame
//! shorter than a header, longer than the MTU or the caller's buffer, and count every
//! frame it hands over.

#![no_main]

use drivers::net::e1000::E1000;
use drivers::net::e1000::fake::{FakeE1000, WriteBack};
use hal::irq::InterruptSource;
use hal::net::{DEFAULT_MTU, MIN_FRAME, NetDevice};
use libfuzzer_sys::fuzz_target;

/// Takes `n` bytes off the front of `input`, or what is left.
fn take<'a>(input: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = input.split_at(n.min(input.len()));
    *input = tail;
    head
}

fn number(input: &mut &[u8]) -> u16 {
    let bytes = take(input, 2);
    u16::from_le_bytes([
        bytes.first().copied().unwrap_or(0),
        bytes.get(1).copied().unwrap_or(0),
    ])
}

fuzz_target!(|data: &[u8]| {
    let fake = FakeE1000::new([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    let Ok(mut nic) = E1000::new(fake.clone()) else {
        return;
    };
    let mut input = data;
    let mut handed_over = 0u64;
    let mut buf = vec![0u8; DEFAULT_MTU + 64];
    while let Some(&op) = take(&mut input, 1).first() {
        match op % 7 {
            0 => {
                let length = number(&mut input);
                let flags = take(&mut input, 2);
                let back = WriteBack {
                    length,
                    status: flags.first().copied().unwrap_or(0),
                    errors: flags.get(1).copied().unwrap_or(0),
                };
                let content_len = usize::from(number(&mut input) % 2100);
                let content = take(&mut input, content_len);
                fake.write_back(content, back);
            }
            1 => {
                let len = usize::from(number(&mut input) % 4200);
                let frame = take(&mut input, len);
                fake.deliver(frame);
            }
            2 => {
                let size = usize::from(number(&mut input)) % buf.len() + 1;
                while let Some(len) = nic.receive(&mut buf[..size]) {
                    assert!(
                        (MIN_FRAME..=DEFAULT_MTU.min(size)).contains(&len),
                        "len {len}"
                    );
                    handed_over += 1;
                }
            }
            3 => {
                let len = usize::from(number(&mut input));
                let mut filled = 0;
                if nic.transmit(len, &mut |frame| {
                    filled = frame.len();
                    frame.fill(0x5a);
                }) {
                    assert!(filled <= DEFAULT_MTU);
                }
            }
            4 => {
                for frame in fake.send() {
                    assert!(frame.len() <= DEFAULT_MTU);
                }
            }
            5 => {
                nic.ack_interrupt();
            }
            _ => fake.set_link(op & 0x80 != 0),
        }
    }
    while let Some(len) = nic.receive(&mut buf) {
        assert!((MIN_FRAME..=DEFAULT_MTU).contains(&len));
        handed_over += 1;
    }
    assert_eq!(nic.stats().rx_frames, handed_over);
});
