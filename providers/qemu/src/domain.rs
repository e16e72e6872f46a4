//! Domain XML for libvirt, built by pure code from what an instance needs, and the instance's
//! own record (labels, the cpus asked for, its disks) kept in the domain's metadata.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use nubes_core::{DiskFormat, Error, Result};
use serde::{Deserialize, Serialize};

/// The namespace of the metadata element that marks a domain as a Nubes instance.
pub const METADATA_NS: &str = "https://nubes.dev/xmlns/instance/1";
pub const METADATA_PREFIX: &str = "nubes";
/// CFS period for the cpu quota, in microseconds.
const PERIOD_US: u64 = 100_000;

/// How the guest's cpu is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualization.
    Kvm,
    /// QEMU's emulator: slower, runs anywhere.
    Tcg,
}

impl Accel {
    fn domain_type(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "qemu",
        }
    }
}

/// The guest's network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "mode", content = "bridge")]
pub enum Network {
    None,
    /// QEMU's user-mode network (outbound only; no host setup).
    User,
    /// A host bridge.
    Bridge(String),
}

/// What the guest boots.
#[derive(Debug, Clone, PartialEq)]
pub enum Boot {
    /// The first disk.
    Disk,
    /// The cdrom, then the disk (an installation).
    Cdrom,
    /// A kernel (and initrd) given directly, with its command line.
    Kernel {
        kernel: PathBuf,
        initrd: Option<PathBuf>,
        cmdline: String,
    },
}

/// The unix sockets a VM's consoles listen on.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSockets {
    /// The first serial port, which still writes the console log.
    pub serial: PathBuf,
    /// The screen, over RFB.
    pub vnc: PathBuf,
}

/// The longest path a unix socket may have (`sun_path` less its terminating zero).
pub const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, Clone, PartialEq)]
pub struct DiskDevice {
    pub file: PathBuf,
    pub format: DiskFormat,
}

/// What an instance keeps in its domain's metadata: what libvirt's own XML does not say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub image: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The cpus asked for (fractions allowed: the vcpus are whole, a quota makes the rest).
    pub cpus: f64,
    pub created_at: i64,
    /// The Disk images this instance made for itself (its boot overlay), by name.
    #[serde(default)]
    pub disks: Vec<String>,
    /// The boot disk's size, when one was asked for.
    #[serde(default)]
    pub disk_size: Option<u64>,
}

/// Everything a domain definition holds.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSpec {
    pub name: String,
    pub accel: Accel,
    pub machine: String,
    pub emulator: Option<PathBuf>,
    pub cpus: f64,
    pub memory: u64,
    pub disks: Vec<DiskDevice>,
    pub cdrom: Option<PathBuf>,
    pub boot: Boot,
    pub network: Network,
    /// Where the serial console's output is written.
    pub console_log: PathBuf,
    /// Sockets a console session attaches to; without them the serial port only writes its
    /// log and the VM has no screen.
    pub consoles: Option<ConsoleSockets>,
    /// A virtio-serial channel for qemu-guest-agent.
    pub guest_agent: bool,
    pub meta: Meta,
}

/// Whole vcpus for `cpus`, and the per-vcpu quota (µs per period) that limits them to it.
pub fn vcpus(cpus: f64) -> Result<(u32, Option<u64>)> {
    if !(cpus.is_finite() && cpus > 0.0) {
        return Err(Error::invalid_input(format!(
            "cpus must be positive, got {cpus}"
        )));
    }
    let whole = cpus.ceil();
    if whole > 512.0 {
        return Err(Error::invalid_input(format!(
            "{cpus} cpus is more than a VM can have"
        )));
    }
    let quota = if whole == cpus {
        None
    } else {
        Some(((cpus / whole) * PERIOD_US as f64).round() as u64)
    };
    Ok((whole as u32, quota))
}

/// Text for an XML attribute or element.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The metadata element, as `virDomainSetMetadata` and the domain XML take it.
pub fn meta_element(meta: &Meta) -> String {
    let json = serde_json::to_string(meta).expect("metadata serializes");
    format!(
        "<{p}:instance xmlns:{p}=\"{METADATA_NS}\">{}</{p}:instance>",
        escape(&json),
        p = METADATA_PREFIX
    )
}

/// The metadata element without a namespace, as `virDomainSetMetadata` takes it (it adds the
/// namespace itself).
pub fn bare_meta_element(meta: &Meta) -> String {
    let json = serde_json::to_string(meta).expect("metadata serializes");
    format!("<instance>{}</instance>", escape(&json))
}

/// Reads the metadata back from its element (as `virDomainGetMetadata` returns it, whatever
/// prefix libvirt chose).
pub fn parse_meta(element: &str) -> Result<Meta> {
    let open_end = element
        .find('>')
        .ok_or_else(|| Error::unexpected("instance metadata is not an element"))?;
    let close = element
        .rfind("</")
        .filter(|c| *c > open_end)
        .ok_or_else(|| Error::unexpected("instance metadata is not closed"))?;
    let text = unescape(element[open_end + 1..close].trim());
    serde_json::from_str(&text)
        .map_err(|e| Error::unexpected(format!("instance metadata is unreadable: {e}")))
}

fn path(p: &std::path::Path) -> String {
    escape(&p.display().to_string())
}

impl DomainSpec {
    pub fn to_xml(&self) -> Result<String> {
        let (vcpus, quota) = vcpus(self.cpus)?;
        let kib = self.memory.div_ceil(1024);
        let mut x = String::new();
        let w = &mut x;
        let _ = writeln!(w, "<domain type='{}'>", self.accel.domain_type());
        let _ = writeln!(w, "  <name>{}</name>", escape(&self.name));
        let _ = writeln!(w, "  <metadata>{}</metadata>", meta_element(&self.meta));
        let _ = writeln!(w, "  <memory unit='KiB'>{kib}</memory>");
        let _ = writeln!(w, "  <currentMemory unit='KiB'>{kib}</currentMemory>");
        let _ = writeln!(w, "  <vcpu placement='static'>{vcpus}</vcpu>");
        if let Some(q) = quota {
            let _ = writeln!(
                w,
                "  <cputune><period>{PERIOD_US}</period><quota>{q}</quota></cputune>"
            );
        }
        let _ = writeln!(w, "  <os>");
        let _ = writeln!(
            w,
            "    <type arch='x86_64' machine='{}'>hvm</type>",
            escape(&self.machine)
        );
        match &self.boot {
            Boot::Disk => {
                let _ = writeln!(w, "    <boot dev='hd'/>");
            }
            Boot::Cdrom => {
                let _ = writeln!(w, "    <boot dev='cdrom'/>");
                let _ = writeln!(w, "    <boot dev='hd'/>");
            }
            Boot::Kernel {
                kernel,
                initrd,
                cmdline,
            } => {
                let _ = writeln!(w, "    <kernel>{}</kernel>", path(kernel));
                if let Some(i) = initrd {
                    let _ = writeln!(w, "    <initrd>{}</initrd>", path(i));
                }
                let _ = writeln!(w, "    <cmdline>{}</cmdline>", escape(cmdline));
            }
        }
        let _ = writeln!(w, "  </os>");
        // ACPI, so a stop can ask the guest to power off (and libvirt 9 would otherwise pass
        // QEMU 10 a `-no-acpi` it no longer knows).
        let _ = writeln!(w, "  <features><acpi/><apic/></features>");
        let _ = writeln!(w, "  <on_poweroff>destroy</on_poweroff>");
        let _ = writeln!(w, "  <on_reboot>restart</on_reboot>");
        let _ = writeln!(w, "  <on_crash>destroy</on_crash>");
        let _ = writeln!(w, "  <devices>");
        if let Some(e) = &self.emulator {
            let _ = writeln!(w, "    <emulator>{}</emulator>", path(e));
        }
        for (i, d) in self.disks.iter().enumerate() {
            let dev = format!("vd{}", (b'a' + i as u8) as char);
            let _ = writeln!(w, "    <disk type='file' device='disk'>");
            let _ = writeln!(w, "      <driver name='qemu' type='{}'/>", d.format);
            let _ = writeln!(w, "      <source file='{}'/>", path(&d.file));
            let _ = writeln!(w, "      <target dev='{dev}' bus='virtio'/>");
            let _ = writeln!(w, "    </disk>");
        }
        if let Some(iso) = &self.cdrom {
            let _ = writeln!(w, "    <disk type='file' device='cdrom'>");
            let _ = writeln!(w, "      <driver name='qemu' type='raw'/>");
            let _ = writeln!(w, "      <source file='{}'/>", path(iso));
            let _ = writeln!(w, "      <target dev='sda' bus='sata'/>");
            let _ = writeln!(w, "      <readonly/>");
            let _ = writeln!(w, "    </disk>");
        }
        match &self.network {
            Network::None => {}
            Network::User => {
                let _ = writeln!(
                    w,
                    "    <interface type='user'><model type='virtio'/></interface>"
                );
            }
            Network::Bridge(b) => {
                let _ = writeln!(
                    w,
                    "    <interface type='bridge'><source bridge='{}'/><model type='virtio'/></interface>",
                    escape(b)
                );
            }
        }
        match &self.consoles {
            // One session at a time may attach to the port; what the guest writes is logged
            // whether or not one is.
            Some(c) => {
                let source = format!(
                    "      <source mode='bind' path='{}'/>\n      <log file='{}' append='on'/>",
                    path(&c.serial),
                    path(&self.console_log)
                );
                let _ = writeln!(w, "    <serial type='unix'>\n{source}");
                let _ = writeln!(w, "      <target port='0'/>");
                let _ = writeln!(w, "    </serial>");
                let _ = writeln!(w, "    <console type='unix'>\n{source}");
                let _ = writeln!(w, "      <target type='serial' port='0'/>");
                let _ = writeln!(w, "    </console>");
                // No TCP port: the screen is reached only through the provider.
                let _ = writeln!(w, "    <graphics type='vnc' socket='{}'/>", path(&c.vnc));
                let _ = writeln!(w, "    <video><model type='vga'/></video>");
            }
            None => {
                let _ = writeln!(w, "    <serial type='file'>");
                let _ = writeln!(w, "      <source path='{}'/>", path(&self.console_log));
                let _ = writeln!(w, "      <target port='0'/>");
                let _ = writeln!(w, "    </serial>");
                let _ = writeln!(w, "    <console type='file'>");
                let _ = writeln!(w, "      <source path='{}'/>", path(&self.console_log));
                let _ = writeln!(w, "      <target type='serial' port='0'/>");
                let _ = writeln!(w, "    </console>");
            }
        }
        if self.guest_agent {
            let _ = writeln!(w, "    <channel type='unix'>");
            let _ = writeln!(
                w,
                "      <target type='virtio' name='org.qemu.guest_agent.0'/>"
            );
            let _ = writeln!(w, "    </channel>");
        }
        // No USB: nothing here uses it, and the firmware probing it slows every boot.
        let _ = writeln!(w, "    <controller type='usb' model='none'/>");
        let _ = writeln!(w, "    <memballoon model='none'/>");
        let _ = writeln!(w, "  </devices>");
        let _ = writeln!(w, "</domain>");
        Ok(x)
    }
}

/// Replaces the element `tag` (from `<tag` to its `</tag>`) with `with`, or inserts `with`
/// before `before` when there is none. `None` for `with` removes it.
fn replace_element(xml: &str, tag: &str, with: Option<&str>, before: &str) -> Result<String> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let start = xml
        .match_indices(&open)
        .map(|(i, _)| i)
        .find(|i| matches!(xml.as_bytes().get(i + open.len()), Some(b' ' | b'>')));
    match start {
        Some(start) => {
            let end = xml[start..]
                .find(&close)
                .map(|e| start + e + close.len())
                .ok_or_else(|| Error::unexpected(format!("domain XML has an unclosed <{tag}>")))?;
            Ok(format!(
                "{}{}{}",
                &xml[..start],
                with.unwrap_or(""),
                &xml[end..]
            ))
        }
        None => match with {
            None => Ok(xml.to_string()),
            Some(w) => {
                let at = xml.find(before).ok_or_else(|| {
                    Error::unexpected(format!("domain XML has no {before} to put <{tag}> before"))
                })?;
                Ok(format!("{}{w}\n  {}", &xml[..at], &xml[at..]))
            }
        },
    }
}

/// The domain's XML with new cpus and memory: vcpus, their quota, memory and current memory.
pub fn resized_xml(xml: &str, cpus: f64, memory: u64) -> Result<String> {
    let (count, quota) = vcpus(cpus)?;
    let kib = memory.div_ceil(1024);
    let xml = replace_element(
        xml,
        "memory",
        Some(&format!("<memory unit='KiB'>{kib}</memory>")),
        "<vcpu",
    )?;
    let xml = replace_element(
        &xml,
        "currentMemory",
        Some(&format!("<currentMemory unit='KiB'>{kib}</currentMemory>")),
        "<vcpu",
    )?;
    let xml = replace_element(
        &xml,
        "vcpu",
        Some(&format!("<vcpu placement='static'>{count}</vcpu>")),
        "<os>",
    )?;
    let tune =
        quota.map(|q| format!("<cputune><period>{PERIOD_US}</period><quota>{q}</quota></cputune>"));
    replace_element(&xml, "cputune", tune.as_deref(), "<os>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DomainSpec {
        DomainSpec {
            name: "web".into(),
            accel: Accel::Tcg,
            machine: "pc".into(),
            emulator: None,
            cpus: 1.5,
            memory: 512 << 20,
            disks: vec![DiskDevice {
                file: "/pool/0123456789abcdef.qcow2".into(),
                format: DiskFormat::Qcow2,
            }],
            cdrom: None,
            boot: Boot::Disk,
            network: Network::User,
            console_log: "/state/consoles/web.log".into(),
            consoles: None,
            guest_agent: true,
            meta: Meta {
                image: "debian".into(),
                labels: BTreeMap::from([("tier".into(), "a<b & \"c\"".into())]),
                cpus: 1.5,
                created_at: 1_700_000_000,
                disks: vec!["web-root".into()],
                disk_size: Some(10 << 30),
            },
        }
    }

    #[test]
    fn consoles_listen_on_sockets_only_and_the_serial_port_still_logs() {
        let mut s = spec();
        s.consoles = Some(ConsoleSockets {
            serial: "/state/consoles/web.serial".into(),
            vnc: "/state/consoles/web.vnc".into(),
        });
        let xml = s.to_xml().unwrap();
        for part in [
            "<serial type='unix'>",
            "<source mode='bind' path='/state/consoles/web.serial'/>",
            "<log file='/state/consoles/web.log' append='on'/>",
            "<console type='unix'>",
            "<graphics type='vnc' socket='/state/consoles/web.vnc'/>",
            "<model type='vga'/>",
        ] {
            assert!(xml.contains(part), "missing {part} in\n{xml}");
        }
        // Nothing listens on the network: not a VNC port, not a serial port.
        assert!(
            !xml.contains("port='59") && !xml.contains("autoport") && !xml.contains("type='tcp'"),
            "{xml}"
        );
        assert!(!spec().to_xml().unwrap().contains("<graphics"));
    }

    #[test]
    fn fractional_cpus_become_whole_vcpus_with_a_quota() {
        assert_eq!(vcpus(1.0).unwrap(), (1, None));
        assert_eq!(vcpus(0.5).unwrap(), (1, Some(50_000)));
        assert_eq!(vcpus(1.5).unwrap(), (2, Some(75_000)));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1000.0] {
            assert!(vcpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_disk_boot_with_user_network_and_guest_agent() {
        let xml = spec().to_xml().unwrap();
        for part in [
            "<domain type='qemu'>",
            "<name>web</name>",
            "<memory unit='KiB'>524288</memory>",
            "<vcpu placement='static'>2</vcpu>",
            "<quota>75000</quota>",
            "<type arch='x86_64' machine='pc'>hvm</type>",
            "<boot dev='hd'/>",
            "<features><acpi/><apic/></features>",
            "<driver name='qemu' type='qcow2'/>",
            "<source file='/pool/0123456789abcdef.qcow2'/>",
            "<target dev='vda' bus='virtio'/>",
            "<interface type='user'>",
            "<source path='/state/consoles/web.log'/>",
            "name='org.qemu.guest_agent.0'",
            "<controller type='usb' model='none'/>",
        ] {
            assert!(xml.contains(part), "missing {part} in\n{xml}");
        }
        assert!(
            !xml.contains("<kernel>") && !xml.contains("device='cdrom'"),
            "{xml}"
        );
    }

    #[test]
    fn kvm_kernel_boot_iso_and_bridge() {
        let mut s = spec();
        s.accel = Accel::Kvm;
        s.cpus = 2.0;
        s.boot = Boot::Kernel {
            kernel: "/boot/vmlinuz".into(),
            initrd: Some("/boot/initrd.gz".into()),
            cmdline: "console=ttyS0 root=/dev/vda".into(),
        };
        s.cdrom = Some("/isos/install.iso".into());
        s.network = Network::Bridge("br0".into());
        s.guest_agent = false;
        let xml = s.to_xml().unwrap();
        for part in [
            "<domain type='kvm'>",
            "<vcpu placement='static'>2</vcpu>",
            "<kernel>/boot/vmlinuz</kernel>",
            "<initrd>/boot/initrd.gz</initrd>",
            "<cmdline>console=ttyS0 root=/dev/vda</cmdline>",
            "<source file='/isos/install.iso'/>",
            "<readonly/>",
            "<source bridge='br0'/>",
        ] {
            assert!(xml.contains(part), "missing {part} in\n{xml}");
        }
        assert!(
            !xml.contains("<cputune>") && !xml.contains("guest_agent"),
            "{xml}"
        );
    }

    #[test]
    fn resizing_rewrites_cpus_memory_and_the_quota() {
        let xml = spec().to_xml().unwrap();
        let bigger = resized_xml(&xml, 4.0, 1 << 30).unwrap();
        assert!(
            bigger.contains("<memory unit='KiB'>1048576</memory>"),
            "{bigger}"
        );
        assert!(bigger.contains("<currentMemory unit='KiB'>1048576</currentMemory>"));
        assert!(bigger.contains("<vcpu placement='static'>4</vcpu>"));
        assert!(
            !bigger.contains("<cputune>"),
            "whole cpus need no quota: {bigger}"
        );
        let half = resized_xml(&bigger, 0.5, 64 << 20).unwrap();
        assert!(half.contains("<vcpu placement='static'>1</vcpu>"));
        assert!(half.contains("<quota>50000</quota>"), "{half}");
        assert!(half.find("<cputune>").unwrap() < half.find("<os>").unwrap());
        // Everything else stays.
        assert!(half.contains("<source file='/pool/0123456789abcdef.qcow2'/>"));
        assert_eq!(half.matches("<memory ").count(), 1);
        // libvirt's own layout: attributes and line breaks of its choosing.
        let theirs = "<domain type='qemu'>\n  <name>w</name>\n  <memory unit='KiB'>65536</memory>\n  <currentMemory unit='KiB'>65536</currentMemory>\n  <vcpu placement='static'>1</vcpu>\n  <cputune>\n    <period>100000</period>\n    <quota>50000</quota>\n  </cputune>\n  <os>\n  </os>\n</domain>";
        let out = resized_xml(theirs, 2.0, 128 << 20).unwrap();
        assert!(
            out.contains("<vcpu placement='static'>2</vcpu>") && !out.contains("quota"),
            "{out}"
        );
        assert!(resized_xml(theirs, 0.0, 1).is_err());
    }

    #[test]
    fn names_and_labels_are_escaped_and_metadata_round_trips() {
        let mut s = spec();
        s.network = Network::Bridge("br0'/><evil/>".into());
        let xml = s.to_xml().unwrap();
        assert!(!xml.contains("<evil/>"), "{xml}");
        let element = meta_element(&s.meta);
        assert!(!element[1..].contains("<b"), "{element}");
        assert_eq!(parse_meta(&element).unwrap(), s.meta);
        // libvirt hands the element back with its own prefix and layout.
        let relabelled = element
            .replace("nubes:instance", "n0:instance")
            .replace("xmlns:nubes", "xmlns:n0");
        assert_eq!(parse_meta(&format!("{relabelled}\n")).unwrap(), s.meta);
    }
}
