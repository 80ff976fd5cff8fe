//! The Linux guest's initramfs: busybox, the kernel modules its NIC needs, an `/init`
//! script that brings the system up and runs the workload, and the workload's files.

use std::path::{Path, PathBuf};

use crate::linux::cpio::{Entry, Tree};
use crate::linux::kernel::{module_format, unpack};
use crate::linux::prereq::BUSYBOX;
use crate::linux::{GuestFile, Workload};

/// Printed by `/init` before the workload, with the kernel release after it.
pub(crate) const BEGIN: &str = "PROBE-LINUX-BEGIN";
/// Printed by `/init` after the workload, as `PROBE-LINUX-END rc=<status>`.
pub(crate) const END: &str = "PROBE-LINUX-END";

/// The guest's address on QEMU's user network, and its gateway.
const GUEST_ADDRESS: &str = "10.0.2.15/24";
const GATEWAY: &str = "10.0.2.2";

/// The modules a guest with forwarded ports loads for its virtio NIC: microvm's virtio-mmio
/// transport and the PC's virtio-pci (each finds nothing on the other board), then the NIC.
/// Debian builds them as modules; a kernel that has them built in needs none.
pub(crate) const NIC_MODULES: [&str; 3] = ["virtio_mmio", "virtio_pci", "virtio_net"];

/// The modules a guest with disks loads: the same transports, then virtio-blk.
pub(crate) const DISK_MODULES: [&str; 3] = ["virtio_mmio", "virtio_pci", "virtio_blk"];

/// The modules a guest with IDE disks loads: the PC's PIIX IDE and SCSI disks.
pub(crate) const IDE_MODULES: [&str; 2] = ["ata_piix", "sd_mod"];

/// The modules of a vfat volume with the kernel's default code page and character sets.
pub(crate) const VFAT_MODULES: [&str; 4] = ["nls_cp437", "nls_ascii", "nls_utf8", "vfat"];

/// Where modules go in the guest.
const MODULE_DIR: &str = "/lib/modules";

/// A module to load: its name and the file it comes from on the host.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Module {
    pub(crate) name: String,
    pub(crate) file: PathBuf,
}

/// The modules `wanted` and what they depend on, in load order, each once, from the
/// kernel's `modules.dep` in `dir` (`/lib/modules/<release>`). Without that file (a kernel
/// built by hand) the drivers are taken to be built in.
pub(crate) fn modules(dir: &Path, wanted: &[&str]) -> Result<Vec<Module>, String> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let dep_file = dir.join("modules.dep");
    let Ok(deps) = std::fs::read_to_string(&dep_file) else {
        return Ok(Vec::new());
    };
    Ok(load_order(&deps, wanted)
        .into_iter()
        .map(|(name, relative)| Module {
            name,
            file: dir.join(relative),
        })
        .collect())
}

/// A module's name from its path in `modules.dep`: the file name without `.ko` (and any
/// compression suffix), with `-` read as `_` as the kernel does.
fn module_name(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = file.split(".ko").next()?;
    (stem.len() < file.len()).then(|| stem.replace('-', "_"))
}

/// The modules to load for `wanted`, each after what it depends on, each once: pairs of
/// name and path as `modules.dep` gives it. Wanted names not in the file are built in.
fn load_order(deps: &str, wanted: &[&str]) -> Vec<(String, String)> {
    // `modules.dep` lines: `kernel/a/b.ko: kernel/c.ko kernel/d.ko`, the dependencies
    // listed so that loading them from last to first satisfies each before its user.
    let entries: Vec<(&str, Vec<&str>)> = deps
        .lines()
        .filter_map(|line| {
            let (module, needs) = line.split_once(':')?;
            Some((module.trim(), needs.split_whitespace().collect()))
        })
        .collect();
    let mut order: Vec<(String, String)> = Vec::new();
    for want in wanted {
        let Some((path, needs)) = entries
            .iter()
            .find(|(path, _)| module_name(path).as_deref() == Some(*want))
        else {
            continue;
        };
        for module in needs.iter().rev().chain([path]) {
            if let Some(name) = module_name(module)
                && !order.iter().any(|(known, _)| *known == name)
            {
                order.push((name, (*module).to_owned()));
            }
        }
    }
    order
}

/// The `/init` script: mounts, busybox's applets, modules, the network when ports are
/// forwarded, then the workload between the `BEGIN` and `END` lines, then power off.
pub(crate) fn init_script(modules: &[String], network: bool, command: &str) -> String {
    let mut script = String::from(
        "#!/bin/busybox sh\n\
         /bin/busybox mount -t proc proc /proc\n\
         /bin/busybox --install -s /bin\n\
         export PATH=/bin\n\
         mount -t sysfs sysfs /sys\n\
         mount -t devtmpfs devtmpfs /dev\n",
    );
    for module in modules {
        script += &format!("insmod {MODULE_DIR}/{module}.ko\n");
    }
    if network {
        script += &format!(
            "ip link set lo up\n\
             ip addr add {GUEST_ADDRESS} dev eth0\n\
             ip link set eth0 up\n\
             ip route add default via {GATEWAY}\n"
        );
    }
    script += &format!("echo \"{BEGIN} $(uname -r)\"\n");
    script += command.trim_end();
    script += &format!("\necho \"{END} rc=$?\"\npoweroff -f\n");
    script
}

/// The whole initramfs as an uncompressed cpio archive.
pub(crate) fn build(
    busybox: &[u8],
    modules: &[Module],
    workload: &Workload,
) -> Result<Vec<u8>, String> {
    let mut tree = Tree::default();
    for dir in ["/bin", "/dev", "/proc", "/sys", "/tmp", MODULE_DIR] {
        tree.add(dir, Entry::Dir)?;
    }
    // The console the kernel opens for /init before anything is mounted.
    tree.add("/dev/console", Entry::CharDevice { major: 5, minor: 1 })?;
    tree.add(
        BUSYBOX,
        Entry::File {
            data: busybox.to_vec(),
            executable: true,
        },
    )?;
    let mut names = Vec::new();
    for module in modules {
        tree.add(
            &format!("{MODULE_DIR}/{}.ko", module.name),
            Entry::File {
                data: module_bytes(&module.file)?,
                executable: false,
            },
        )?;
        names.push(module.name.clone());
    }
    let network = !workload.ports.is_empty();
    let script = init_script(&names, network, &workload.command);
    tree.add(
        "/init",
        Entry::File {
            data: script.into_bytes(),
            executable: true,
        },
    )?;
    for GuestFile {
        path,
        contents,
        executable,
    } in &workload.files
    {
        tree.add(
            path,
            Entry::File {
                data: contents.clone(),
                executable: *executable,
            },
        )
        .map_err(|err| format!("the workload's file {err}"))?;
    }
    Ok(tree.archive())
}

/// A module's contents, unpacked when the distribution compressed it.
fn module_bytes(file: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(file)
        .map_err(|err| format!("cannot read the module {}: {err}", file.display()))?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    match module_format(&name) {
        None => Ok(bytes),
        Some(format) => unpack(format, &bytes)
            .map_err(|err| format!("cannot unpack the module {}: {err}", file.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::{
        DISK_MODULES, Module, NIC_MODULES, build, init_script, load_order, module_bytes,
        module_name,
    };
    use crate::disk::Bus;
    use crate::linux::kernel::tests::gzipped;
    use crate::linux::{GuestFile, Scratch, Workload};

    fn contains(archive: &[u8], text: &[u8]) -> bool {
        archive.windows(text.len()).any(|window| window == text)
    }

    /// Lines of Debian 12's `modules.dep` for the NIC and disk drivers, plus noise.
    const DEPS: &str = "\
kernel/fs/fuse/virtiofs.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko kernel/fs/fuse/fuse.ko
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/virtio/virtio.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
";

    #[test]
    fn loads_dependencies_first_and_each_once() {
        let order = load_order(DEPS, &["virtio_mmio", "virtio_pci", "virtio_net"]);
        let names: Vec<&str> = order.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "virtio_ring",
                "virtio",
                "virtio_mmio",
                "virtio_pci_modern_dev",
                "virtio_pci_legacy_dev",
                "virtio_pci",
                "failover",
                "net_failover",
                "virtio_net"
            ]
        );
        assert_eq!(order[0].1, "kernel/drivers/virtio/virtio_ring.ko");
    }

    #[test]
    fn a_guest_with_a_nic_and_a_disk_loads_the_shared_modules_once() {
        let wanted: Vec<&str> = NIC_MODULES.into_iter().chain(DISK_MODULES).collect();
        let names: Vec<String> = load_order(DEPS, &wanted)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names.len(), 10, "{names:?}");
        assert_eq!(names.last().map(String::as_str), Some("virtio_blk"));
        assert_eq!(
            names.iter().filter(|name| *name == "virtio_mmio").count(),
            1
        );
    }

    #[test]
    fn built_in_or_unknown_modules_are_skipped() {
        assert!(load_order(DEPS, &["e1000"]).is_empty());
        assert!(load_order("", &["virtio_net"]).is_empty());
        assert!(load_order("garbage without colon\n", &["virtio_net"]).is_empty());
        let order = load_order(DEPS, &["virtio_rng"]);
        assert_eq!(
            order.last().map(|(name, _)| name.as_str()),
            Some("virtio_rng")
        );
    }

    #[test]
    fn names_modules_as_the_kernel_does() {
        assert_eq!(
            module_name("kernel/drivers/char/hw_random/virtio-rng.ko.xz").as_deref(),
            Some("virtio_rng")
        );
        assert_eq!(module_name("e1000.ko").as_deref(), Some("e1000"));
        assert_eq!(module_name("kernel/readme.txt"), None);
    }

    #[test]
    fn init_runs_the_workload_between_markers() {
        let script = init_script(&[], false, "bench\n");
        assert!(script.starts_with("#!/bin/busybox sh\n"));
        assert!(
            script.ends_with(
                "echo \"PROBE-LINUX-BEGIN $(uname -r)\"\nbench\n\
                 echo \"PROBE-LINUX-END rc=$?\"\npoweroff -f\n"
            ),
            "{script}"
        );
        assert!(!script.contains("insmod"));
        assert!(!script.contains("eth0"));
        // Applets are installed only once /proc (busybox finds itself there) is mounted.
        let proc_mount = script.find("mount -t proc").unwrap();
        assert!(proc_mount < script.find("--install").unwrap());
    }

    #[test]
    fn init_brings_up_the_network_after_the_modules() {
        let modules = ["virtio".to_owned(), "virtio_net".to_owned()];
        let script = init_script(&modules, true, "httpd -p 80");
        let virtio = script.find("insmod /lib/modules/virtio.ko\n").unwrap();
        let net = script.find("insmod /lib/modules/virtio_net.ko\n").unwrap();
        let address = script.find("ip addr add 10.0.2.15/24 dev eth0\n").unwrap();
        let route = script.find("ip route add default via 10.0.2.2\n").unwrap();
        let command = script.find("httpd -p 80\n").unwrap();
        assert!(virtio < net && net < address && address < route && route < command);
    }

    #[test]
    fn holds_busybox_the_modules_init_and_the_workload() {
        let scratch = Scratch::new("initramfs-test").unwrap();
        let plain = scratch.path().join("virtio.ko");
        std::fs::write(&plain, b"\x7fELF virtio").unwrap();
        let packed = scratch.path().join("virtio_net.ko.gz");
        std::fs::write(&packed, gzipped(b"\x7fELF virtio_net")).unwrap();
        assert_eq!(module_bytes(&packed).unwrap(), b"\x7fELF virtio_net");
        let modules = [
            Module {
                name: "virtio".to_owned(),
                file: plain,
            },
            Module {
                name: "virtio_net".to_owned(),
                file: packed,
            },
        ];
        let workload = Workload {
            command: "httpd".to_owned(),
            files: vec![GuestFile {
                path: "/www/index.html".to_owned(),
                contents: b"<p>hello</p>".to_vec(),
                executable: false,
            }],
            ports: vec![80],
            disks: Vec::new(),
            disk_bus: Bus::Virtio,
            modules: Vec::new(),
        };
        let archive = build(b"\x7fELF busybox", &modules, &workload).unwrap();
        for name in [
            "bin/busybox",
            "dev/console",
            "init",
            "lib/modules/virtio_net.ko",
            "www/index.html",
        ] {
            assert!(contains(&archive, format!("{name}\0").as_bytes()), "{name}");
        }
        assert!(contains(
            &archive,
            b"insmod /lib/modules/virtio_net.ko\nip link set lo up"
        ));
        // The module went in unpacked.
        assert!(contains(&archive, b"\x7fELF virtio_net"));
    }

    #[test]
    fn workload_files_cannot_replace_the_system() {
        let workload = Workload {
            command: "true".to_owned(),
            files: vec![GuestFile {
                path: "/init".to_owned(),
                contents: Vec::new(),
                executable: true,
            }],
            ports: Vec::new(),
            disks: Vec::new(),
            disk_bus: Bus::Virtio,
            modules: Vec::new(),
        };
        let err = build(b"busybox", &[], &workload).unwrap_err();
        assert_eq!(err, "the workload's file /init is in the initramfs twice");
        let missing = [Module {
            name: "gone".to_owned(),
            file: "/nonexistent/gone.ko".into(),
        }];
        let err = build(b"busybox", &missing, &Workload::default()).unwrap_err();
        assert!(
            err.starts_with("cannot read the module /nonexistent/gone.ko"),
            "{err}"
        );
    }
}
