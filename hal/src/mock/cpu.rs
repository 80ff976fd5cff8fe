use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::cpu::{Cores, CpuIdle};
use crate::mock::time::{ManualClock, Shared};
use crate::time::Instant;

/// A machine of a fixed number of cores that records which cores were woken. The current
/// core is whatever the test sets. Clones share one record.
#[derive(Clone, Debug)]
pub struct FakeCores {
    count: usize,
    current: Arc<Shared<usize>>,
    woken: Arc<Shared<Vec<usize>>>,
}

impl FakeCores {
    /// A machine of `count` cores, running on core 0.
    pub fn new(count: usize) -> Self {
        Self {
            count: count.max(1),
            current: Arc::default(),
            woken: Arc::default(),
        }
    }

    /// Pretends that later calls run on `core`.
    pub fn set_current(&self, core: usize) {
        self.current.with(|c| *c = core);
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
}

/// An idle that records each deadline it was given and, instead of halting, moves a
/// [`ManualClock`] to that deadline, as if the core had slept until its timer fired.
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
    fn idle(&mut self, deadline: Option<Instant>) {
        self.calls.with(|c| c.push(deadline));
        if let Some(t) = deadline {
            self.clock.advance_to(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FakeCores, RecordingIdle};
    use crate::cpu::{Cores, CpuIdle};
    use crate::mock::ManualClock;
    use crate::time::{Clock, Instant};

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
        let mut idle = RecordingIdle::new(clock.clone());
        idle.idle(Some(Instant::from_nanos(500)));
        idle.idle(None);
        assert_eq!(clock.now().as_nanos(), 500);
        assert_eq!(idle.calls(), [Some(Instant::from_nanos(500)), None]);
    }
}
