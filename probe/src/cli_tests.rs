//! Tests of the command-line parser, good and bad.

use std::path::PathBuf;
use std::time::Duration;

use fatfs::FatType;

use super::{
    Bench, BootOptions, Command, DiskOptions, Gdb, GuestOptions, IdleOptions, ImageOptions,
    MAX_SMP, NetOptions, RunOptions, Subcommand, TestOptions, ThreadsOptions, parse,
};
use crate::accel::AccelChoice;
use crate::board::Board;
use crate::disk::{Bus, Disk};
use crate::fat::command::{DiskCommand, NewOptions};
use crate::fat::{Format, Layout};
use crate::image::Files;
use crate::qemu::Boot;
use crate::share::Share;

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
            boot: Boot::Kernel,
            shares: Vec::new(),
            net: NetOptions::default(),
            elf: PathBuf::from("target/hello"),
            guest_args: Vec::new(),
            gdb: Gdb::Off,
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
        faults: None,
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
        "bench boot",
        "bench disk",
    ] {
        let command = parse(&words(&format!("{sub} --help")), None).unwrap();
        assert!(matches!(command, Command::Help(Some(_))), "{sub}");
    }
    // After the ELF, --help belongs to the guest.
    assert_eq!(run("run hello --help", None).guest_args, words("--help"));
}

#[test]
fn bad_subcommands() {
    assert_eq!(parse(&[], None), Ok(Command::Help(None)));
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
            linux: true,
            files: true,
            ata: None,
            raw: true,
        }
    );
    let options = disk("bench disk --ata pio --smp-list 1");
    assert_eq!(options.ata, Some("pio"));
    assert_eq!(options.boards, [Board::QemuPc]);
    assert!(!options.linux && !options.files);
    assert!(error("bench disk --ata udma", None).contains("--ata must be pio or dma"));
    assert!(error("bench disk --ata dma --board microvm", None).contains("--board qemu-pc"));
    let options = disk("bench disk --files-only");
    assert!(options.files && !options.raw);
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
            conns: false,
        }
    );
    let options = idle(
        "bench idle --board all --seconds 3 --smp-list 2,1,8 --accel=kvm \
                        --baseline=linux --slow-disk --conns",
    );
    assert!(options.slow_disk);
    assert!(options.conns);
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

#[test]
fn boot_disk_and_its_bus() {
    assert_eq!(
        run("run --boot disk hello", None).boot,
        Boot::Disk(Bus::Ide, None)
    );
    assert_eq!(
        run("run --boot=disk,bus=virtio hello", None).boot,
        Boot::Disk(Bus::Virtio, None)
    );
    assert_eq!(
        run("run --boot disk,bus=ide hello", None).boot,
        Boot::Disk(Bus::Ide, None)
    );
    assert_eq!(run("run --boot kernel hello", None).boot, Boot::Kernel);
    assert_eq!(
        error("run --boot floppy hello", None),
        "--boot must be kernel, disk, disk,bus=ide or disk,bus=virtio, not 'floppy'"
    );
    assert!(error("run --boot disk,bus=scsi hello", None).starts_with("--boot must be"));
}

#[test]
fn image_takes_one_elf_an_output_and_a_command_line() {
    let line = words("image hello -o app.img");
    assert_eq!(
        parse(&line, None),
        Ok(Command::Image(ImageOptions {
            elf: PathBuf::from("hello"),
            output: PathBuf::from("app.img"),
            cmdline: String::new(),
            files: None,
        }))
    );
    let mut line = words("image --output=x.img hello --cmdline");
    line.push("log=debug -- a b".to_owned());
    match parse(&line, None) {
        Ok(Command::Image(options)) => {
            assert_eq!(options.output, PathBuf::from("x.img"));
            assert_eq!(options.cmdline, "log=debug -- a b");
        }
        other => panic!("{other:?}"),
    }
    assert!(error("image hello", None).starts_with("'image' needs -o FILE"));
    assert!(error("image -o a.img", None).starts_with("'image' needs the path of an ELF"));
    assert!(error("image a b -o c", None).starts_with("'image' takes one ELF"));
    match parse(&words("image a -o c --share site"), None) {
        Ok(Command::Image(options)) => {
            assert_eq!(options.files, Some(Files::Share(PathBuf::from("site"))));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error("image a -o c --share d --disk e", None).starts_with("'image' takes one --share")
    );
    assert!(error("image a -o c --sh d", None).starts_with("unknown option --sh for 'image'"));
    assert_eq!(
        parse(&words("image --help"), None),
        Ok(Command::Help(Some(Subcommand::Image)))
    );
}
fn disk_command(line: &str) -> DiskCommand {
    match parse(&words(line), None) {
        Ok(Command::Disk(command)) => command,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn disk_new_takes_a_size_as_mem_does() {
    assert_eq!(
        disk_command("disk new --size 64M a.img"),
        DiskCommand::New(NewOptions {
            format: Format {
                bytes: 64 << 20,
                layout: Layout::WholeDisk,
                fat: None,
            },
            share: None,
            force: false,
            file: PathBuf::from("a.img"),
        })
    );
    let DiskCommand::New(options) =
        disk_command("disk new --mbr --fat=32 --size=1G --share dir --force b.img")
    else {
        panic!("not disk new");
    };
    assert_eq!(options.format.bytes, 1 << 30);
    assert_eq!(options.format.layout, Layout::Mbr);
    assert_eq!(options.format.fat, Some(FatType::Fat32));
    assert_eq!(options.share, Some(PathBuf::from("dir")));
    assert!(options.force);
    // Without a suffix, MiB, as --mem.
    let DiskCommand::New(options) = disk_command("disk new --size 3 c.img") else {
        panic!("not disk new");
    };
    assert_eq!(options.format.bytes, 3 << 20);
}

#[test]
fn disk_ls_and_get_take_paths() {
    assert_eq!(
        disk_command("disk ls a.img"),
        DiskCommand::Ls {
            file: PathBuf::from("a.img"),
            path: "/".to_owned()
        }
    );
    assert_eq!(
        disk_command("disk ls a.img /sub"),
        DiskCommand::Ls {
            file: PathBuf::from("a.img"),
            path: "/sub".to_owned()
        }
    );
    assert_eq!(
        disk_command("disk get a.img x/y.txt -o out"),
        DiskCommand::Get {
            file: PathBuf::from("a.img"),
            path: "x/y.txt".to_owned(),
            out: Some(PathBuf::from("out")),
        }
    );
    assert_eq!(
        parse(&words("disk --help"), None),
        Ok(Command::Help(Some(Subcommand::Disk)))
    );
    assert_eq!(
        parse(&words("help disk"), None),
        Ok(Command::Help(Some(Subcommand::Disk)))
    );
}

#[test]
fn bad_disk_commands_are_one_line() {
    assert_eq!(
        error("disk", None),
        "'disk' needs an action: new, ls or get (see probe disk --help)"
    );
    assert!(error("disk format a.img", None).starts_with("unknown disk action 'format'"));
    assert_eq!(
        error("disk new a.img", None),
        "'disk new' needs --size, such as --size 64M"
    );
    assert!(error("disk new --size 64Q a.img", None).contains("not '64Q'"));
    assert!(error("disk new --size 64M", None).contains("needs the image file"));
    assert!(error("disk new --size 64M a b", None).contains("takes 1 path, got 2 (a b)"));
    assert_eq!(
        error("disk new --fat 24 --size 1M a", None),
        "--fat must be 12, 16 or 32, not '24'"
    );
    assert_eq!(
        error("disk ls --mbr a.img", None),
        "unknown option --mbr for 'disk ls' (see probe disk --help)"
    );
    assert!(error("disk get a.img", None).contains("the path of a file in it"));
    assert!(error("disk ls a b c", None).contains("takes 2 paths, got 3"));
    assert!(error("disk new --mbr=yes --size 1M a", None).contains("takes no value"));
}

#[test]
fn shares_parse_with_their_options() {
    let options = run(
        "run --share www --share=/d,keep=k.img,size=1G,bus=ide hello",
        Some("--share env"),
    );
    let share = |dir: &str| Share {
        dir: PathBuf::from(dir),
        keep: None,
        bytes: None,
        bus: Bus::Virtio,
    };
    assert_eq!(
        options.shares,
        [
            share("env"),
            share("www"),
            Share {
                keep: Some(PathBuf::from("k.img")),
                bytes: Some(1 << 30),
                bus: Bus::Ide,
                ..share("/d")
            }
        ]
    );
    assert!(error("run --share , hello", None).contains("--share needs a directory"));
    assert!(error("run --share d,keep= hello", None).contains("keep= needs a file"));
    assert!(error("run --share d,size=big hello", None).contains("not 'big'"));
    assert!(error("run --share d,bus=scsi hello", None).contains("not 'scsi'"));
    assert!(error("run --share d,ro hello", None).contains("unknown option 'ro'"));
}

#[test]
fn gdb_waits_without_a_timeout_unless_one_is_given() {
    let options = run("run --gdb target/hello --timeout 5", None);
    assert_eq!(options.gdb, Gdb::Server);
    assert_eq!(options.guest.timeout, None);
    assert_eq!(options.guest_args, ["--timeout", "5"]);
    let options = run("run --timeout 5 target/hello", Some("--gdb"));
    assert_eq!(options.gdb, Gdb::Server);
    assert_eq!(options.guest.timeout, Some(Duration::from_secs(5)));
    let options = run("gdb --smp 2 target/hello a", None);
    assert_eq!(options.gdb, Gdb::Attach);
    assert_eq!((options.guest.smp, options.guest.timeout), (2, None));
    assert_eq!(options.guest_args, ["a"]);
    assert_eq!(run("gdb --gdb target/hello", None).gdb, Gdb::Attach);
    assert_eq!(run("run target/hello", None).gdb, Gdb::Off);
}

#[test]
fn gdb_mistakes_name_the_subcommand() {
    assert_eq!(
        parse(&words("gdb"), None),
        Err(super::UsageError(
            "'gdb' needs the path of an ELF image (see probe gdb --help)".to_owned()
        ))
    );
    assert_eq!(
        parse(&words("run --gdb=yes target/hello"), None),
        Err(super::UsageError(
            "option --gdb for 'run' takes no value (see probe run --help)".to_owned()
        ))
    );
    assert_eq!(
        parse(&words("gdb --help"), None),
        Ok(Command::Help(Some(Subcommand::Gdb)))
    );
}

fn boot(line: &str) -> BootOptions {
    match parse(&words(line), None) {
        Ok(Command::Bench(Bench::Boot(options))) => options,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn bench_alone_runs_them_all() {
    assert_eq!(
        parse(&words("bench"), None),
        Ok(Command::Bench(Bench::All { quick: false }))
    );
    assert_eq!(
        parse(&words("bench --quick"), None),
        Ok(Command::Bench(Bench::All { quick: true }))
    );
    assert!(error("bench --quick threads", None).contains("unexpected argument 'threads'"));
    assert!(error("bench fast", None).contains("boot, threads, idle, disk, http or net"));
}

#[test]
fn bench_net_takes_the_options_of_bench_http() {
    let Ok(Command::Bench(Bench::Net(net))) = parse(
        &words("bench net --board microvm --smp-list 1,4 --seconds 3 --baseline linux"),
        None,
    ) else {
        panic!("bench net did not parse");
    };
    assert_eq!(net.boards, [Board::Microvm]);
    assert_eq!(net.smp_list, [1, 4]);
    assert_eq!(net.seconds, 3);
    assert!(net.linux);
    let Ok(Command::Bench(Bench::Http(http))) = parse(&words("bench http"), None) else {
        panic!("bench http did not parse");
    };
    assert_eq!((http.seconds, http.linux), (5, false));
    assert!(error("bench net --seconds 0", None).contains("--seconds"));
    assert!(error("bench net --runs 3", None).contains("unknown option --runs"));
}

#[test]
fn bench_boot_options() {
    assert_eq!(boot("bench boot"), BootOptions::default());
    let options = boot("bench boot --baseline linux --board microvm --smp-list 1,4 --runs 12");
    assert!(options.linux);
    assert_eq!(options.boards, [Board::Microvm]);
    assert_eq!(options.smp_list, [1, 4]);
    assert_eq!(options.runs, 12);
    assert!(error("bench boot --runs 0", None).contains("--runs must be a whole number"));
    assert!(error("bench boot --runs many", None).contains("not 'many'"));
    assert!(error("bench boot --linux-kernel k", None).contains("--baseline linux"));
    assert!(error("bench boot --seconds 3", None).contains("unknown option --seconds"));
}
