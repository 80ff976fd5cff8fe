use alloc::vec;
use alloc::vec::Vec;

use crate::irq::InterruptSource;
use crate::net::{MIN_FRAME, NetDevice};

/// A network driver under test, with the wire that [`net_contract`] drives.
pub trait NetHarness {
    /// The driver.
    type Device: NetDevice + InterruptSource;

    /// The driver, to receive from and transmit to.
    fn device(&mut self) -> &mut Self::Device;

    /// The wire brings `frame` to the device, as it would arrive (any length); `false`
    /// when the device had no buffer for it and lost it.
    fn deliver(&mut self, frame: &[u8]) -> bool;

    /// The device puts on the wire what it was given to send; returns those frames in
    /// order, which frees their room.
    fn sent(&mut self) -> Vec<Vec<u8>>;

    /// Whether the device raises interrupts.
    fn interrupts(&self) -> bool;
}

/// More frames than any device here buffers: a loop filling the device stops by then.
const PLENTY: usize = 4096;

/// Frame `n` of `len` bytes: every frame and every byte tells itself apart.
fn frame(n: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + n * 13 + 1) as u8).collect()
}

/// The suite every network driver must pass (see [`crate::net`]'s contract): `make`
/// builds a harness around a freshly started device.
///
/// # Panics
/// On the first broken rule, naming it.
pub fn net_contract<H: NetHarness>(make: impl Fn() -> H) {
    nothing_is_received_when_nothing_came(&mut make());
    frames_arrive_byte_exact_and_in_order(&mut make());
    bad_frames_are_dropped_and_counted(&mut make());
    receive_buffers_come_back(&mut make());
    a_full_transmit_queue_refuses_and_recovers(&mut make());
    long_transmits_are_cut_to_the_mtu(&mut make());
    interrupts_are_raised_and_acknowledged(&mut make());
}

/// Acknowledges whatever the device raised while it started.
fn quiet<H: NetHarness>(harness: &mut H) {
    for _ in 0..PLENTY {
        if !harness.device().ack_interrupt() {
            return;
        }
    }
    panic!("the device's interrupt never goes quiet");
}

fn receive<H: NetHarness>(harness: &mut H) -> Option<Vec<u8>> {
    let mtu = harness.device().mtu();
    let mut buf = vec![0xa5; mtu];
    let len = harness.device().receive(&mut buf)?;
    assert!(
        len <= mtu,
        "receive returned {len} bytes, more than the MTU"
    );
    buf.truncate(len);
    Some(buf)
}

fn nothing_is_received_when_nothing_came<H: NetHarness>(harness: &mut H) {
    assert!(harness.device().mtu() >= MIN_FRAME, "an MTU below a header");
    assert!(receive(harness).is_none(), "a frame out of nothing");
    assert!(harness.sent().is_empty(), "a frame sent unasked");
    let stats = harness.device().stats();
    assert_eq!(
        (stats.rx_frames, stats.tx_frames, stats.rx_dropped),
        (0, 0, 0),
        "counted out of nothing"
    );
}

fn frames_arrive_byte_exact_and_in_order<H: NetHarness>(harness: &mut H) {
    let mtu = harness.device().mtu();
    let frames = [
        frame(1, 60),
        frame(2, mtu),
        frame(3, MIN_FRAME),
        frame(4, 342),
    ];
    for f in &frames {
        assert!(harness.deliver(f), "an idle device lost a frame");
    }
    for (i, f) in frames.iter().enumerate() {
        let got = receive(harness).unwrap_or_else(|| panic!("frame {i} was not received"));
        assert!(
            got == *f,
            "frame {i} ({} bytes) came back different",
            f.len()
        );
    }
    assert!(receive(harness).is_none(), "a frame too many");
    let stats = harness.device().stats();
    assert_eq!(stats.rx_frames, frames.len() as u64, "rx_frames");
    assert_eq!(stats.rx_dropped, 0, "rx_dropped with good frames only");
}

fn bad_frames_are_dropped_and_counted<H: NetHarness>(harness: &mut H) {
    let mtu = harness.device().mtu();
    let bad = [
        frame(5, MIN_FRAME - 1),
        frame(6, 1),
        frame(7, mtu + 1),
        frame(8, 3000),
    ];
    let mut delivered = 0;
    for f in &bad {
        delivered += u64::from(harness.deliver(f));
    }
    let good = frame(9, 100);
    assert!(harness.deliver(&good));
    let got = receive(harness).expect("the good frame after the bad ones");
    assert!(got == good, "a bad frame was handed over");
    assert!(receive(harness).is_none(), "a bad frame was handed over");
    let stats = harness.device().stats();
    assert_eq!(
        stats.rx_dropped, delivered,
        "every bad frame that reached the driver is counted"
    );
    assert_eq!(stats.rx_frames, 1);
}

fn receive_buffers_come_back<H: NetHarness>(harness: &mut H) {
    // Fill the device until it loses a frame (or it never does).
    let mut queued = Vec::new();
    while queued.len() < PLENTY {
        let f = frame(queued.len(), 64 + queued.len() % 1000);
        if !harness.deliver(&f) {
            break;
        }
        queued.push(f);
    }
    assert!(!queued.is_empty(), "the device took no frame at all");
    for (i, f) in queued.iter().enumerate() {
        let got = receive(harness).unwrap_or_else(|| panic!("queued frame {i} was lost"));
        assert!(got == *f, "queued frame {i} came back different");
    }
    assert!(receive(harness).is_none());
    // Several times round the ring: each buffer was given back.
    for round in 0..3 * queued.len().min(PLENTY / 4) {
        let f = frame(round, 200);
        assert!(harness.deliver(&f), "round {round}: no buffer came back");
        assert!(
            receive(harness).is_some_and(|got| got == f),
            "round {round}"
        );
    }
}

fn a_full_transmit_queue_refuses_and_recovers<H: NetHarness>(harness: &mut H) {
    let mut given = Vec::new();
    while harness.device().can_transmit() {
        assert!(given.len() < PLENTY, "the transmit queue never fills");
        let f = frame(given.len(), 60 + given.len() % 1400);
        let mut source = f.clone();
        assert!(
            harness
                .device()
                .transmit(f.len(), &mut |buf| buf.copy_from_slice(&source)),
            "transmit refused although can_transmit said yes"
        );
        source.clear();
        given.push(f);
    }
    assert!(!given.is_empty(), "an idle device could not transmit");
    let refused = harness
        .device()
        .transmit(60, &mut |_| panic!("fill called on a refused transmit"));
    assert!(!refused, "a full device took a frame");
    let sent = harness.sent();
    assert_eq!(sent.len(), given.len(), "frames lost or added on the wire");
    for (i, (s, g)) in sent.iter().zip(&given).enumerate() {
        assert!(s == g, "frame {i} went out different");
    }
    assert!(
        harness.device().can_transmit(),
        "no room after the wire took all"
    );
    let last = frame(77, 90);
    assert!(
        harness
            .device()
            .transmit(last.len(), &mut |buf| buf.copy_from_slice(&last))
    );
    assert_eq!(harness.sent(), [last], "the queue works again");
    assert_eq!(harness.device().stats().tx_frames, given.len() as u64 + 1);
}

fn long_transmits_are_cut_to_the_mtu<H: NetHarness>(harness: &mut H) {
    let mtu = harness.device().mtu();
    let mut seen = 0;
    assert!(harness.device().transmit(mtu + 100, &mut |buf| {
        seen = buf.len();
        buf.fill(0x3c);
    }));
    assert_eq!(seen, mtu, "fill got more than the MTU");
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].len() == mtu && sent[0].iter().all(|&b| b == 0x3c));
}

fn interrupts_are_raised_and_acknowledged<H: NetHarness>(harness: &mut H) {
    if !harness.interrupts() {
        return;
    }
    quiet(harness);
    assert!(
        !harness.device().ack_interrupt(),
        "an interrupt out of nothing"
    );
    assert!(harness.deliver(&frame(1, 60)));
    assert!(harness.device().ack_interrupt(), "no interrupt for a frame");
    assert!(!harness.device().ack_interrupt(), "acking did not lower it");
    assert!(receive(harness).is_some());
    assert!(harness.device().transmit(60, &mut |buf| buf.fill(1)));
    assert_eq!(harness.sent().len(), 1);
    assert!(
        harness.device().ack_interrupt(),
        "no interrupt for a sent frame"
    );
    quiet(harness);
}
