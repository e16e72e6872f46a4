//! KVM where the host has real hardware virtualization, TCG otherwise. A /dev/kvm alone is not
//! enough: some hosts (PVM, a paravirtualized KVM inside a VM) expose one that stock guest
//! kernels crash or crawl under.

use std::path::Path;

use crate::domain::Accel;

/// The choice, and why, to say to whoever runs the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub accel: Accel,
    pub reason: String,
}

/// Decides from what the host shows: whether /dev/kvm exists, whether the PVM module is
/// loaded, and /proc/cpuinfo.
pub fn decide(dev_kvm: bool, kvm_pvm: bool, cpuinfo: &str) -> Choice {
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    let (accel, reason) = if !dev_kvm {
        (Accel::Tcg, "no /dev/kvm".to_string())
    } else if kvm_pvm {
        (
            Accel::Tcg,
            "/dev/kvm is PVM (kvm_pvm is loaded), not hardware virtualization".to_string(),
        )
    } else if !(has("vmx") || has("svm")) {
        (
            Accel::Tcg,
            "/dev/kvm exists but the cpu has neither vmx nor svm".to_string(),
        )
    } else {
        (
            Accel::Kvm,
            "hardware virtualization (vmx/svm) and /dev/kvm".to_string(),
        )
    };
    Choice { accel, reason }
}

/// Looks at this host.
pub fn detect() -> Choice {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    decide(
        Path::new("/dev/kvm").exists(),
        Path::new("/sys/module/kvm_pvm").exists(),
        &cpuinfo,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMX: &str = "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse2\n";
    const PLAIN: &str = "processor\t: 0\nflags\t\t: fpu vme de pse sse2\n";

    #[test]
    fn kvm_only_with_real_hardware_virtualization() {
        assert_eq!(decide(true, false, VMX).accel, Accel::Kvm);
        let pvm = decide(true, true, VMX);
        assert_eq!(pvm.accel, Accel::Tcg);
        assert!(pvm.reason.contains("PVM"), "{}", pvm.reason);
        assert_eq!(decide(true, false, PLAIN).accel, Accel::Tcg);
        assert_eq!(decide(false, false, VMX).accel, Accel::Tcg);
        assert_eq!(
            decide(true, false, &VMX.replace("vmx", "svm")).accel,
            Accel::Kvm
        );
    }

    /// This machine's /dev/kvm is PVM (see TESTING.md): detection must say TCG, and why.
    #[test]
    fn this_host() {
        let choice = detect();
        println!("{choice:?}");
        if Path::new("/sys/module/kvm_pvm").exists() {
            assert_eq!(choice.accel, Accel::Tcg);
            assert!(choice.reason.contains("PVM"));
        }
    }
}
