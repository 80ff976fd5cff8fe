use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::cpu::{CoreEntry, Cores, CpuIdle, StartError};
use crate::mock::time::{ManualClock, Shared};
use crate::time::Instant;

/// A machine of a fixed number of cores that records which cores were woken. The current
/// core is whatever the test sets. Clones share one record.
#[derive(Clone, Debug)]
pub struct FakeCores {
    count: usize,
    current: Arc<Shared<usize>>,
    woken: Arc<Shared<Vec<usize>>>,
    started: Arc<Shared<Vec<(usize, usize, CoreEntry)>>>,
}

impl FakeCores {
    /// A machine of `count` cores, running on core 0.
    pub fn new(count: usize) -> Self {
        Self {
            count: count.max(1),
            current: Arc::default(),
            woken: Arc::default(),
            started: Arc::default(),
        }
    }

    /// Pretends that later calls run on `core`.
    pub fn set_current(&self, core: usize) {
        self.current.with(|c| *c = core);
    }

    /// The start requests so far: core, stack top and entry. The fake does not run them;
    /// a test that wants a core to run calls the entry itself.
    pub fn started(&self) -> Vec<(usize, usize, CoreEntry)> {
        self.started.with(|s| s.clone())
    }

    /// The cores woken so far, in order.
    pub fn woken(&self) -> Vec<usize> {
        self.woken.with(|w| w.clone())
    }
}

impl Cores for FakeCores {
    fn count(&self) -> usize {
        self.count
    }

    fn current(&self) -> usize {
        self.current.with(|c| *c)
    }

    fn wake(&self, core: usize) {
        if core < self.count {
            self.woken.with(|w| w.push(core));
        }
    }

    unsafe fn start(
        &self,
        core: usize,
        stack_top: usize,
        entry: CoreEntry,
    ) -> Result<(), StartError> {
        if core == 0 || core >= self.count {
            return Err(StartError::NoSuchCore);
        }
        self.started.with(|s| {
            if s.iter().any(|&(c, _, _)| c == core) {
                return Err(StartError::AlreadyStarted);
            }
            s.push((core, stack_top, entry));
            Ok(())
        })
    }
}

/// An idle that records each deadline it halted for and, instead of halting, moves a
/// [`ManualClock`] to that deadline, as if the core had slept until its timer fired. When
/// `still_idle` says there is work, it records nothing and returns at once.
#[derive(Clone, Debug)]
pub struct RecordingIdle {
    clock: ManualClock,
    calls: Arc<Shared<Vec<Option<Instant>>>>,
}

impl RecordingIdle {
    /// An idle that moves `clock`.
    pub fn new(clock: ManualClock) -> Self {
        Self {
            clock,
            calls: Arc::default(),
        }
    }

    /// The deadlines of every call so far, in order (`None`: no deadline).
    pub fn calls(&self) -> Vec<Option<Instant>> {
        self.calls.with(|c| c.clone())
    }
}

impl CpuIdle for RecordingIdle {
    fn idle(&self, deadline: Option<Instant>, still_idle: &mut dyn FnMut() -> bool) {
        if !still_idle() {
            return;
        }
        self.calls.with(|c| c.push(deadline));
        if let Some(t) = deadline {
            self.clock.advance_to(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::{FakeCores, RecordingIdle};
    use crate::cpu::{Cores, CpuIdle, StartError};
    use crate::mock::ManualClock;
    use crate::time::{Clock, Instant};

    extern "C" fn never(_: usize) -> ! {
        unreachable!()
    }

    #[test]
    fn cores_start_each_secondary_core_once() {
        let cores = FakeCores::new(3);
        // SAFETY: the fake never runs the entry or touches the stack.
        unsafe {
            assert_eq!(cores.start(0, 0x1000, never), Err(StartError::NoSuchCore));
            assert_eq!(cores.start(3, 0x1000, never), Err(StartError::NoSuchCore));
            assert_eq!(cores.start(2, 0x1000, never), Ok(()));
            assert_eq!(
                cores.start(2, 0x2000, never),
                Err(StartError::AlreadyStarted)
            );
        }
        assert_eq!(cores.started().len(), 1);
    }

    #[test]
    fn start_all_reports_every_core_in_order() {
        let cores = FakeCores::new(3);
        let mut reports = Vec::new();
        // SAFETY: the fake never runs the entry or touches the stacks.
        unsafe {
            cores.start(2, 0x3000, never).unwrap();
            cores.start_all(&[0x1000, 0x2000, 0x4000], never, &mut |core, result| {
                reports.push((core, result))
            });
        }
        assert_eq!(
            reports,
            [
                (1, Ok(())),
                (2, Err(StartError::AlreadyStarted)),
                (3, Err(StartError::NoSuchCore))
            ]
        );
        let started: Vec<(usize, usize)> =
            cores.started().iter().map(|&(c, s, _)| (c, s)).collect();
        assert_eq!(started, [(2, 0x3000), (1, 0x1000)]);
    }

    #[test]
    fn cores_record_wakes_of_real_cores_only() {
        let cores = FakeCores::new(2);
        cores.wake(1);
        cores.wake(7);
        cores.set_current(1);
        assert_eq!(cores.current(), 1);
        assert_eq!(cores.woken(), [1]);
    }

    #[test]
    fn idle_sleeps_until_the_deadline() {
        let clock = ManualClock::new();
        let idle = RecordingIdle::new(clock.clone());
        idle.idle(Some(Instant::from_nanos(500)), &mut || true);
        idle.idle(Some(Instant::from_nanos(900)), &mut || false);
        idle.idle(None, &mut || true);
        assert_eq!(clock.now().as_nanos(), 500);
        assert_eq!(idle.calls(), [Some(Instant::from_nanos(500)), None]);
    }
}
