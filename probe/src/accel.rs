//! Chooses QEMU's accelerator: KVM when the host can really run it, else TCG.

use std::fmt;
use std::fs::OpenOptions;

/// The accelerator requested on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AccelChoice {
    Tcg,
    Kvm,
    /// KVM when usable, else TCG.
    Auto,
}

impl AccelChoice {
    pub(crate) fn parse(text: &str) -> Option<AccelChoice> {
        match text {
            "tcg" => Some(AccelChoice::Tcg),
            "kvm" => Some(AccelChoice::Kvm),
            "auto" => Some(AccelChoice::Auto),
            _ => None,
        }
    }

    /// Settles the choice on this host; `kvm` on a host without KVM is an error.
    pub(crate) fn resolve(self) -> Result<Accel, String> {
        match self {
            AccelChoice::Tcg => Ok(Accel::Tcg),
            AccelChoice::Kvm => match kvm_unusable_reason() {
                None => Ok(Accel::Kvm),
                Some(reason) => Err(format!(
                    "--accel kvm: KVM is not usable here ({reason}); use --accel tcg or auto"
                )),
            },
            AccelChoice::Auto if kvm_unusable_reason().is_none() => Ok(Accel::Kvm),
            AccelChoice::Auto => Ok(Accel::Tcg),
        }
    }
}

/// The accelerator a guest actually runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Accel {
    Tcg,
    Kvm,
}

impl Accel {
    /// QEMU arguments selecting this accelerator and a matching CPU model.
    pub(crate) fn qemu_args(self) -> &'static [&'static str] {
        match self {
            // `arat`: the LAPIC timer keeps running in deep C-states, so the guest need not
            // fall back to another timer when it halts.
            Accel::Tcg => &["-accel", "tcg", "-cpu", "qemu64,+arat"],
            Accel::Kvm => &["-accel", "kvm", "-cpu", "host"],
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        })
    }
}

/// Why KVM cannot be used, or `None` when it can.
///
/// An openable `/dev/kvm` is not enough: some hosts provide a software KVM (such as
/// kvm-pvm) that cannot run a guest kernel at ring 0, so the CPU must also have VMX or SVM.
fn kvm_unusable_reason() -> Option<String> {
    if let Err(err) = OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        return Some(format!("cannot open /dev/kvm read-write: {err}"));
    }
    match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(cpuinfo) if has_virtualization_flag(&cpuinfo) => None,
        Ok(_) => Some("the CPU flags in /proc/cpuinfo have neither vmx nor svm".to_owned()),
        Err(err) => Some(format!("cannot read /proc/cpuinfo: {err}")),
    }
}

/// True when a `flags` line of `/proc/cpuinfo` lists `vmx` or `svm`.
fn has_virtualization_flag(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(key, _)| key.trim() == "flags")
        .flat_map(|(_, flags)| flags.split_whitespace())
        .any(|flag| flag == "vmx" || flag == "svm")
}

#[cfg(test)]
mod tests {
    use super::{AccelChoice, has_virtualization_flag};

    #[test]
    fn finds_vmx_or_svm_only_as_whole_flags() {
        assert!(has_virtualization_flag(
            "processor\t: 0\nflags\t\t: fpu vmx sse\n"
        ));
        assert!(has_virtualization_flag("flags : svm\n"));
        assert!(!has_virtualization_flag(
            "flags\t: fpu vmxx sse\nmodel name : svm box\n"
        ));
        assert!(!has_virtualization_flag(""));
    }

    #[test]
    fn parses_choices() {
        assert_eq!(AccelChoice::parse("kvm"), Some(AccelChoice::Kvm));
        assert_eq!(AccelChoice::parse("auto"), Some(AccelChoice::Auto));
        assert_eq!(AccelChoice::parse("KVM"), None);
    }
}
