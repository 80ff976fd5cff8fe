//! Every process probe starts ends with probe.
//!
//! QEMU, cargo and the scripts of a baseline are started by [`spawn`]: each in a process
//! group of its own (so that ending it also ends what it started, such as the QEMU of a
//! script or the rustc of a cargo), registered here until it is reaped. Whichever way probe
//! ends, the groups end first:
//! - SIGTERM, SIGINT (Ctrl-C: the children, in their own groups, do not see it), SIGHUP and
//!   SIGQUIT reach one thread that kills every registered group, waits until each child has
//!   exited, and exits with 128 + the signal number;
//! - a panic aborts probe (the workspace's profiles say `panic = "abort"`, so no `Drop`
//!   runs), and the panic hook kills the groups first;
//! - anything else that ends probe at once (SIGKILL, an abort without a panic) reaches
//!   each child through `PR_SET_PDEATHSIG`: the kernel kills a child when the thread that
//!   started it ends. So children are started from the main thread, which lives as long
//!   as probe. This reaches the children only, not what they started.
//!
//! One child may instead run in the foreground ([`spawn_foreground`]): gdb under `probe
//! gdb`. It stays in probe's process group, so it owns the terminal with probe and Ctrl-C
//! reaches it; while it runs, probe's signal thread lets SIGINT pass.
//!
//! Linux only, as probe is (`/proc`, KVM, `PR_SET_PDEATHSIG`).
//!
//! A group leaves the list under the list's lock when its leader is reaped, and signals are
//! sent under the same lock: process ids are few (pid_max is often 32768) and are reused as
//! soon as a process is reaped, and killing a stranger's group would be worse than missing
//! one of ours.

use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread;

/// The signals that end probe, with their names.
const ENDING_SIGNALS: [(libc::c_int, &str); 4] = [
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGTERM, "SIGTERM"),
];

/// The children not yet reaped, each as the id `kill` takes: a group's (its leader's id,
/// negated) or, for a foreground child, the child's own.
static GROUPS: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

/// True while a foreground child runs: SIGINT is then its, not probe's.
static FOREGROUND: AtomicBool = AtomicBool::new(false);

fn groups() -> MutexGuard<'static, Vec<libc::pid_t>> {
    // Every change to the list is a single push or retain, so it is whole even after a panic.
    GROUPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes every way probe ends end its children too (see the module documentation).
///
/// Call first in `main`, before any other thread starts: the ending signals are blocked in
/// the calling thread and so in every thread it starts later, and one thread waits for them.
pub(crate) fn install() -> Result<(), String> {
    let set = ending_set();
    // SAFETY: `set` is an initialised signal set; this changes only this thread's mask.
    let blocked = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if blocked != 0 {
        let err = io::Error::from_raw_os_error(blocked);
        return Err(format!("cannot block the ending signals: {err}"));
    }
    thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || wait_for_signals(&set))
        .map_err(|err| format!("cannot start the signal thread: {err}"))?;
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        // Never wait for the lock here: this thread may hold it. `PR_SET_PDEATHSIG` still
        // ends the children when the abort that follows ends probe.
        let groups = match GROUPS.try_lock() {
            Ok(groups) => groups,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        end_all(&groups);
    }));
    Ok(())
}

/// The set of [`ENDING_SIGNALS`].
fn ending_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigemptyset` initialises the set, and `sigaddset` is given valid signals.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for (signal, _) in ENDING_SIGNALS {
            libc::sigaddset(set.as_mut_ptr(), signal);
        }
        set.assume_init()
    }
}

/// The signal thread: ends the children and then probe at the first ending signal.
fn wait_for_signals(set: &libc::sigset_t) {
    loop {
        let mut signal = 0;
        // SAFETY: `set` is initialised and `signal` is a place for the answer.
        if unsafe { libc::sigwait(set, &mut signal) } != 0 {
            continue;
        }
        if signal == libc::SIGINT && FOREGROUND.load(Ordering::SeqCst) {
            continue;
        }
        let name = ENDING_SIGNALS
            .iter()
            .find(|(number, _)| *number == signal)
            .map_or("a signal", |(_, name)| name);
        // Held until probe is gone: no child is reaped or started meanwhile.
        let groups = groups();
        end_all(&groups);
        let ended = match groups.as_slice() {
            [] => String::new(),
            targets => {
                let ids: Vec<String> = targets.iter().map(|id| id.abs().to_string()).collect();
                format!(" after ending its child processes {}", ids.join(", "))
            }
        };
        eprintln!("probe: stopped by {name}{ended}");
        std::process::exit(128 + signal);
    }
}

/// Kills every group (and foreground child) in `groups` and reaps each leader, for a probe
/// about to end: no process of ours is left, not even a zombie.
fn end_all(groups: &[libc::pid_t]) {
    for &target in groups {
        // SAFETY: `kill` touches no memory of ours. The leader is not reaped (it would have
        // left the list, under the lock the caller holds), so the group is still ours.
        unsafe { libc::kill(target, libc::SIGKILL) };
    }
    for leader in groups.iter().map(|target| target.abs()) {
        // SAFETY: `waitpid` with no status pointer touches no memory of ours. Nobody else
        // reaps it meanwhile: `Child` reaps only under the lock the caller holds.
        while unsafe { libc::waitpid(leader, std::ptr::null_mut(), 0) } == -1
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }
}

/// Waits until our child `pid` has exited, leaving it to be reaped.
fn wait_exited(pid: libc::pid_t) -> io::Result<()> {
    loop {
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        let id = libc::id_t::try_from(pid).map_err(io::Error::other)?;
        // SAFETY: `info` is a place for the answer; WNOWAIT leaves the child unreaped.
        let done = unsafe {
            libc::waitid(
                libc::P_PID,
                id,
                info.as_mut_ptr(),
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if done == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Starts `command` in a process group of its own, killed with probe (see the module
/// documentation). Call it from the main thread.
pub(crate) fn spawn(command: &mut Command) -> io::Result<Child> {
    start(command, true)
}

/// Starts `command` in probe's own process group, so that it shares the terminal (and
/// Ctrl-C) with probe, and killed with probe; while it runs, SIGINT does not end probe.
/// One at a time, from the main thread.
pub(crate) fn spawn_foreground(command: &mut Command) -> io::Result<Child> {
    let child = start(command, false)?;
    FOREGROUND.store(true, Ordering::SeqCst);
    Ok(child)
}

fn start(command: &mut Command, own_group: bool) -> io::Result<Child> {
    // SAFETY: `getpid` has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the child between fork and exec; it only makes system
    // calls that are async-signal-safe and allocates nothing.
    unsafe { command.pre_exec(move || prepare_child(parent, own_group)) };
    let mut groups = groups();
    let child = command.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    let target = if own_group { -pid } else { pid };
    groups.push(target);
    Ok(Child {
        child,
        target,
        reaped: false,
    })
}

/// Runs `command` to its end as [`spawn`] starts it, collecting its stdout and stderr (as
/// `Command::output` does).
pub(crate) fn output(command: &mut Command) -> io::Result<Output> {
    let mut child = spawn(command.stdout(Stdio::piped()).stderr(Stdio::piped()))?;
    let (Some(mut stdout), Some(mut stderr)) =
        (child.child.stdout.take(), child.child.stderr.take())
    else {
        return Err(io::Error::other("the child's pipes are missing"));
    };
    // Both pipes at once: a child blocked on a full stderr would never close its stdout.
    let errors = thread::spawn(move || {
        let mut bytes = Vec::new();
        stderr.read_to_end(&mut bytes).map(|_| bytes)
    });
    let mut out = Vec::new();
    stdout.read_to_end(&mut out)?;
    let err = errors
        .join()
        .map_err(|_| io::Error::other("the stderr reader panicked"))??;
    Ok(Output {
        status: child.wait()?,
        stdout: out,
        stderr: err,
    })
}

/// In a new child: no signal blocked (a child inherits the mask, and probe blocks the
/// ending signals), a process group of its own when `own_group`, and death with its
/// parent.
fn prepare_child(parent: libc::pid_t, own_group: bool) -> io::Result<()> {
    let mut none = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: plain system calls about this process; `sigemptyset` initialises `none`.
    unsafe {
        libc::sigemptyset(none.as_mut_ptr());
        let unblocked =
            libc::pthread_sigmask(libc::SIG_SETMASK, none.as_ptr(), std::ptr::null_mut());
        if unblocked != 0 {
            return Err(io::Error::from_raw_os_error(unblocked));
        }
        if own_group && libc::setpgid(0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            return Err(io::Error::last_os_error());
        }
        // If the parent died before the line above, no signal will ever come.
        if libc::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

/// A child started by [`spawn`] or [`spawn_foreground`]. Dropping it kills its group (or
/// it) and reaps it.
#[derive(Debug)]
pub(crate) struct Child {
    child: std::process::Child,
    /// What `kill` takes for it: its group's id negated, or its own id.
    target: libc::pid_t,
    /// True once the child has been reaped and its group has left the list.
    reaped: bool,
}

impl Child {
    /// The child's process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdout, if it was piped and not taken yet.
    pub(crate) fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The child's status if it has exited (reaping it), else `None`.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let mut groups = groups();
        let status = self.child.try_wait()?;
        if status.is_some() && !self.reaped {
            self.reaped = true;
            groups.retain(|&target| target != self.target);
            if self.target > 0 {
                FOREGROUND.store(false, Ordering::SeqCst);
            }
        }
        Ok(status)
    }

    /// Waits for the child to exit and reaps it.
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if !self.reaped {
                // Not reaping here keeps the group in the list until `try_wait` takes it out.
                wait_exited(self.target.abs())?;
            }
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
        }
    }

    /// Kills the child's group (the child and whatever it started) and reaps the child.
    pub(crate) fn kill(&mut self) -> io::Result<ExitStatus> {
        {
            let _groups = groups();
            if !self.reaped {
                // SAFETY: `kill` touches no memory of ours; the leader is unreaped (checked
                // under the lock that reaping takes), so the group is still ours.
                unsafe { libc::kill(self.target, libc::SIGKILL) };
            }
        }
        self.wait()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // An error means it is gone already.
            let _ended = self.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::{groups, output, spawn};

    fn alive(pid: &str) -> bool {
        // A zombie has exited; only its entry is left.
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.starts_with(" Z"))
        })
    }

    #[test]
    fn killing_a_child_ends_what_it_started_and_unregisters_it() {
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 30 & echo $!; wait"])
            .stdout(Stdio::piped());
        let mut child = spawn(&mut command).unwrap();
        let leader = libc::pid_t::try_from(child.id()).unwrap();
        assert!(groups().contains(&-leader));
        let mut line = String::new();
        let stdout = child.take_stdout().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        let grandchild = line.trim().to_owned();
        assert!(alive(&grandchild), "{grandchild}");

        let status = child.kill().unwrap();
        assert!(!status.success());
        assert!(!groups().contains(&-leader));
        // The grandchild was reparented when its parent died; its new parent reaps it.
        let gone = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            !alive(&grandchild)
        });
        assert!(gone, "{grandchild} outlived its group");
    }

    #[test]
    fn output_collects_both_streams_and_the_status() {
        // More than a pipe holds on stderr, written before stdout.
        let script = "head -c 200000 /dev/zero >&2; echo out; exit 3";
        let output = output(Command::new("sh").args(["-c", script])).unwrap();
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr.len(), 200_000);
    }

    #[test]
    fn a_child_that_exits_leaves_the_list() {
        let mut child = spawn(Command::new("true").stdout(Stdio::null())).unwrap();
        let leader = libc::pid_t::try_from(child.id()).unwrap();
        assert!(child.wait().unwrap().success());
        assert!(!groups().contains(&-leader));
        // Waiting again, killing and dropping a reaped child are harmless.
        assert!(child.wait().unwrap().success());
        assert!(child.kill().unwrap().success());
    }
}
