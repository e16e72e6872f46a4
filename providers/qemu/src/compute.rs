//! Compute over libvirt: each instance a persistent domain whose metadata marks it as ours and
//! holds what libvirt's XML does not (labels, the cpus asked for, the disks it made). libvirt's
//! calls block, so each runs on the blocking pool.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nubes_core::compute::*;
use nubes_core::{ComputeCapability, Disk, DiskFormat, DiskSpec, Error, ErrorKind, Result};
use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::error::ErrorNumber;

use crate::accel::Choice;
use crate::disk::{InUse, QemuDisk};
use crate::domain::{
    self, Boot, ConsoleSockets, DiskDevice, DomainSpec, Meta, Network, METADATA_NS,
};
use crate::SCHEME;

/// The image name that asks for an empty boot disk (for an installation from an ISO).
pub const BLANK: &str = "blank";
const DEFAULT_MEMORY: u64 = nubes_core::compute::DEFAULT_VM_MEMORY;
const DEFAULT_BLANK_DISK: u64 = 10 << 30;

/// How this provider makes its VMs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub accel: Choice,
    /// QEMU's machine type.
    pub machine: String,
    /// The QEMU binary, when libvirt should not pick it.
    pub emulator: Option<PathBuf>,
    /// ISOs, kernels and initrds: a VM names its files in here, never by path.
    pub boot_dir: PathBuf,
    /// Console logs.
    pub state_dir: PathBuf,
    /// Host bridges VMs may join; others are refused.
    pub bridges: Vec<String>,
}

/// VMs on one libvirt connection, their boot disks in a Disk pool.
#[derive(Clone)]
pub struct QemuCompute {
    conn: Connect,
    disk: QemuDisk,
    settings: Arc<Settings>,
    /// libvirt's `test:///` driver: domains without a hypervisor, so no consoles or agents.
    simulated: bool,
    sessions: crate::attach::Sessions,
}

impl std::fmt::Debug for QemuCompute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QemuCompute")
            .field("settings", &self.settings)
            .field("simulated", &self.simulated)
            .finish_non_exhaustive()
    }
}

fn virt_error(e: virt::error::Error) -> Error {
    let kind = match e.code() {
        virt::enumutil::Enum::Known(ErrorNumber::NoDomain) => ErrorKind::NotFound,
        virt::enumutil::Enum::Known(ErrorNumber::OperationInvalid) => ErrorKind::Conflict,
        virt::enumutil::Enum::Known(ErrorNumber::NoSupport) => ErrorKind::Unsupported,
        virt::enumutil::Enum::Known(ErrorNumber::NoConnect | ErrorNumber::SystemError) => {
            ErrorKind::Unavailable
        }
        _ => ErrorKind::Unexpected,
    };
    Error::new(kind, format!("libvirt: {}", e.message())).with_provider(SCHEME)
}

fn missing(id: &str) -> Error {
    Error::not_found(format!("instance {id} not found")).with_provider(SCHEME)
}

/// Our record of a domain; `None` for domains that are not Nubes instances.
fn meta_of(dom: &Domain) -> Option<Meta> {
    let element = dom
        .metadata(
            virt::sys::VIR_DOMAIN_METADATA_ELEMENT as i32,
            Some(METADATA_NS),
            0,
        )
        .ok()?;
    domain::parse_meta(&element).ok()
}

fn state_of(dom: &Domain) -> Result<InstanceState> {
    let (state, _) = dom.state().map_err(virt_error)?;
    Ok(match state {
        virt::enumutil::Enum::Known(s) => match s {
            DomainState::Running | DomainState::Blocked => InstanceState::Running,
            DomainState::Paused | DomainState::PMSuspended => InstanceState::Paused,
            DomainState::Shutdown => InstanceState::Stopping,
            DomainState::Shutoff => InstanceState::Stopped,
            DomainState::Crashed => InstanceState::Failed,
            DomainState::NoState => InstanceState::Unknown,
        },
        virt::enumutil::Enum::Unknown(_) => InstanceState::Unknown,
    })
}

fn instance_of(dom: &Domain, meta: &Meta) -> Result<Instance> {
    let uuid = dom.uuid_string().map_err(virt_error)?;
    let name = dom.name().map_err(virt_error)?;
    let info = dom.info().map_err(virt_error)?;
    let mut i = Instance::new(uuid, name, SCHEME);
    i.image = meta.image.clone();
    i.state = state_of(dom)?;
    i.cpus = Some(meta.cpus);
    i.memory = Some(info.max_mem * 1024);
    i.disk = meta.disk_size;
    i.labels = meta.labels.clone();
    i.created_at = DateTime::<Utc>::from_timestamp(meta.created_at, 0);
    Ok(i)
}

/// The domain `id` names (its uuid or its name), if it is one of ours.
fn find(conn: &Connect, id: &str) -> Result<(Domain, Meta)> {
    let dom = if id.len() == 36 && id.bytes().filter(|b| *b == b'-').count() == 4 {
        conn.lookup_domain_by_uuid_string(id)
    } else {
        conn.lookup_domain_by_name(id)
    };
    let dom = dom.map_err(|_| missing(id))?;
    let meta = meta_of(&dom).ok_or_else(|| missing(id))?;
    Ok((dom, meta))
}

fn active(dom: &Domain) -> Result<bool> {
    dom.is_active().map_err(virt_error)
}

impl QemuCompute {
    pub fn open(uri: &str, disk: QemuDisk, settings: Settings) -> Result<Self> {
        virt::error::clear_error_callback();
        let conn = Connect::open(Some(uri)).map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot connect to libvirt at {uri}: {}", e.message()),
            )
            .with_provider(SCHEME)
        })?;
        let simulated = uri.starts_with("test:");
        tracing::info!(accel = ?settings.accel.accel, reason = %settings.accel.reason, "QEMU acceleration");
        Ok(Self {
            conn,
            disk,
            settings: Arc::new(settings),
            simulated,
            sessions: Default::default(),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The Disk provider of the same pool, told which images running VMs hold.
    pub fn disk(&self) -> QemuDisk {
        self.disk
            .clone()
            .with_in_use(Arc::new(Attached(self.conn.clone())))
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || f(&conn))
            .await
            .map_err(|e| Error::unexpected(format!("a libvirt call failed to finish: {e}")))?
    }

    fn console_log(&self, name: &str) -> PathBuf {
        self.settings
            .state_dir
            .join("consoles")
            .join(format!("{name}.log"))
    }

    /// Where a VM's console listens; `None` when the path would not fit a unix socket.
    fn console_socket(&self, name: &str, kind: ConsoleKind) -> Option<PathBuf> {
        let path = self
            .settings
            .state_dir
            .join("consoles")
            .join(format!("{name}.{kind}"));
        (path.as_os_str().len() <= domain::MAX_SOCKET_PATH).then_some(path)
    }

    /// `i` with the consoles it has now: those whose socket QEMU made for it, while it runs.
    fn seen(&self, mut i: Instance) -> Instance {
        if i.state == InstanceState::Running && !self.simulated {
            i.consoles = [ConsoleKind::Serial, ConsoleKind::Vnc]
                .into_iter()
                .filter(|k| self.console_socket(&i.name, *k).is_some_and(|p| p.exists()))
                .collect();
        }
        i
    }

    /// A file in the boot directory; the name was checked to be a plain file name.
    fn boot_file(&self, what: &str, name: &str) -> Result<PathBuf> {
        let path = self.settings.boot_dir.join(name);
        if self.simulated || path.is_file() {
            return Ok(path);
        }
        Err(Error::not_found(format!(
            "{what} {name} is not in the boot directory {}",
            self.settings.boot_dir.display()
        ))
        .with_provider(SCHEME))
    }

    async fn get_by(&self, id: &str) -> Result<Instance> {
        let id = id.to_string();
        self.blocking(move |c| {
            let (dom, meta) = find(c, &id)?;
            instance_of(&dom, &meta)
        })
        .await
        .map(|i| self.seen(i))
    }

    /// The boot disk: an overlay on the image (which stays as it is), or a blank one.
    async fn boot_disk(&self, spec: &InstanceSpec) -> Result<(String, PathBuf, u64)> {
        let name = format!("{}-boot", spec.name);
        let image = if spec.image == BLANK {
            let size = spec.disk.unwrap_or(DEFAULT_BLANK_DISK);
            self.disk
                .create(DiskSpec::new(name.clone(), DiskFormat::Qcow2, size))
                .await?
        } else {
            let base = self.disk.get(&spec.image).await.map_err(|e| match e.kind() {
                ErrorKind::NotFound | ErrorKind::InvalidInput => Error::not_found(format!(
                    "image {} not found: a VM boots from a disk image of this provider, or `{BLANK}`",
                    spec.image
                ))
                .with_provider(SCHEME),
                _ => e,
            })?;
            let size = spec.disk.unwrap_or(base.virtual_size);
            if size < base.virtual_size {
                return Err(Error::invalid_input(format!(
                    "disk {size} is smaller than image {} ({} bytes)",
                    spec.image, base.virtual_size
                )));
            }
            self.disk
                .create(DiskSpec::new(name.clone(), DiskFormat::Qcow2, size).backing(&spec.image))
                .await?
        };
        let record = self.disk.pool().find(&name).await?;
        let file = self.disk.pool().file(&record.id, record.format);
        Ok((name, file, image.virtual_size))
    }

    fn domain_spec(
        &self,
        spec: &InstanceSpec,
        boot_file: PathBuf,
        size: u64,
        disk_name: String,
    ) -> Result<DomainSpec> {
        let vm = spec.vm.clone().unwrap_or_default();
        let kernel = vm
            .kernel
            .as_deref()
            .map(|k| self.boot_file("kernel", k))
            .transpose()?;
        let initrd = vm
            .initrd
            .as_deref()
            .map(|i| self.boot_file("initrd", i))
            .transpose()?;
        let cdrom = vm
            .iso
            .as_deref()
            .map(|i| self.boot_file("iso", i))
            .transpose()?;
        let boot =
            match kernel {
                Some(kernel) => Boot::Kernel {
                    kernel,
                    initrd,
                    cmdline: spec
                        .command
                        .as_ref()
                        .map(|c| c.join(" "))
                        .unwrap_or_else(|| "console=ttyS0".into()),
                },
                None if spec.command.is_some() => return Err(Error::invalid_input(
                    "a VM booted from its disk runs what the disk holds: a command is the kernel \
                     command line, for VMs that boot a kernel directly",
                )),
                None if cdrom.is_some() => Boot::Cdrom,
                None => Boot::Disk,
            };
        let network = match vm.network.as_deref() {
            None | Some("user") => Network::User,
            Some("none") => Network::None,
            Some(n) => {
                let bridge = n.trim_start_matches("bridge:");
                if !self.settings.bridges.iter().any(|b| b == bridge) {
                    return Err(Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "bridge {bridge} is not one this server lets VMs join (its operator lists them: qemu://?bridges=...)"
                        ),
                    )
                    .with_provider(SCHEME));
                }
                Network::Bridge(bridge.to_string())
            }
        };
        Ok(DomainSpec {
            name: spec.name.clone(),
            accel: self.settings.accel.accel,
            machine: self.settings.machine.clone(),
            emulator: self.settings.emulator.clone(),
            cpus: spec.cpus.unwrap_or(nubes_core::compute::DEFAULT_CPUS),
            memory: spec.memory.unwrap_or(DEFAULT_MEMORY),
            disks: vec![DiskDevice {
                file: boot_file,
                format: DiskFormat::Qcow2,
            }],
            cdrom,
            boot,
            network,
            console_log: self.console_log(&spec.name),
            consoles: match (
                self.console_socket(&spec.name, ConsoleKind::Serial),
                self.console_socket(&spec.name, ConsoleKind::Vnc),
            ) {
                (Some(serial), Some(vnc)) if !self.simulated => {
                    Some(ConsoleSockets { serial, vnc })
                }
                _ => None,
            },
            guest_agent: true,
            meta: Meta {
                image: spec.image.clone(),
                labels: spec.labels.clone(),
                cpus: spec.cpus.unwrap_or(nubes_core::compute::DEFAULT_CPUS),
                created_at: Utc::now().timestamp(),
                disks: vec![disk_name],
                disk_size: Some(size),
            },
        })
    }

    /// Asks the guest to power off, then pulls the plug after `timeout`.
    fn stop_domain(dom: &Domain, timeout: Duration) -> Result<()> {
        if !active(dom)? {
            return Ok(());
        }
        if dom.shutdown().is_ok() {
            let deadline = Instant::now() + timeout;
            while Instant::now() < deadline {
                if !active(dom)? {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        match dom.destroy() {
            Ok(()) => Ok(()),
            // It went down by itself meanwhile.
            Err(_) if !active(dom)? => Ok(()),
            Err(e) => Err(virt_error(e)),
        }
    }

    fn guest_agent(&self) -> bool {
        !self.simulated
    }
}

/// Which image files running VMs have attached, from libvirt's own view of them.
#[derive(Clone)]
struct Attached(Connect);

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Attached")
    }
}

#[async_trait]
impl InUse for Attached {
    async fn user_of(&self, file: &std::path::Path) -> Result<Option<String>> {
        let conn = self.0.clone();
        let wanted = format!("file='{}'", domain::escape(&file.display().to_string()));
        tokio::task::spawn_blocking(move || {
            let flags = virt::sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE;
            for dom in conn.list_all_domains(flags).map_err(virt_error)? {
                let xml = dom.xml_desc(0).map_err(virt_error)?;
                if xml.contains(&wanted) || xml.contains(&wanted.replace('\'', "\"")) {
                    return Ok(Some(dom.name().map_err(virt_error)?));
                }
            }
            Ok(None)
        })
        .await
        .map_err(|e| Error::unexpected(format!("a libvirt call failed to finish: {e}")))?
    }
}

#[async_trait]
impl Compute for QemuCompute {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> ComputeCapability {
        let mut cap = ComputeCapability::default();
        cap.restart = true;
        cap.stats = true;
        cap.resize = true;
        // The boot disk's virtual size is a hard limit by construction.
        cap.disk_limit = true;
        cap.console = !self.simulated;
        cap.vnc = !self.simulated;
        cap.logs = !self.simulated;
        cap.logs_follow = !self.simulated;
        cap.exec = self.guest_agent();
        cap.exec_stdin = self.guest_agent();
        cap
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        spec.refuse_volumes(SCHEME)
            .map_err(|e| e.with_provider(SCHEME))?;
        if !spec.ports.is_empty() {
            return Err(Error::unsupported(
                "VMs publish no ports: use a bridged network to reach them",
            )
            .with_provider(SCHEME));
        }
        if spec.pids.is_some() {
            return Err(
                Error::unsupported("a pids limit applies to containers, not VMs")
                    .with_provider(SCHEME),
            );
        }
        domain::vcpus(spec.cpus.unwrap_or(nubes_core::compute::DEFAULT_CPUS))?;
        let name = spec.name.clone();
        let taken = self
            .blocking(move |c| Ok(c.lookup_domain_by_name(&name).is_ok()))
            .await?;
        if taken {
            return Err(Error::already_exists(format!(
                "an instance named {} already exists",
                spec.name
            ))
            .with_provider(SCHEME));
        }
        // Checked before anything is made, so bad input leaves nothing behind.
        self.domain_spec(&spec, PathBuf::new(), 0, String::new())?;
        let (disk_name, file, size) = self.boot_disk(&spec).await?;
        let made = async {
            let xml = self
                .domain_spec(&spec, file, size, disk_name.clone())?
                .to_xml()?;
            tokio::fs::create_dir_all(self.console_log(&spec.name).parent().expect("in a dir"))
                .await
                .map_err(|e| {
                    Error::unexpected(format!("cannot make the console directory: {e}"))
                })?;
            self.blocking(move |c| {
                let dom = c.define_domain_xml(&xml).map_err(virt_error)?;
                if let Err(e) = dom.create() {
                    let _ = dom.undefine();
                    return Err(virt_error(e));
                }
                let meta = meta_of(&dom)
                    .ok_or_else(|| Error::unexpected("libvirt dropped the instance's metadata"))?;
                instance_of(&dom, &meta)
            })
            .await
        };
        match made.await {
            Ok(i) => Ok(self.seen(i)),
            Err(e) => {
                let _ = self.disk.delete(&disk_name).await;
                Err(e)
            }
        }
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        self.get_by(id).await
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        let mut all = self
            .blocking(|c| {
                let mut out = Vec::new();
                for dom in c.list_all_domains(0).map_err(virt_error)? {
                    if let Some(meta) = meta_of(&dom) {
                        match instance_of(&dom, &meta) {
                            Ok(i) => out.push(i),
                            // Undefined between the listing and the look: no longer there to
                            // list, and no reason to fail the rest (an agent would take the
                            // provider for down).
                            Err(e) if e.kind() == ErrorKind::NotFound => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                Ok(out)
            })
            .await?;
        all.retain(|i| options.matches(i));
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all.into_iter().map(|i| self.seen(i)).collect())
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        let id = id.to_string();
        self.blocking(move |c| {
            let (dom, meta) = find(c, &id)?;
            if !active(&dom)? {
                dom.create().map_err(virt_error)?;
            }
            instance_of(&dom, &meta)
        })
        .await
        .map(|i| self.seen(i))
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        let id = id.to_string();
        self.blocking(move |c| {
            let (dom, meta) = find(c, &id)?;
            Self::stop_domain(&dom, options.timeout)?;
            instance_of(&dom, &meta)
        })
        .await
        .map(|i| self.seen(i))
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        let id = id.to_string();
        self.blocking(move |c| {
            let (dom, meta) = find(c, &id)?;
            Self::stop_domain(&dom, options.timeout)?;
            dom.create().map_err(virt_error)?;
            instance_of(&dom, &meta)
        })
        .await
        .map(|i| self.seen(i))
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        let id = id.to_string();
        let meta = self
            .blocking(move |c| {
                let (dom, meta) = find(c, &id)?;
                if active(&dom)? {
                    if !options.force {
                        return Err(Error::conflict(format!(
                            "instance {id} is running: stop it first or delete with force"
                        ))
                        .with_provider(SCHEME));
                    }
                    let _ = dom.destroy();
                }
                dom.undefine().map_err(virt_error)?;
                Ok(meta)
            })
            .await?;
        if !options.keep_disks {
            for disk in &meta.disks {
                match self.disk.delete(disk).await {
                    Err(e) if e.kind() != ErrorKind::NotFound => {
                        tracing::warn!(%disk, error = %e, "a deleted VM's disk stays");
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        if !self.guest_agent() {
            return Err(
                Error::unsupported("exec needs qemu-guest-agent in the guest")
                    .with_provider(SCHEME),
            );
        }
        let id = id.to_string();
        let max = request.max_output;
        self.blocking(move |c| {
            let (dom, _) = find(c, &id)?;
            if !active(&dom)? {
                return Err(
                    Error::conflict(format!("instance {id} is not running")).with_provider(SCHEME)
                );
            }
            crate::agent::exec(&dom, &request).map(|out| out.truncate(max))
        })
        .await
    }

    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        if self.simulated {
            return Err(
                Error::unsupported("a simulated hypervisor has no console").with_provider(SCHEME)
            );
        }
        let instance = self.get_by(id).await?;
        let path = self.console_log(&instance.name);
        crate::console::read(self.clone(), instance.id, path, options).await
    }

    async fn console(
        &self,
        id: &str,
        kind: ConsoleKind,
        input: nubes_core::ByteStream,
    ) -> Result<nubes_core::ByteStream> {
        if self.simulated {
            return Err(
                Error::unsupported("a simulated hypervisor has no console").with_provider(SCHEME)
            );
        }
        let lookup = id.to_string();
        let (name, running, xml) = self
            .blocking(move |c| {
                let (dom, _) = find(c, &lookup)?;
                let name = dom.name().map_err(virt_error)?;
                let xml = dom.xml_desc(0).map_err(virt_error)?;
                Ok((name, active(&dom)?, xml))
            })
            .await?;
        if !running {
            return Err(
                Error::conflict(format!("instance {id} is not running")).with_provider(SCHEME)
            );
        }
        // Older VMs, and those whose socket path would be too long, write only a log.
        let socket = self
            .console_socket(&name, kind)
            .filter(|p| xml.contains(&domain::escape(&p.display().to_string())))
            .ok_or_else(|| {
                Error::unsupported(format!(
                    "instance {id} was made without a {kind} console (before consoles, or with a \
                     state directory too deep for a socket path); recreate it to get one"
                ))
                .with_provider(SCHEME)
            })?;
        let seat = self.sessions.take(&name, kind)?;
        crate::attach::open(&socket, kind, input, seat).await
    }

    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        let id = id.to_string();
        self.blocking(move |c| {
            let (dom, _) = find(c, &id)?;
            let first = dom.info().map_err(virt_error)?;
            let started = Instant::now();
            let mut s = InstanceStats::default();
            s.memory_limit_bytes = Some(first.max_mem * 1024);
            s.memory_bytes = first.memory * 1024;
            if active(&dom)? {
                std::thread::sleep(Duration::from_millis(100));
                let second = dom.info().map_err(virt_error)?;
                let wall = started.elapsed().as_nanos() as f64;
                let busy = second.cpu_time.saturating_sub(first.cpu_time) as f64;
                s.cpu_percent = if wall > 0.0 { busy / wall * 100.0 } else { 0.0 };
                // RSS is what the guest really uses of what it was given.
                if let Ok(stats) = dom.memory_stats(0) {
                    if let Some(rss) = stats
                        .iter()
                        .find(|m| m.tag == virt::sys::VIR_DOMAIN_MEMORY_STAT_RSS)
                    {
                        s.memory_bytes = rss.val * 1024;
                    }
                }
                if let Ok(b) = dom.block_stats("vda") {
                    s.block_read_bytes = b.rd_bytes.max(0) as u64;
                    s.block_write_bytes = b.wr_bytes.max(0) as u64;
                }
            }
            Ok(s)
        })
        .await
    }

    /// Changes cpus and memory of a stopped VM; a running one is a conflict.
    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        let id = id.to_string();
        self.blocking(move |c| {
            let (dom, mut meta) = find(c, &id)?;
            if active(&dom)? {
                return Err(Error::conflict(format!(
                    "instance {id} is running: VMs are resized while stopped"
                ))
                .with_provider(SCHEME));
            }
            let info = dom.info().map_err(virt_error)?;
            let cpus = request.cpus.unwrap_or(meta.cpus);
            let memory = request.memory.unwrap_or(info.max_mem * 1024);
            let xml = dom
                .xml_desc(virt::sys::VIR_DOMAIN_XML_INACTIVE)
                .map_err(virt_error)?;
            let xml = domain::resized_xml(&xml, cpus, memory)?;
            let dom = c.define_domain_xml(&xml).map_err(virt_error)?;
            meta.cpus = cpus;
            dom.set_metadata(
                virt::sys::VIR_DOMAIN_METADATA_ELEMENT as i32,
                Some(&domain::bare_meta_element(&meta)),
                Some(domain::METADATA_PREFIX),
                Some(METADATA_NS),
                virt::sys::VIR_DOMAIN_AFFECT_CONFIG,
            )
            .map_err(virt_error)?;
            let meta = meta_of(&dom).ok_or_else(|| missing(&id))?;
            instance_of(&dom, &meta)
        })
        .await
        .map(|i| self.seen(i))
    }
}
