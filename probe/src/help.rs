//! The text of `probe --help` and `probe <subcommand> --help`.

use crate::cli::Subcommand;

const OVERVIEW: &str = "\
probe: Novillo's host tool. Boots unikernel images under QEMU and runs the project's checks.

Usage: probe <SUBCOMMAND> [OPTIONS]
       cargo probe <SUBCOMMAND> [OPTIONS]      (the workspace alias)

Subcommands:
  run [OPTIONS] ELF [GUEST_ARGS...]   boot one image and exit with the guest's status
                                      (cargo's runner: `cargo run -p apps --bin hello
                                      --features bsp-microvm -- a b` ends up here)
  test [OPTIONS]                      host tests, then guest tests on each board
  size                                stripped release size of `hello` on each board
  lint                                rustfmt and clippy over every crate and board
  bench threads|idle|disk|http [OPTIONS]
                                      benchmarks: thread costs in the guest, host CPU of an
                                      idle guest, virtio disk throughput, static files over
                                      HTTP; optionally beside a Linux guest
  help [SUBCOMMAND]                   this text, or a subcommand's

Run `probe <SUBCOMMAND> --help` for its options.

Exit codes:
  0-111  from `run`: the guest's own status (0 success, 1 failure, 101 panic,
         102 CPU exception, 103 not enough memory); from `test`, `size`, `lint` and
         `bench`: 0 ok, 1 failed
  2      bad command line
  124    the guest timed out
  125    QEMU failed, the guest stopped without reporting a status (reset or triple
         fault), or the image could not be booted (not a Novillo ELF, KVM unusable,
         --mem too small to hold any of the image)
  127    QEMU is not installed
  128+N  stopped by signal N: SIGHUP 129, SIGINT (Ctrl-C) 130, SIGQUIT 131, SIGTERM 143

Every QEMU and cargo probe starts runs in a process group of its own and ends with probe:
an ending signal kills the groups before probe exits, and if probe is killed outright
(SIGKILL) or aborts (a panic), the kernel kills its children (PR_SET_PDEATHSIG).

Environment:
  NOVILLO_PROBE  extra options for `run`, whitespace-separated, read before the command
                 line's, e.g. NOVILLO_PROBE=\"--smp 4 --timing\" cargo run -p apps --bin hello
                 --features bsp-microvm
  CARGO          the cargo that `test`, `size` and `lint` run (set by cargo itself)
";

const RUN: &str = "\
Usage: probe run [OPTIONS] ELF [GUEST_ARGS...]

Boots ELF under QEMU on the board named by its Novillo board note, copies the guest
console to stdout as it arrives, and exits with the status the guest reports: through
QEMU's isa-debug-exit, or, when QEMU exits 0 (the guest powered off or reset), from a
last console line `novillo: exit status N` (any other last line means no status).
Options come before ELF; every word after ELF goes to the guest (`--` before ELF ends the
options early). The guest command line is `time=S` (the host's Unix time in seconds, the
guest's wall clock), `tsc_khz=N` (the host TSC rate, measured by probe), then the guest
arguments; an argument with whitespace, a quote or a
backslash is double-quoted with `\"` and `\\` escaped. The boards keep 4096 bytes of it,
and QEMU adds to it (microvm: its virtio-mmio devices after it; qemu-pc: the image path
and a space before it), so a line longer than 3800 bytes on microvm, or than 4095 less
the image path on qemu-pc, is refused (exit 2) rather than cut.

Options:
  --accel tcg|kvm|auto  accelerator; auto picks KVM only when /dev/kvm opens read-write
                        and the CPU has vmx or svm [default: auto]
  --smp N               number of CPUs, 1-64 (the most the guest runs on) [default: 1]
  --mem SIZE            guest memory: digits with K, M, G or T (none = M), at least 4M
                        [default: 128M]
  --timeout SECS        kill QEMU after SECS seconds and exit 124; 0 = never; at most
                        604800 (a week) [default: 60]
  --timing              print the time to the first console byte and to exit (stderr)
  --no-tsc-hint         do not pass tsc_khz=N; the guest calibrates its TSC itself
  --qemu PATH           the QEMU to run [default: qemu-system-x86_64]
  --disk FILE[,bus=virtio|ide]
                        attach the raw image FILE as a disk (repeatable: disk 0, 1...
                        in order); the guest's writes go to the file. virtio is the
                        default: virtio-blk-device on microvm (at most 8), virtio-blk-pci
                        on qemu-pc; ide (qemu-pc only, at most 4) is an IDE hard disk.
                        FILE must exist and be readable and writable (make one with
                        `truncate -s 64M FILE`)
  -h, --help            this text

Options may also come from NOVILLO_PROBE (read first, so the command line wins; its disks
come first).

Exit codes: the guest's status (0-111), 124 timeout, 125 QEMU failed or the guest stopped
without a status or the image could not be booted, 127 QEMU missing, 2 bad command line
(or a guest command line the board would cut, or a --disk that is missing, unusable or one
too many for the board), 128+N stopped by signal N.
";

const TEST: &str = "\
Usage: probe test [OPTIONS]

Runs the host tests (`cargo test --target host-tuple --workspace --exclude apps`: the
applications only build for bare metal), then builds `apps` for each board and boots every guest case: `hello`, the
examples `panic` and `fault` (ud2, pf), `hello` and `panic` without QEMU's exit device
(no-exit-device*; the -acpi and -s5 cases end only by ACPI power-off), a PC image relabelled microvm (lying-board-note, PC only), and each
integration test in apps/tests as `tests::<name>` (on 1 and 4 cores), except the disk suite:
its cases `disk` and `disk-smp4` attach two virtio disks (2 MiB and 512 KiB images
holding a pattern, made in a temporary directory and removed afterwards), and after the
run probe checks that the guest's writes reached the files and nothing else changed. The
disk cases run only with --only until the boards find disks. Prints `test guest::<board>::<case> ... ok|FAILED` (with the expectation
that failed and the console output), then `test result: ...` and, on the last line,
`N passed, M failed`.

Options:
  --board microvm|qemu-pc|all  boards to run guest cases on [default: all]
  --host-only                  only the host tests
  --guest-only                 only the guest cases
  --only NAME                  only guest cases whose name contains NAME; this also reaches
                               cases not run by default (failing-on-purpose,
                               corrupt-image-on-purpose, disk)
  --smp N                      CPUs per guest, 1-64 [default: 1]
  --accel tcg|kvm|auto         accelerator [default: auto]
  --timeout SECS               per guest case; 0 = never, at most 604800 [default: 60]
  -h, --help                   this text

Exit codes: 0 when everything passed, 1 otherwise, 2 bad command line.
";

const SIZE: &str = "\
Usage: probe size

Builds `hello` in release, stripped, for each board (into target/size) and prints its size
in bytes and KiB. Exit codes: 0 ok, 1 a build failed, 2 bad command line.
";

const LINT: &str = "\
Usage: probe lint

Runs, stopping at the first failure:
  cargo fmt --all --check
  cargo clippy (host target) on every host-buildable crate, all targets, -D warnings
  cargo clippy (bare-metal target) on hal, drivers, kernel and the boards, -D warnings
  cargo clippy on apps with each board's feature, bins, tests and examples, -D warnings
Exit codes: 0 clean, 1 a check failed, 2 bad command line.
";

const BENCH: &str = "\
Usage: probe bench threads [OPTIONS]
       probe bench idle [OPTIONS]
       probe bench disk [OPTIONS]
       probe bench http [OPTIONS]

Benchmarks are commands, never tests: they report numbers and pass or fail on nothing but
whether they could measure. The numbers depend on the machine and its load (TCG most of
all), so compare them only with numbers from the same command on the same machine; that
is why `--baseline linux` boots the Linux guest in the same command, right after Novillo's.
Images are built in release (`cargo build --package apps --features bsp-<board> --examples
--release`).

bench threads: boots the example `bench_threads`, which repeats each benchmark in the guest
(typically 7 runs) and prints `BENCH <name> <ns_per_op>` per run, then `BENCH-DONE`.
Prints, per benchmark in the guest's order, the median, min and max ns per operation and
the number of runs. Then the thread-count curve: boots `bench_thread_count` with 1 and
with 4 CPUs and 2G of memory, which spawns 10,000, 20,000, 40,000 and 100,000 threads at
once (8 KiB stacks, on the cores in turn) and joins them, then as many sleepers, and prints
the time for each count and per thread. It fails (exit 1) if a guest does not exit 0,
does not print BENCH-DONE, or prints a malformed BENCH line.
  --board microvm|qemu-pc  board [default: microvm]
  --smp N                  CPUs, 1-64 [default: 2; the cross-core cases need two]
  --accel tcg|kvm|auto     accelerator [default: auto]
  --timeout SECS           for the guest; 0 = never, at most 604800 [default: 300]
  --baseline linux         then boot a Linux guest with the same machine, CPUs,
                           accelerator, CPU model and memory, running probe/linux/threads.c
                           (compiled with gcc -static), and add its medians and ratio =
                           linux / novillo (5.0x: Novillo is 5 times cheaper). Pairs: switch =
                           ctxsw_yield_same_core, spawn_join_same/other =
                           spawn_join_same/other_core, round_trip = roundtrip_condvar_cross,
                           mutex_uncontended = mutex_uncontended, mutex_contended =
                           mutex_contended_4t; the other Linux medians are listed below the
                           table. The Linux guest gets the same --timeout.
  --linux-kernel FILE      the Linux guest's kernel, a bzImage [default: the newest
                           /boot/vmlinuz-*]

bench idle: for each board and CPU count, boots the example `idle`, waits for `IDLE-READY`
(30 s at most) and one more second, then reads QEMU's CPU time (the sum of its threads'
/proc/<pid>/task/*/schedstat, else utime+stime of /proc/<pid>/stat) at the start and end
of the window and prints host CPU % = CPU time / wall time * 100 (100 % = one host core).
QEMU is killed after the window.
  --board microvm|qemu-pc|all  boards [default: microvm]
  --smp-list N,N...            CPU counts, each 1-64 [default: 1,4]
  --seconds N                  the window, 1-3600 s [default: 10]
  --accel tcg|kvm|auto         accelerator [default: auto]
  --baseline linux             after each Novillo guest, boot a Linux guest on the same
                               machine (busybox httpd listening on a forwarded port, no
                               traffic), wait for LINUX-IDLE-READY and one page served, and
                               measure it the same way over a window as long
  --linux-kernel FILE          the Linux guest's kernel, a bzImage [default: the newest
                               /boot/vmlinuz-*]
  --slow-disk                  also boot each guest with `idle disk` and a 1 MiB virtio disk
                               (QEMU's null-co) that answers after 24 h: one thread stays
                               parked on a read of it, the other cores idle; adds its CPU %
                               and +pp, the difference from the plain guest in percentage
                               points (the goal: at most +0.5)

bench disk: for each board and CPU count, writes a 64 MiB image of probe's pattern (real
data, not sparse), attaches it as the board's virtio-blk with cache=none (the host's page
cache neither serves reads nor absorbs writes) and boots the example `bench_disk`, which
prints `DISK <metric> <value> <unit>` lines and `DISK-DONE`: seq-read-64k and
seq-write-64k MiB/s (64 KiB requests over the image; the writes end with a flush, timed),
rand-read-4k-qd1 IOPS and median us (2000 4 KiB reads at random places, one at a time),
rand-read-4k-1-per-core IOPS (2000 such reads by a thread on each core at once). Right
after each, the Linux guest boots on the same machine with the same drive arguments and
runs probe/linux/disk.c (gcc -static; O_DIRECT on /dev/vda, the same sizes, counts and
random places), which prints the same lines. Prints one row per board, CPU count and
metric: novillo, linux, ratio = novillo / linux. It fails (exit 1) if a guest does not
exit 0 or prints a malformed DISK line; a missing Linux prerequisite only empties its
column.
  --board microvm|qemu-pc|all  boards [default: all]
  --smp-list N,N...            CPU counts, each 1-64 [default: 1,2]
  --accel tcg|kvm|auto         accelerator [default: auto]

bench http: loads static files with wrk (Debian's wrk) through QEMU's user network
(hostfwd on 127.0.0.1): the 1 KiB and 64 KiB files of apps/site, 1, 16 and 256
connections, keep-alive on and off (`Connection: close` on every request). Prints one row
per board, CPU count, server, file, connections and mode: requests/s, MiB/s, median and
99th percentile latency, errors (socket errors and non-2xx/3xx answers) and QEMU's host
CPU seconds per 10,000 requests. With --baseline linux, one Linux guest per board and CPU
count serves the same files with busybox httpd and nginx (nginx-light, copied into the
initramfs with its libraries), each fetched once and compared before it is measured.
  --board microvm|qemu-pc|all  boards [default: all]
  --smp-list N,N...            CPU counts, each 1-64 [default: 1,2]
  --seconds N                  length of each load, 1-600 [default: 5]
  --baseline linux             also measure busybox httpd and nginx in a Linux guest
  --linux-kernel FILE          the baseline's bzImage [default: newest /boot/vmlinuz-*]
  --accel tcg|kvm|auto         accelerator [default: auto]

The Linux guest (--baseline linux) is built from Debian packages: the kernel
(linux-image-amd64) with its own virtio modules, busybox (busybox-static), and for threads gcc
and libc6-dev; microvm boots the vmlinux unpacked from the bzImage through PVH (xz-utils for
Debian's kernel), qemu-pc the bzImage through SeaBIOS. What is missing is named in one line
with the apt-get command, never installed, and the table comes without Linux numbers.

  -h, --help                   this text

Exit codes: 0 measured, 1 a build, boot, measurement or baseline run failed, 2 bad command
line, 127 QEMU missing.
";

/// The help text for a subcommand, or for probe as a whole.
pub(crate) fn text(topic: Option<Subcommand>) -> &'static str {
    match topic {
        None => OVERVIEW,
        Some(Subcommand::Run) => RUN,
        Some(Subcommand::Test) => TEST,
        Some(Subcommand::Size) => SIZE,
        Some(Subcommand::Lint) => LINT,
        Some(Subcommand::Bench) => BENCH,
    }
}
