//! The text of `probe --help` and `probe <subcommand> --help`.

use crate::cli::Subcommand;

const OVERVIEW: &str = "\
probe: Novillo's host tool. Boots unikernel images under QEMU and runs the project's checks.

Usage: probe <SUBCOMMAND> [OPTIONS]
       cargo probe <SUBCOMMAND> [OPTIONS]      (the workspace alias)

Subcommands, each with an example:
  run [OPTIONS] ELF [GUEST_ARGS...]   boot one image and exit with the guest's status
                                      (cargo's runner: `cargo run -p apps --bin hello
                                      --features bsp-microvm -- a b` ends up here)
      cargo probe run --smp 4 target/x86_64-unknown-none/debug/hello
  gdb [OPTIONS] ELF [GUEST_ARGS...]   boot one image halted and debug it in gdb
      cargo probe gdb target/x86_64-unknown-none/debug/hello
  test [OPTIONS]                      host tests, then guest tests on each board
      cargo probe test --only threads
  image ELF -o FILE [--cmdline TEXT] [--share DIR | --disk FILE]
                                      a raw disk image of a PC build that a PC BIOS boots
                                      by itself (any BIOS hypervisor), with its files
      cargo probe image target/x86_64-unknown-none/release/hello -o hello.img
  size                                stripped release sizes of `hello` and `webserver`
      cargo probe size
  lint                                rustfmt and clippy over every crate and board
      cargo probe lint
  bench [--quick]                     every benchmark, then the report in target/bench/
                                      (report.json, report.md, one SVG chart per table)
      cargo probe bench --quick
  bench boot|threads|idle|disk|http|net [OPTIONS]
                                      one benchmark: boot time, size and memory of hello;
                                      thread costs; host CPU of an idle guest; virtio disk
                                      throughput; static files over HTTP; TCP throughput,
                                      request rate and latency; optionally beside a Linux
                                      guest
      cargo probe bench boot --baseline linux
  disk new|ls|get [OPTIONS] FILE ...  make a FAT disk image (empty or from a folder), list
                                      a directory of one, copy a file out of one
      cargo probe disk new --size 64M --share site/ site.img
  load echo|webserver [OPTIONS]       thousands of TCP connections at once against the
                                      echo example or the web server (root: a private
                                      network namespace), with the guest's heap and CPU
      cargo probe load echo --conns 10000
  help [SUBCOMMAND]                   this text, or a subcommand's
      cargo probe help bench

Host tests alone: `cargo test --target host-tuple -p kernel` (a plain `cargo test` builds
for bare metal, where there is no std), or `cargo probe test --host-only`.

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
  127    QEMU (or, for `gdb`, gdb) is not installed
  128+N  stopped by signal N: SIGHUP 129, SIGINT (Ctrl-C) 130, SIGQUIT 131, SIGTERM 143

Every QEMU and cargo probe starts runs in a process group of its own and ends with probe:
an ending signal kills the groups before probe exits, and if probe is killed outright
(SIGKILL) or aborts (a panic), the kernel kills its children (PR_SET_PDEATHSIG).

Environment:
  NOVILLO_PROBE  extra options for `run`, whitespace-separated, read before the command
                 line's, e.g. NOVILLO_PROBE=\"--smp 4 --timing\" cargo run -p apps --bin hello
                 --features bsp-microvm
  NOVILLO_GDB    the gdb that `gdb` runs [default: gdb]
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
  --gdb                 start the guest halted, with QEMU's gdb server on a free local
                        port, and print the command that attaches gdb to it
                        (`gdb ELF -ex 'target remote :PORT'`); no timeout unless
                        --timeout is given. `probe gdb` also starts that gdb
  --disk FILE[,bus=virtio|ide]
                        attach the raw image FILE as a disk (repeatable: disk 0, 1...
                        in order); the guest's writes go to the file. virtio is the
                        default: virtio-blk-device on microvm (at most 8), virtio-blk-pci
                        on qemu-pc; ide (qemu-pc only, at most 4) is an IDE hard disk.
                        FILE must exist and be readable and writable (make one with
                        `truncate -s 64M FILE`)
  --boot kernel|disk[,bus=ide|virtio]
                        kernel: QEMU loads ELF itself (-kernel); disk (qemu-pc builds
                        only): probe writes a BIOS disk image of ELF with the guest
                        command line (as `probe image` does, into a temporary directory)
                        and SeaBIOS boots it from the first IDE disk, or from a
                        virtio-blk-pci disk with bus=virtio [default: kernel]
  --share DIR[,keep=FILE][,size=SIZE][,bus=virtio|ide]
                        give the guest a FAT disk holding a copy of the folder DIR
                        (files and directories, with their modification times), made
                        as `probe disk new --share` makes it: SIZE defaults to 64M, or
                        twice what DIR takes if that is more; a DIR that does not fit
                        SIZE, or a name FAT cannot hold, is refused. The guest's
                        writes go to the copy, never to DIR: the copy is removed when
                        the guest exits, unless keep=FILE (a file that must not exist
                        yet) keeps it there; probe says which on stderr. Repeatable;
                        the shares come after the --disk disks, in order
  --net user|tap|tap=NAME
                        give the guest a NIC: user = QEMU user networking (guest
                        10.0.2.15, gateway 10.0.2.2, no privileges; the network
                        when only --forward or --nic is given); tap=NAME = the
                        existing tap NAME; tap = a private network namespace for the
                        run (root only; otherwise use --net user) holding a tap at
                        10.0.2.2/24, the guest given ip=10.0.2.15/24 gw=10.0.2.2
                        dns=10.0.2.2; probe prints the nsenter line that reaches it,
                        and the namespace goes with QEMU [default: no NIC]
  --nic virtio|e1000    the NIC: virtio-net (virtio-net-device on microvm,
                        virtio-net-pci on qemu-pc) or the e1000 (qemu-pc only)
                        [default: virtio]
  --forward tcp:PORT,udp:PORT
                        forward these guest ports (repeatable); each gets a free port
                        on 127.0.0.1, printed as `guest tcp:7 → 127.0.0.1:43121`; alone
                        it means --net user
  -h, --help            this text

Options may also come from NOVILLO_PROBE (read first, so the command line wins; its disks
come first).

Exit codes: the guest's status (0-111), 124 timeout, 125 QEMU failed or the guest stopped
without a status or the image could not be booted, 127 QEMU missing, 2 bad command line
(or a guest command line the board would cut, or a --disk that is missing, unusable or one
too many for the board, or a network the board cannot have), 128+N stopped by signal N.
";

const GDB: &str = "\
Usage: probe gdb [OPTIONS] ELF [GUEST_ARGS...]

Boots ELF as `probe run --gdb` does (halted, QEMU's gdb server on a free local port) and
runs gdb on it in the foreground, attached: `gdb -q ELF -ex 'target remote :PORT'`. The
guest console streams to stdout meanwhile. Ctrl-C reaches gdb (it interrupts the guest),
not probe. When gdb exits, probe kills QEMU and exits with gdb's status.

Takes the options of `probe run` (see probe run --help); there is no timeout unless
--timeout is given. The gdb is NOVILLO_GDB's, else `gdb` from PATH.

In gdb: `break hello::main` (an application's `main` is `<crate>::main`: the binary's or
example's name; `__novillo_main` is the kernel's call to it in any image), `continue`,
`bt`, `next`, `step`. Under TCG a breakpoint (`break`) is kept by QEMU itself and works
from the first instruction, as does `hbreak`. Under KVM `break` writes an int3 into guest
memory, so it holds only where the code already is when it is set (true of the images
probe boots with -kernel, not of code a loader copies in later); `hbreak` uses the CPU's
debug registers (4 at a time) and has no such limit. The boards enter in 32-bit mode: gdb
shows that code as 64-bit (QEMU reports an x86-64 CPU), so read the entry's source rather
than its disassembly. A release image has line tables only (`debug =
\"line-tables-only\"`): `bt`, `next` and breakpoints by function work, but functions
inlined into others (an application's `main` is, into `__novillo_main`) go by their short
names there: `break main`; variables are mostly optimised out.

Exit codes: gdb's status, 2 bad command line, 125 the image could not be booted, 127 QEMU
or gdb missing.
";

const TEST: &str = "\
Usage: probe test [OPTIONS]

Runs the host tests (`cargo test --target host-tuple --workspace --exclude apps`: the
applications only build for bare metal), then builds `apps` for each board and boots every guest case: `hello`, the
examples `panic` and `fault` (ud2, pf, deep), `hello` and `panic` without QEMU's exit device
(no-exit-device*; the -acpi and -s5 cases end only by ACPI power-off), a PC image relabelled microvm (lying-board-note, PC only), the PC
build from its BIOS disk image (image-*: hello and the threads suite from IDE, virtio-blk
and q35's AHCI, hello with 6G and 8 cores, and two damaged images whose loader error is
checked while the guest halts, after which probe stops it), and each
integration test in apps/tests as `tests::<name>` (on 1 and 4 cores), except two: the disk suite:
its cases `disk` and `disk-smp4` attach two virtio disks (2 MiB and 512 KiB images
holding a pattern, made in a temporary directory and removed afterwards), and after the
run probe checks that the guest's writes reached the files and nothing else changed; and
the fs suite: its cases `fs` and `fs-smp4` (virtio) and, on qemu-pc, `fs-ide` and
`fs-ide-smp4` attach one FAT image probe makes with `disk new --share` from a folder of
the host's files, and after the run probe checks the image with `fsck.fat -n`
(dosfstools) and reads back what the guest wrote with mtools (mcopy, mdir), byte for byte
and dated within the run; a missing tool fails the case with the package to install. The nic-* cases (nic-virtio on
both boards, nic-e1000 on qemu-pc; -smp4 too) boot the `nic` example with a NIC on user
networking and guest UDP port 7 forwarded; once it prints its ready line a host peer sends
datagrams through the forwarded port and checks each echo byte for byte. The net-* cases
(net-virtio on both boards, net-e1000 on qemu-pc; -smp4 too) boot the `net` suite with TCP
ports 7 and 8 and UDP port 7 forwarded: its host peer checks TCP echo (1 MiB, and 40
connections of 64 KiB at once) and UDP echo byte for byte, then has the guest connect out to a server
on the host. The web-* cases (web-virtio-smp2 on both boards, web-e1000 on qemu-pc) boot
the `webserver` with root=/site of a 32 MiB FAT image holding the sample site, a 16 MiB
file and a file planted outside /site, read through QEMU's blkdebug so that one file's
sector fails; with TCP port 80 forwarded, probe's HTTP client checks every status, the
headers, bodies byte for byte, pipelining, ranges, traversal attempts and the 500, then
the access log (one line per request at log=info, none at log=warn), and stops the server.
The net-dns case (both boards) boots the `dns` suite on a tap in a private
network namespace (root only; without root it is listed as skipped, with why): its host
peer runs a name server on 10.0.2.2:53 there, and the guest resolves a name it knows and
gets NotFound for one it answers NXDOMAIN. Prints `test guest::<board>::<case> ... ok|FAILED` (with the expectation
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

const IMAGE: &str = "\
Usage: probe image ELF -o FILE [--cmdline TEXT] [--share DIR | --disk FILE]

Writes FILE, a raw disk image that a PC BIOS boots by itself, of ELF, an image built with
--features bsp-qemu-pc. Sector 0 is an MBR with probe's own boot loader and a partition
table; the loader (about 1 KiB of 16-bit code, assembled into probe) reads the kernel with
the BIOS's int 13h extended reads, takes the E820 memory map and enters the kernel through
Multiboot, as QEMU's -kernel does. Partition 1 (type 0xda, active) holds the loader, the
command line and the kernel; with --share or --disk, partition 2 (from the next whole
MiB) is a FAT volume with the application's files, the volume the guest mounts first; the
image is padded to whole MiB. `probe disk ls FILE` lists that volume. Boot it with, for example,
`qemu-system-x86_64 -drive file=FILE,format=raw` (or attach it to any BIOS virtual machine
as its first disk; convert it for VirtualBox, VMware or Hyper-V with their own tools), or
with `probe run --boot disk ELF`. The loader prints `novillo loader: ...` on the screen and
COM1 and halts when it cannot boot (no int 13h extensions, a read error, a kernel that does
not fit in RAM, a damaged image).

Options:
  -o, --output FILE  the image to write (required)
  --cmdline TEXT     the guest command line, as `probe run` builds it from its guest
                     arguments (e.g. `log=debug -- a b`); at most 4095 bytes with the ELF's
                     file name [default: empty]
  --share DIR        partition 2: a new FAT volume holding a copy of the folder DIR (files,
                     directories, modification times), twice its size and at least 8 MiB
  --disk FILE        partition 2: the FAT volume of the image FILE (a whole-disk volume, or
                     the first FAT partition of an MBR image, as `probe disk new` makes),
                     copied; FILE is not changed
  -h, --help         this text

Exit codes: 0 written, 1 not a PC image or the file could not be read or written, 2 bad
command line.
";

const SIZE: &str = "\
Usage: probe size

Builds `hello` and `webserver` in release, stripped, for each board (into target/size) and
prints their sizes in bytes and KiB. Exit codes: 0 ok, 1 a build failed, 2 bad command line.
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
Usage: probe bench [--quick]
       probe bench boot [OPTIONS]
       probe bench threads [OPTIONS]
       probe bench idle [OPTIONS]
       probe bench disk [OPTIONS]
       probe bench http [OPTIONS]
       probe bench net [OPTIONS]

Benchmarks are commands, never tests: they report numbers and pass or fail on nothing but
whether they could measure. The numbers depend on the machine and its load (TCG most of
all), so compare them only with numbers from the same command on the same machine; that
is why `--baseline linux` boots the Linux guest in the same command, right after Novillo's.
Images are built in release (`cargo build --package apps --features bsp-<board> --examples
--release`).

Every bench command prints its tables and writes them to target/bench/: report.json (each
table's title, command, columns with units, cells with their text and number, ratio and
notes), report.md (the tables as Markdown) and an SVG bar chart per table; each command
writes the report anew. Progress (which benchmark, which step, which run) goes to stderr.

bench alone: boot, threads, idle and disk in turn, each with the Linux guest (boot: both
boards at 1 and 4 CPUs, 10 boots; threads: microvm, 2 CPUs, with the thread-count curve;
idle: both boards at 1 and 4 CPUs; disk: both boards at 1 and 2 CPUs). A benchmark that
fails is reported and the others still run; the exit code is 1 if any failed.
  --quick   a short version for CI: no Linux guest, boot with 5 boots, threads without the
            curve, idle on microvm at 1 CPU over 2 s, disk on microvm at 1 CPU without
            the file workloads

bench boot: for each board and CPU count, builds the stripped release `hello` (as `size`)
and boots it --runs times: QEMU start to its first line and to QEMU's exit (timed by
probe) and the first instruction to main (the guest's own `boot:` line), as median
(min-max); its size; and the smallest --mem that boots (a binary search between 1M and
128M to 8 KiB, QEMU's granularity: the README's minimum-memory table). It fails (exit 1)
if hello does not boot at 128M.
  --board microvm|qemu-pc|all  boards [default: all]
  --smp-list N,N...            CPU counts, each 1-64 [default: 1,4]
  --runs N                     boots per guest and machine, 1-1000 [default: 10]
  --accel tcg|kvm|auto         accelerator [default: auto]
  --baseline linux             then the same for a Linux guest on the same machine, CPUs,
                               CPU model and memory, whose /init prints `Hello from
                               Linux!` and powers off: its size is the kernel it boots plus
                               its initramfs, its memory search goes to 1 MiB, and a boot
                               that takes over 3 times its slowest full boot (at least
                               10 s) counts as one that does not boot
  --linux-kernel FILE          the Linux guest's kernel, a bzImage [default: the newest
                               /boot/vmlinuz-*]

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
  --conns                      also, on each board at smp 4 in a private network namespace
                               (root only; otherwise the rows say so), boot `echo` and
                               measure it idle, then with 100 open idle connections (each
                               echoed once), and the web server idle, then with 1000 open
                               keep-alive connections (each answered once; idle_timeout=600
                               keeps them): a second table with both and +pp (the goal: at
                               most +0.5); on by default in `bench` without --quick

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
metric: novillo, linux, ratio = novillo / linux. Then, per board at the first CPU count,
the file workloads (file-*): a fresh 128 MiB FAT image made as `probe disk new` makes it,
attached with cache=none on virtio-blk on microvm and on IDE on qemu-pc, and the example
`bench_files` (kernel::fs): file-seq-write-64m (a 64 MiB file in 64 KiB writes, synced,
MiB/s), file-seq-read-64m (read back in 64 KiB reads, MiB/s), file-create-4k (1,000 files
of 4 KiB created, written and closed, then the volume synced, files/s); the Linux guest
mounts a fresh copy of the image as vfat and runs probe/linux/files.c, which does the
same (fsync, page cache dropped before the read, sync() after the small files). It fails
(exit 1) if a guest does not exit 0 or prints a malformed DISK line; a missing Linux
prerequisite only empties its column.
  --board microvm|qemu-pc|all  boards [default: all]
  --smp-list N,N...            CPU counts, each 1-64 [default: 1,2]
  --accel tcg|kvm|auto         accelerator [default: auto]
  --ata pio|dma                the same image on qemu-pc's IDE disk instead, the guest
                               booted with ata=pio or ata=dma (its ATA transfer); qemu-pc
                               only, without the Linux guest and the file workloads
  --files-only                 only the file workloads (at the first CPU count), with the
                               Linux guest; not the raw-device ones

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

bench net: TCP through QEMU's user network (hostfwd on 127.0.0.1, a virtio NIC) against
apps/examples/bench_net.rs: throughput of one stream each way (MiB/s), the rate of 64-byte
requests answered with 64 bytes (a new connection each, and kept alive, over several
connections at once), and the round trip of one such request on one connection (median,
99th percentile), with QEMU's host CPU per 1,000 requests. With --baseline linux, a Linux
guest booted right after each Novillo guest runs probe/linux/net.c, the same servers, and
each row gains Linux's figure and the ratio (above 1 Novillo is better).
  --board microvm|qemu-pc|all  boards [default: all]
  --smp-list N,N...            CPU counts, each 1-64 [default: 1,2]
  --seconds N                  length of each load, 1-600 [default: 5]
  --baseline linux             also measure the Linux guest
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

const DISK: &str = "\
Usage: probe disk new --size SIZE [--share DIR] [--mbr] [--fat 12|16|32] [--force] FILE
       probe disk ls FILE [PATH]
       probe disk get FILE PATH [-o OUT]

FAT disk images, made and read by probe itself (the FAT crate the guest uses), without
mkfs.fat or mtools. FAT stores no time zone: probe writes and shows times as UTC, as the
guest does, in FAT's range (1980 to 2107; times outside it are clamped to its ends) and
with even seconds.

disk new: makes FILE, a raw image of SIZE (digits with K, M, G or T, none = M, as --mem
takes it: 64M, 1G; at least 64K, at most 2T) holding one empty FAT volume: FAT12 below
about 4 MiB, FAT16 below 512 MiB, FAT32 from there, with long names. Attach it with
`probe run --disk FILE`.
  --share DIR        copy the folder DIR in: every file and directory under it, with its
                     modification time. Refused, before FILE is made: names FAT cannot hold
                     (longer than 255 bytes, holding one of \"*/:<>?\\| or a control
                     character, ending in a dot or a space, not UTF-8), two names that differ
                     only in case, links to directories, anything that is neither a file
                     nor a directory; and a folder that does not fit SIZE (FILE is removed)
  --mbr              an MBR with one FAT partition from 1 MiB to the end (as a PC
                     installer partitions a disk), instead of the volume filling the whole
                     image (as mkfs.fat makes it, and as mtools and fsck.fat read it)
  --fat 12|16|32     this FAT type rather than the one the size picks (FAT32 needs at least
                     about 33 MiB, FAT16 about 4 MiB; FAT12 holds at most about 4 MiB)
  --force            replace FILE if it exists [default: refuse]

disk ls: lists the directory PATH of the image (default /; `/`-separated, case does not
matter), one entry a line: size in bytes (<dir> for a directory), modification time, name
(a directory's with / after it), sorted by name; a file's PATH lists that file alone.

disk get: copies the file PATH out of the image to stdout, or to OUT with -o (replacing
OUT, with the file's modification time).

ls and get read a whole-disk volume or the first FAT partition of an MBR, whichever
FILE holds.

Exit codes: 0 done, 1 failed (FILE is not a FAT image, PATH is missing, the folder does not
fit...: one line on stderr says what), 2 bad command line.
";

/// The help text for a subcommand, or for probe as a whole.
const LOAD: &str = "\
Usage: probe load echo|webserver [OPTIONS] [-- GUEST_ARGS...]

Boots the release `echo` example (TCP port 7) or the web server (port 80, serving
apps/site/ from a FAT disk) on a tap in a private network namespace (root only: QEMU's
user networking opens a host socket per guest connection and caps them itself), with
`stats=1` so the guest prints its heap each second, and loads it from inside the
namespace. echo: --conns connections are opened and held, then each echoes a message of
its own byte for byte while all are open. webserver: --conns keep-alive clients asking for
/ each second and --slow slowloris clients sending a header line each second, for
--seconds, while a fresh client asks for / each second. Prints QEMU's host CPU % and the
guest's heap idle before, under the load (echo: all connections open and idle) and idle
after they closed (after 35 s, the guest's close timeout), the heap's peak, and the host's
load average. probe's open-file limit (which QEMU inherits) is raised to fit. Not a test:
it fails only when the guest dies or the load cannot start.

Options:
  --conns N             connections (echo) or keep-alive clients (webserver), 1-28000
                        [default: 10000]
  --slow N              slowloris clients, webserver only, 0-28000 [default: 0]
  --board microvm|qemu-pc  [default: microvm]
  --smp N               CPUs, 1-64 [default: 4]
  --nic virtio|e1000    [default: virtio]
  --mem SIZE            guest memory [default: 3G]
  --seconds N           each CPU window, and the webserver flood [default: 10]
  --accel tcg|kvm|auto  [default: auto]
  -- GUEST_ARGS...      more guest arguments, e.g. max_conns=20000 for the web server

Exit codes: 0 done, 1 the guest died or the load could not start, 2 bad command line.
";

pub(crate) fn text(topic: Option<Subcommand>) -> &'static str {
    match topic {
        None => OVERVIEW,
        Some(Subcommand::Run) => RUN,
        Some(Subcommand::Gdb) => GDB,
        Some(Subcommand::Test) => TEST,
        Some(Subcommand::Image) => IMAGE,
        Some(Subcommand::Size) => SIZE,
        Some(Subcommand::Lint) => LINT,
        Some(Subcommand::Bench) => BENCH,
        Some(Subcommand::Disk) => DISK,
        Some(Subcommand::Load) => LOAD,
    }
}

#[cfg(test)]
mod tests {
    use super::{OVERVIEW, text};
    use crate::cli::Subcommand;

    #[test]
    fn the_overview_shows_every_subcommand_with_an_example() {
        for sub in [
            Subcommand::Run,
            Subcommand::Gdb,
            Subcommand::Test,
            Subcommand::Image,
            Subcommand::Size,
            Subcommand::Lint,
            Subcommand::Bench,
            Subcommand::Disk,
            Subcommand::Load,
        ] {
            let name = sub.name();
            assert!(
                OVERVIEW.contains(&format!("\n  {name} ")),
                "{name} is not listed"
            );
            assert!(
                OVERVIEW.contains(&format!("\n      cargo probe {name}")),
                "{name} has no example"
            );
            assert!(!text(Some(sub)).is_empty());
        }
        assert!(OVERVIEW.contains("cargo probe help bench"));
    }
}
