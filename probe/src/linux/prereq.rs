//! What the Linux baseline needs from the host, and the one line that says what to install.
//! probe never installs anything itself.

use std::path::Path;
use std::process::Command;

use crate::elf;

/// Where Debian's `busybox-static` puts busybox.
pub(crate) const BUSYBOX: &str = "/bin/busybox";

/// The facts about the host that decide what is missing; tests pass fakes.
pub(crate) trait Host {
    /// True when `name` is an executable on `PATH`.
    fn has_command(&self, name: &str) -> bool;
    /// True when `BUSYBOX` exists and is statically linked (it runs in the guest alone).
    fn has_static_busybox(&self) -> bool;
    /// True when gcc finds a static C library (`libc.a`) to link with.
    fn has_static_libc(&self) -> bool;
}

/// One missing thing: what it is, for the user, and the Debian package that provides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Need {
    pub(crate) what: &'static str,
    pub(crate) package: &'static str,
}

/// What a baseline run asks of the host, beyond QEMU and busybox.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wants {
    /// A kernel was found (in `/boot` or named by the user).
    pub(crate) kernel: bool,
    /// The tool that unpacks the kernel for PVH, with its package, when PVH is wanted.
    pub(crate) unpacker: Option<(&'static str, &'static str)>,
    /// The workload compiles static C programs on the host.
    pub(crate) static_c: bool,
}

/// Everything missing, in the order the advice names it.
pub(crate) fn missing(host: &impl Host, wants: Wants) -> Vec<Need> {
    let mut needs = Vec::new();
    let mut need = |what, package| needs.push(Need { what, package });
    if !host.has_command("qemu-system-x86_64") {
        need("qemu-system-x86_64", "qemu-system-x86");
    }
    if !wants.kernel {
        need(
            "a kernel in /boot (or name one with --linux-kernel)",
            "linux-image-amd64",
        );
    }
    if !host.has_static_busybox() {
        need("a static /bin/busybox", "busybox-static");
    }
    if let Some((tool, package)) = wants.unpacker
        && !host.has_command(tool)
    {
        need(tool, package);
    }
    if wants.static_c {
        if !host.has_command("gcc") {
            need("gcc", "gcc");
        }
        // Without gcc, libc.a cannot be looked for; libc6-dev comes with gcc's
        // recommendations but is named anyway, as `--no-install-recommends` skips it.
        if !host.has_command("gcc") || !host.has_static_libc() {
            need("a static C library", "libc6-dev");
        }
    }
    needs
}

/// The one line of advice for what is missing, e.g. "the Linux baseline needs gcc;
/// install with `sudo apt-get install gcc`".
pub(crate) fn advice(needs: &[Need]) -> String {
    let whats: Vec<&str> = needs.iter().map(|need| need.what).collect();
    let mut packages: Vec<&str> = Vec::new();
    for need in needs {
        if !packages.contains(&need.package) {
            packages.push(need.package);
        }
    }
    format!(
        "the Linux baseline needs {}; install with `sudo apt-get install {}`",
        whats.join(", "),
        packages.join(" ")
    )
}

/// The real host.
#[derive(Debug)]
pub(crate) struct ThisHost;

impl Host for ThisHost {
    fn has_command(&self, name: &str) -> bool {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
    }

    fn has_static_busybox(&self) -> bool {
        std::fs::read(BUSYBOX).is_ok_and(|bytes| elf::is_static(&bytes) == Ok(true))
    }

    fn has_static_libc(&self) -> bool {
        // gcc prints the bare name when it finds no such file.
        Command::new("gcc")
            .arg("-print-file-name=libc.a")
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .is_some_and(|path| Path::new(path.trim()).is_absolute())
    }
}

#[cfg(test)]
mod tests {
    use super::{Host, Wants, advice, missing};

    /// A host that has exactly the commands listed, and static busybox and libc or not.
    struct Fake {
        commands: &'static [&'static str],
        busybox: bool,
        libc: bool,
    }

    impl Host for Fake {
        fn has_command(&self, name: &str) -> bool {
            self.commands.contains(&name)
        }
        fn has_static_busybox(&self) -> bool {
            self.busybox
        }
        fn has_static_libc(&self) -> bool {
            self.libc
        }
    }

    const EVERYTHING: Fake = Fake {
        commands: &["qemu-system-x86_64", "xz", "gcc"],
        busybox: true,
        libc: true,
    };

    const ALL_WANTED: Wants = Wants {
        kernel: true,
        unpacker: Some(("xz", "xz-utils")),
        static_c: true,
    };

    #[test]
    fn nothing_missing_means_no_advice_needed() {
        assert!(missing(&EVERYTHING, ALL_WANTED).is_empty());
    }

    #[test]
    fn a_bare_host_gets_one_line_naming_every_package() {
        let bare = Fake {
            commands: &[],
            busybox: false,
            libc: false,
        };
        let wants = Wants {
            kernel: false,
            ..ALL_WANTED
        };
        let line = advice(&missing(&bare, wants));
        assert_eq!(
            line,
            "the Linux baseline needs qemu-system-x86_64, a kernel in /boot (or name one with \
             --linux-kernel), a static /bin/busybox, xz, gcc, a static C library; install \
             with `sudo apt-get install qemu-system-x86 linux-image-amd64 busybox-static \
             xz-utils gcc libc6-dev`"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn only_what_the_run_wants_is_asked_for() {
        let no_tools = Fake {
            commands: &["qemu-system-x86_64"],
            busybox: true,
            libc: false,
        };
        let idle_on_pc = Wants {
            kernel: true,
            unpacker: None,
            static_c: false,
        };
        assert!(missing(&no_tools, idle_on_pc).is_empty());
        let threads = Wants {
            static_c: true,
            ..idle_on_pc
        };
        let packages: Vec<&str> = missing(&no_tools, threads)
            .iter()
            .map(|need| need.package)
            .collect();
        assert_eq!(packages, ["gcc", "libc6-dev"]);
        let dynamic_busybox = Fake {
            busybox: false,
            ..EVERYTHING
        };
        assert_eq!(
            advice(&missing(&dynamic_busybox, ALL_WANTED)),
            "the Linux baseline needs a static /bin/busybox; install with `sudo apt-get \
             install busybox-static`"
        );
    }

    #[test]
    fn a_package_is_named_once() {
        let no_libc = Fake {
            libc: false,
            ..EVERYTHING
        };
        let needs = missing(&no_libc, ALL_WANTED);
        assert_eq!(needs.len(), 1);
        let twice = [needs[0], needs[0]];
        assert!(advice(&twice).ends_with("`sudo apt-get install libc6-dev`"));
    }
}
