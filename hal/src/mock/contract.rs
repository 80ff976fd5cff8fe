use alloc::vec;
use alloc::vec::Vec;

use crate::block::{BlockDevice, ErrorKind, Request, SECTOR_SIZE, Token};
use crate::irq::InterruptSource;

/// A block driver under test, with what [`block_contract`] needs to drive it.
pub trait BlockHarness {
    /// The driver.
    type Device: BlockDevice<Error = ErrorKind> + InterruptSource;

    /// The driver, to submit to and poll.
    fn device(&mut self) -> &mut Self::Device;

    /// Lets the device work on what it was given (a fake transport processes its queue).
    fn progress(&mut self);

    /// Whether the device raises interrupts.
    fn interrupts(&self) -> bool;

    /// What the device holds now.
    fn image(&self) -> Vec<u8>;

    /// Makes the device refuse writes from now on.
    fn set_read_only(&mut self);
}

/// How many sectors the contract's image has.
const SECTORS: usize = 16;

/// How many rounds of `progress` a request may take before the suite calls it lost.
const PATIENCE: usize = 1000;

/// The image the suite starts from: every byte tells its sector and offset apart.
fn image() -> Vec<u8> {
    (0..SECTORS * SECTOR_SIZE)
        .map(|i| ((i / SECTOR_SIZE) * 31 + i * 7) as u8)
        .collect()
}

/// The suite every block driver must pass (see [`crate::block`]'s contract): `make`
/// builds a harness around a device holding the given image.
///
/// # Panics
/// On the first broken rule, naming it.
pub fn block_contract<H: BlockHarness>(make: impl Fn(&[u8]) -> H) {
    reads_return_the_image(&mut make(&image()));
    writes_read_back(&mut make(&image()));
    a_full_queue_loses_nothing(&mut make(&image()));
    bad_requests_are_refused_at_submit(&mut make(&image()));
    read_only_refuses_writes(&mut make(&image()));
    flush_completes(&mut make(&image()));
    interrupts_are_acknowledged_once(&mut make(&image()));
}

/// Submits `request` and waits (driving the harness) for its completion.
fn run<H: BlockHarness>(harness: &mut H, mut request: Request<'_>) -> Result<(), ErrorKind> {
    // SAFETY: `request`'s buffer is borrowed until this function returns, which is after
    // its token came back (or it panics, failing the test, with the borrow still held).
    let token = unsafe { harness.device().submit(request.reborrow()) }
        .unwrap_or_else(|e| panic!("a lone request was refused: {e:?}"));
    wait(harness, &[token]).remove(0).1
}

/// Drives the harness until every token in `tokens` came back exactly once; returns the
/// completions in the order they came.
fn wait<H: BlockHarness>(harness: &mut H, tokens: &[Token]) -> Vec<(Token, Result<(), ErrorKind>)> {
    let mut done: Vec<(Token, Result<(), ErrorKind>)> = Vec::new();
    for _ in 0..PATIENCE {
        harness.progress();
        while let Some(completion) = harness.device().poll() {
            assert!(
                tokens.contains(&completion.token),
                "poll returned {:?}, which is not in flight",
                completion.token
            );
            assert!(
                done.iter().all(|(t, _)| *t != completion.token),
                "{:?} came back twice",
                completion.token
            );
            done.push((completion.token, completion.result));
        }
        if done.len() == tokens.len() {
            harness.progress();
            assert!(harness.device().poll().is_none(), "a completion too many");
            return done;
        }
    }
    panic!(
        "{} of {} requests never finished",
        tokens.len() - done.len(),
        tokens.len()
    );
}

fn sector(image: &[u8], n: usize) -> &[u8] {
    &image[n * SECTOR_SIZE..(n + 1) * SECTOR_SIZE]
}

fn reads_return_the_image<H: BlockHarness>(harness: &mut H) {
    assert_eq!(harness.device().sector_count(), SECTORS as u64);
    let mut buf = vec![0; SECTORS * SECTOR_SIZE];
    let read = Request::Read {
        first: 0,
        buf: &mut buf,
    };
    assert_eq!(run(harness, read), Ok(()));
    assert!(buf == image(), "a whole-disk read differs from the image");
    let mut one = vec![0; SECTOR_SIZE];
    let read = Request::Read {
        first: 9,
        buf: &mut one,
    };
    assert_eq!(run(harness, read), Ok(()));
    assert_eq!(one, sector(&image(), 9), "sector 9 read back wrong");
}

fn writes_read_back<H: BlockHarness>(harness: &mut H) {
    let data: Vec<u8> = (0..2 * SECTOR_SIZE)
        .map(|i| (i % 251) as u8 ^ 0x5a)
        .collect();
    let write = Request::Write {
        first: 3,
        buf: &data,
    };
    assert_eq!(run(harness, write), Ok(()));
    let mut buf = vec![0; 4 * SECTOR_SIZE];
    let read = Request::Read {
        first: 2,
        buf: &mut buf,
    };
    assert_eq!(run(harness, read), Ok(()));
    let mut expected = image();
    expected[3 * SECTOR_SIZE..5 * SECTOR_SIZE].copy_from_slice(&data);
    assert!(
        buf == expected[2 * SECTOR_SIZE..6 * SECTOR_SIZE],
        "a write did not read back"
    );
    assert!(
        harness.image() == expected,
        "the device holds something else than was written"
    );
}

fn a_full_queue_loses_nothing<H: BlockHarness>(harness: &mut H) {
    let depth = harness.device().queue_depth();
    assert!(depth >= 1, "queue_depth is at least 1");
    let mut bufs = vec![vec![0u8; SECTOR_SIZE]; depth + 1];
    let mut tokens = Vec::new();
    for (i, buf) in bufs.iter_mut().take(depth).enumerate() {
        let read = Request::Read {
            first: (i % SECTORS) as u64,
            buf,
        };
        // SAFETY: `bufs` outlives every request: the suite waits for all tokens below.
        match unsafe { harness.device().submit(read) } {
            Ok(token) => tokens.push(token),
            Err(e) => panic!("request {i} of a queue of {depth} was refused: {e:?}"),
        }
    }
    let mut distinct = tokens.clone();
    distinct.sort_by_key(|t| t.0);
    distinct.dedup();
    assert_eq!(distinct.len(), depth, "tokens in flight must differ");
    let extra = Request::Read {
        first: 0,
        buf: &mut bufs[depth],
    };
    // SAFETY: refused requests keep no address; were it accepted, the assert fails first.
    let refused = unsafe { harness.device().submit(extra) };
    assert_eq!(
        refused,
        Err(nb::Error::WouldBlock),
        "a full queue says WouldBlock"
    );
    let done = wait(harness, &tokens);
    assert!(
        done.iter().all(|(_, r)| r.is_ok()),
        "reads failed: {done:?}"
    );
    for (i, buf) in bufs.iter().take(depth).enumerate() {
        assert_eq!(
            buf,
            sector(&image(), i % SECTORS),
            "request {i} got the wrong data"
        );
    }
    let last = Request::Read {
        first: 1,
        buf: &mut bufs[depth],
    };
    assert_eq!(run(harness, last), Ok(()), "the queue has room again");
    assert_eq!(bufs[depth], sector(&image(), 1));
}

fn bad_requests_are_refused_at_submit<H: BlockHarness>(harness: &mut H) {
    let mut buf = vec![0xee_u8; 2 * SECTOR_SIZE];
    let bad = [
        (0, 0, ErrorKind::InvalidBuffer),
        (0, 100, ErrorKind::InvalidBuffer),
        (SECTORS as u64, SECTOR_SIZE, ErrorKind::OutOfRange),
        (SECTORS as u64 - 1, 2 * SECTOR_SIZE, ErrorKind::OutOfRange),
        (u64::MAX, SECTOR_SIZE, ErrorKind::OutOfRange),
    ];
    for (first, len, kind) in bad {
        let read = Request::Read {
            first,
            buf: &mut buf[..len],
        };
        // SAFETY: a refused request keeps no address; an accepted one fails the assert
        // while `buf` still lives, and the test ends.
        let result = unsafe { harness.device().submit(read) };
        assert_eq!(
            result,
            Err(nb::Error::Other(kind)),
            "read of {len} bytes at {first}"
        );
        let write = Request::Write {
            first,
            buf: &buf[..len],
        };
        // SAFETY: as above.
        let result = unsafe { harness.device().submit(write) };
        assert_eq!(
            result,
            Err(nb::Error::Other(kind)),
            "write of {len} bytes at {first}"
        );
    }
    harness.progress();
    assert!(
        harness.device().poll().is_none(),
        "a refused request completed"
    );
    assert!(buf.iter().all(|&b| b == 0xee), "a refused read transferred");
    assert!(harness.image() == image(), "a refused write transferred");
}

fn read_only_refuses_writes<H: BlockHarness>(harness: &mut H) {
    harness.set_read_only();
    let data = vec![1; SECTOR_SIZE];
    let write = Request::Write {
        first: 0,
        buf: &data,
    };
    // SAFETY: as in `bad_requests_are_refused_at_submit`.
    let result = unsafe { harness.device().submit(write) };
    assert_eq!(result, Err(nb::Error::Other(ErrorKind::ReadOnly)));
    assert!(harness.image() == image(), "a read-only device was written");
    let mut buf = vec![0; SECTOR_SIZE];
    let read = Request::Read {
        first: 0,
        buf: &mut buf,
    };
    assert_eq!(run(harness, read), Ok(()), "a read-only device still reads");
}

fn flush_completes<H: BlockHarness>(harness: &mut H) {
    let data = vec![7; SECTOR_SIZE];
    let write = Request::Write {
        first: 4,
        buf: &data,
    };
    assert_eq!(run(harness, write), Ok(()));
    assert_eq!(run(harness, Request::Flush), Ok(()));
    assert_eq!(sector(&harness.image(), 4), &data[..]);
}

fn interrupts_are_acknowledged_once<H: BlockHarness>(harness: &mut H) {
    let mut buf = vec![0; SECTOR_SIZE];
    let read = Request::Read {
        first: 0,
        buf: &mut buf,
    };
    // SAFETY: the suite waits for the token below while `buf` lives.
    let token = unsafe { harness.device().submit(read) }
        .unwrap_or_else(|e| panic!("a lone request was refused: {e:?}"));
    harness.progress();
    let interrupts = harness.interrupts();
    assert_eq!(
        harness.device().ack_interrupt(),
        interrupts,
        "after a completion, the ack says whether the device interrupted"
    );
    assert!(
        !harness.device().ack_interrupt(),
        "a second ack finds nothing"
    );
    assert_eq!(wait(harness, &[token]), [(token, Ok(()))]);
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::{BlockHarness, block_contract};
    use crate::block::{BlockDevice, ErrorKind, Request, SECTOR_SIZE};
    use crate::mock::{FakeDisk, RamDisk};

    struct Ram(RamDisk);

    impl BlockHarness for Ram {
        type Device = RamDisk;

        fn device(&mut self) -> &mut RamDisk {
            &mut self.0
        }

        fn progress(&mut self) {}

        fn interrupts(&self) -> bool {
            false
        }

        fn image(&self) -> Vec<u8> {
            self.0.bytes().to_vec()
        }

        fn set_read_only(&mut self) {
            self.0.set_read_only(true);
        }
    }

    struct Fake(FakeDisk);

    impl BlockHarness for Fake {
        type Device = FakeDisk;

        fn device(&mut self) -> &mut FakeDisk {
            &mut self.0
        }

        fn progress(&mut self) {
            self.0.finish_all();
        }

        fn interrupts(&self) -> bool {
            true
        }

        fn image(&self) -> Vec<u8> {
            self.0.bytes()
        }

        fn set_read_only(&mut self) {
            self.0.set_read_only(true);
        }
    }

    #[test]
    fn ram_disk_keeps_the_contract() {
        block_contract(|image| Ram(RamDisk::from_bytes(image.to_vec())));
    }

    #[test]
    fn fake_disk_keeps_the_contract() {
        block_contract(|image| Fake(FakeDisk::from_bytes(image.to_vec())));
        block_contract(|image| {
            let disk = FakeDisk::from_bytes(image.to_vec());
            disk.set_depth(1);
            Fake(disk)
        });
    }

    #[test]
    fn bad_sectors_fail_in_the_completion() {
        let mut ram = RamDisk::new(4);
        ram.fail_sector(Some(2));
        let fake = FakeDisk::new(4);
        fake.fail_sector(Some(2));
        let mut fake_device = fake.clone();
        let devices: [&mut dyn BlockDevice<Error = ErrorKind>; 2] = [&mut ram, &mut fake_device];
        for device in devices {
            let mut buf = [0; 2 * SECTOR_SIZE];
            let read = Request::Read {
                first: 1,
                buf: &mut buf,
            };
            // SAFETY: `buf` lives until the completion was polled below.
            let token = unsafe { device.submit(read) }.unwrap();
            fake.finish_all();
            let done = device.poll().expect("finished");
            assert_eq!(done.token, token);
            assert_eq!(done.result, Err(ErrorKind::Device));
        }
        assert_eq!(fake.started(), 1);
    }
}
