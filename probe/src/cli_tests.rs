//! Tests of the command-line parser, good and bad.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    Bench, Command, DiskOptions, GuestOptions, IdleOptions, MAX_SMP, RunOptions, Subcommand,
    TestOptions, ThreadsOptions, parse,
};
use crate::accel::AccelChoice;
use crate::board::Board;
use crate::disk::{Bus, Disk};

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

fn run(line: &str, env: Option<&str>) -> RunOptions {
    match parse(&words(line), env) {
        Ok(Command::Run(options)) => options,
        other => panic!("{line}: {other:?}"),
    }
}

fn test(line: &str) -> TestOptions {
    match parse(&words(line), None) {
        Ok(Command::Test(options)) => options,
        other => panic!("{line}: {other:?}"),
    }
}

fn error(line: &str, env: Option<&str>) -> String {
    match parse(&words(line), env) {
        Err(err) => err.0,
        Ok(command) => panic!("{line}: parsed as {command:?}"),
    }
}

#[test]
fn run_defaults() {
    let options = run("run target/hello", None);
    assert_eq!(
        options,
        RunOptions {
            guest: GuestOptions {
                accel: AccelChoice::Auto,
                smp: 1,
                timeout: Some(Duration::from_secs(60)),
            },
            mem: "128M".to_owned(),
            timing: false,
            tsc_hint: true,
            qemu: "qemu-system-x86_64".to_owned(),
            disks: Vec::new(),
            elf: PathBuf::from("target/hello"),
            guest_args: Vec::new(),
        }
    );
}

#[test]
fn run_options_then_elf_then_guest_args() {
    let options = run(
        "run --accel tcg --smp=4 --mem 1G --timeout 0 --timing --no-tsc-hint --qemu /q hello \
         a --smp 9 --",
        None,
    );
    assert_eq!(options.guest.accel, AccelChoice::Tcg);
    assert_eq!(options.guest.smp, 4);
    assert_eq!(options.guest.timeout, None);
    assert_eq!(options.mem, "1G");
    assert!(options.timing);
    assert!(!options.tsc_hint);
    assert_eq!(options.qemu, "/q");
    assert_eq!(options.elf, PathBuf::from("hello"));
    assert_eq!(options.guest_args, words("a --smp 9 --"));
}

#[test]
fn disks_are_kept_in_order_environment_first() {
    let options = run(
        "run --disk a.img --disk=b.img,bus=ide hello --disk c.img",
        Some("--disk e.img,bus=virtio"),
    );
    let disk = |file: &str, bus| Disk {
        file: PathBuf::from(file),
        bus,
    };
    assert_eq!(
        options.disks,
        [
            disk("e.img", Bus::Virtio),
            disk("a.img", Bus::Virtio),
            disk("b.img", Bus::Ide),
        ]
    );
    // After the image, `--disk` is the guest's.
    assert_eq!(options.guest_args, words("--disk c.img"));
}

#[test]
fn bad_disks() {
    assert_eq!(
        error("run --disk a.img,bus=scsi hello", None),
        "--disk a.img,bus=scsi: bus must be virtio or ide, not 'scsi'"
    );
    assert_eq!(
        error("run --disk", None),
        "option --disk for 'run' needs a value (see probe run --help)"
    );
    assert!(error("run hello", Some("--disk ,bus=ide")).contains("--disk needs a file"));
    assert!(error("run --disk a.img,ro hello", None).contains("unknown option 'ro'"));
    assert_eq!(
        error("test --disk a.img", None),
        "unknown option --disk for 'test' (see probe test --help)"
    );
}

#[test]
fn double_dash_ends_run_options() {
    let options = run("run -- --odd-name x", None);
    assert_eq!(options.elf, PathBuf::from("--odd-name"));
    assert_eq!(options.guest_args, words("x"));
}

#[test]
fn environment_options_come_first() {
    let options = run("run --smp 2 hello", Some("  --smp 4\t--timing "));
    assert_eq!(options.guest.smp, 2);
    assert!(options.timing);
    assert_eq!(run("run hello", Some("")).guest.smp, 1);
}

#[test]
fn bad_environment_options() {
    assert_eq!(
        error("run hello", Some("--fast")),
        "unknown option --fast in NOVILLO_PROBE for 'run' (see probe run --help)"
    );
    assert!(error("run hello", Some("hello")).contains("only options"));
    assert!(error("run hello", Some("--smp")).contains("needs a value"));
}

#[test]
fn bad_run_options() {
    assert_eq!(
        error("run --foo hello", None),
        "unknown option --foo for 'run' (see probe run --help)"
    );
    assert_eq!(
        error("run --smp", None),
        "option --smp for 'run' needs a value (see probe run --help)"
    );
    assert!(error("run --smp 0 hello", None).contains("from 1 to 64 (the most cores"));
    assert!(error("run --smp two hello", None).contains("not 'two'"));
    assert!(error("run --accel hvf hello", None).contains("tcg, kvm or auto"));
    assert!(error("run --timeout -1 hello", None).contains("seconds"));
    assert!(error("run --mem lots hello", None).contains("128M"));
    assert!(error("run --mem 12MM hello", None).contains("128M"));
    assert!(error("run --timing=yes hello", None).contains("takes no value"));
    assert!(error("run --qemu= hello", None).contains("--qemu"));
    assert!(error("run", None).contains("needs the path of an ELF image"));
    assert!(error("run --timing", None).contains("needs the path of an ELF image"));
}

/// Limits the guest would otherwise meet silently: more cores than it runs on, QEMU's
/// default memory for 0, a timeout past what a clock can add.
#[test]
fn limits_are_said_not_met_silently() {
    assert_eq!(run("run --smp 64 hello", None).guest.smp, MAX_SMP);
    for smp in ["65", "80", "255", "256"] {
        let message = error(&format!("run --smp {smp} hello"), None);
        assert_eq!(
            message,
            format!(
                "--smp must be a whole number from 1 to 64 (the most cores the guest runs on), \
                 not '{smp}'"
            )
        );
    }
    assert!(error("test --smp 65", None).contains("from 1 to 64"));
    assert!(error("bench threads --smp 65", None).contains("from 1 to 64"));

    assert_eq!(run("run --mem 4M hello", None).mem, "4M");
    assert_eq!(run("run --mem 1g hello", None).mem, "1g");
    assert_eq!(run("run --mem 4096K hello", None).mem, "4096K");
    // Small sizes are the guest's to judge: it says how much it needs (status 103).
    assert_eq!(run("run --mem 1800K hello", None).mem, "1800K");
    assert_eq!(run("run --mem 128 hello", None).mem, "128");
    for nothing in ["0", "0M", "0G"] {
        let message = error(&format!("run --mem {nothing} hello"), None);
        assert!(
            message.contains("more than nothing"),
            "{nothing}: {message}"
        );
        assert!(message.ends_with(&format!("not '{nothing}'")), "{message}");
    }
    for bad in [
        "99999999999999999999",
        "16777216T",
        "M",
        "1.5G",
        "4MB",
        "-4M",
    ] {
        let message = error(&format!("run --mem={bad} hello"), None);
        assert!(message.contains("a size such as 128M"), "{bad}: {message}");
    }

    let week = Some(Duration::from_secs(604_800));
    assert_eq!(run("run --timeout 604800 hello", None).guest.timeout, week);
    for huge in ["604801", "18446744073709551615", "18446744073709551616"] {
        let message = error(&format!("run --timeout {huge} hello"), None);
        assert!(
            message.contains("from 0 (no timeout) to 604800"),
            "{huge}: {message}"
        );
    }
    assert!(error("test --timeout 18446744073709551615", None).contains("to 604800"));
}

/// probe's core limit is the guest's.
#[test]
fn the_core_limit_is_the_drivers_one() {
    let mptable = include_str!("../../drivers/src/platform/firmware/mptable.rs");
    assert!(mptable.contains(&format!("pub const MAX_CORES: usize = {MAX_SMP};")));
}

#[test]
fn test_defaults_and_options() {
    let options = test("test");
    assert_eq!(options.boards, Board::ALL.to_vec());
    assert!(options.host && options.guests);
    assert_eq!(options.only, None);

    let options = test("test --board qemu-pc --guest-only --only fault --smp 2 --timeout 5");
    assert_eq!(options.boards, vec![Board::QemuPc]);
    assert!(!options.host && options.guests);
    assert_eq!(options.only.as_deref(), Some("fault"));
    assert_eq!(options.guest.smp, 2);
    assert_eq!(options.guest.timeout, Some(Duration::from_secs(5)));

    let options = test("test --host-only --board=all --accel kvm");
    assert!(options.host && !options.guests);
    assert_eq!(options.boards.len(), 2);
    assert_eq!(options.guest.accel, AccelChoice::Kvm);
}

#[test]
fn bad_test_options() {
    assert_eq!(
        error("test --timing", None),
        "unknown option --timing for 'test' (see probe test --help)"
    );
    assert!(error("test --board rpi", None).contains("microvm, qemu-pc or all"));
    assert!(error("test --host-only --guest-only", None).contains("exclude each other"));
    assert!(error("test hello", None).contains("unexpected argument 'hello'"));
    assert!(error("test --only", None).contains("needs a value"));
}

#[test]
fn help_everywhere() {
    assert_eq!(parse(&words("--help"), None), Ok(Command::Help(None)));
    assert_eq!(parse(&words("help"), None), Ok(Command::Help(None)));
    assert_eq!(
        parse(&words("help lint"), None),
        Ok(Command::Help(Some(Subcommand::Lint)))
    );
    for sub in [
        "run",
        "test",
        "size",
        "lint",
        "bench",
        "bench threads",
        "bench idle",
    ] {
        let command = parse(&words(&format!("{sub} --help")), None).unwrap();
        assert!(matches!(command, Command::Help(Some(_))), "{sub}");
    }
    // After the ELF, --help belongs to the guest.
    assert_eq!(run("run hello --help", None).guest_args, words("--help"));
}

#[test]
fn bad_subcommands() {
    assert_eq!(error("", None), "no subcommand given (see probe --help)");
    assert_eq!(
        error("boot", None),
        "unknown subcommand 'boot' (see probe --help)"
    );
    assert!(error("--smp 2 run", None).contains("subcommand comes first"));
    assert!(error("help boot", None).contains("no help on 'boot'"));
    assert_eq!(
        error("size --release", None),
        "unknown option --release for 'size' (see probe size --help)"
    );
    assert!(error("lint now", None).contains("unexpected argument 'now'"));
    assert_eq!(parse(&words("size"), None), Ok(Command::Size));
    assert_eq!(parse(&words("lint"), None), Ok(Command::Lint));
}

fn threads(line: &str) -> ThreadsOptions {
    match parse(&words(line), None) {
        Ok(Command::Bench(Bench::Threads(options))) => options,
        other => panic!("{line}: {other:?}"),
    }
}

fn idle(line: &str) -> IdleOptions {
    match parse(&words(line), None) {
        Ok(Command::Bench(Bench::Idle(options))) => options,
        other => panic!("{line}: {other:?}"),
    }
}

fn disk(line: &str) -> DiskOptions {
    match parse(&words(line), None) {
        Ok(Command::Bench(Bench::Disk(options))) => options,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn bench_disk_defaults_and_options() {
    assert_eq!(
        disk("bench disk"),
        DiskOptions {
            accel: AccelChoice::Auto,
            boards: Board::ALL.to_vec(),
            smp_list: vec![1, 2],
        }
    );
    let options = disk("bench disk --board microvm --smp-list 4 --accel tcg");
    assert_eq!(options.boards, [Board::Microvm]);
    assert_eq!(options.smp_list, [4]);
    assert_eq!(options.accel, AccelChoice::Tcg);
    assert!(error("bench disk --seconds 3", None).contains("unknown option --seconds"));
    assert!(error("bench disk --smp-list 0", None).contains("--smp-list"));
}

#[test]
fn bench_threads_defaults_and_options() {
    assert_eq!(
        threads("bench threads"),
        ThreadsOptions {
            guest: GuestOptions {
                accel: AccelChoice::Auto,
                smp: 2,
                timeout: Some(Duration::from_secs(300)),
            },
            board: Board::Microvm,
            linux: false,
            linux_kernel: None,
        }
    );
    let options =
        threads("bench threads --board qemu-pc --smp=4 --accel tcg --baseline linux --timeout 0");
    assert_eq!(options.board, Board::QemuPc);
    assert_eq!(options.guest.smp, 4);
    assert_eq!(options.guest.accel, AccelChoice::Tcg);
    assert_eq!(options.guest.timeout, None);
    assert!(options.linux);
    assert_eq!(options.linux_kernel, None);
    let options = threads("bench threads --baseline linux --linux-kernel /k/bzImage");
    assert_eq!(options.linux_kernel, Some(PathBuf::from("/k/bzImage")));
}

#[test]
fn bench_idle_defaults_and_options() {
    assert_eq!(
        idle("bench idle"),
        IdleOptions {
            accel: AccelChoice::Auto,
            boards: vec![Board::Microvm],
            seconds: 10,
            smp_list: vec![1, 4],
            linux: false,
            linux_kernel: None,
            slow_disk: false,
        }
    );
    let options = idle(
        "bench idle --board all --seconds 3 --smp-list 2,1,8 --accel=kvm \
                        --baseline=linux --slow-disk",
    );
    assert!(options.slow_disk);
    assert_eq!(options.boards, Board::ALL.to_vec());
    assert_eq!(options.seconds, 3);
    assert_eq!(options.smp_list, [2, 1, 8]);
    assert_eq!(options.accel, AccelChoice::Kvm);
    assert!(options.linux);
    assert_eq!(idle("bench idle --smp-list 4").smp_list, [4]);
    let options = idle("bench idle --linux-kernel=/boot/vmlinuz-6.1 --baseline linux");
    assert_eq!(
        options.linux_kernel,
        Some(PathBuf::from("/boot/vmlinuz-6.1"))
    );
}

#[test]
fn bad_bench_options() {
    assert_eq!(
        error("bench", None),
        "'bench' needs a benchmark: threads, idle, disk or http (see probe bench --help)"
    );
    assert!(error("bench disks", None).contains("unknown benchmark 'disks'"));
    assert_eq!(
        error("bench threads --seconds 3", None),
        "unknown option --seconds for 'bench' (see probe bench --help)"
    );
    assert!(error("bench idle --smp 2", None).contains("unknown option --smp"));
    assert!(error("bench idle --timeout 2", None).contains("unknown option --timeout"));
    assert!(error("bench threads --board all", None).contains("microvm, qemu-pc, not 'all'"));
    assert!(error("bench idle --board rpi", None).contains("microvm, qemu-pc or all"));
    assert!(error("bench threads --baseline bsd", None).contains("linux, not 'bsd'"));
    assert!(error("bench threads --baseline", None).contains("needs a value"));
    assert!(error("bench threads now", None).contains("unexpected argument 'now'"));
    for list in ["", "1,", ",4", "1,,4", "0", "1,65", "one", "1;4"] {
        let message = error(&format!("bench idle --smp-list={list}"), None);
        assert!(
            message.contains("separated by commas"),
            "{list:?}: {message}"
        );
    }
    for seconds in ["0", "3601", "-1", "ten"] {
        let message = error(&format!("bench idle --seconds {seconds}"), None);
        assert!(message.contains("from 1 to 3600"), "{seconds}: {message}");
    }
    assert!(
        error("bench idle --slow-disk=yes", None)
            .contains("--slow-disk for 'bench' takes no value")
    );
    assert!(error("bench idle --accel hvf", None).contains("tcg, kvm or auto"));
    for bench in ["threads", "idle"] {
        let message = error(&format!("bench {bench} --linux-kernel /k/bzImage"), None);
        assert!(message.contains("is for --baseline linux"), "{message}");
        let message = error(
            &format!("bench {bench} --baseline linux --linux-kernel="),
            None,
        );
        assert!(message.contains("needs a file"), "{message}");
    }
}
