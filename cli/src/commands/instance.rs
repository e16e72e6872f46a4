use std::io::Write;

use futures::StreamExt;
use nubes::prelude::*;
use nubes::{
    wait_for, DeleteOptions, ExecEvent, Instance, InstanceState, InstanceStats, ListOptions,
    LogOptions, LogStreamKind, ResizeRequest, StopOptions, WaitCondition,
};

use crate::args::{CreateArgs, ExecArgs, InstanceCmd};
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for Instance {
    const HEADERS: &'static [&'static str] = &[
        "ID", "NAME", "STATE", "IMAGE", "CPUS", "MEMORY", "PORTS", "CREATED",
    ];

    fn row(&self) -> Vec<String> {
        let ports: Vec<String> = self
            .ports
            .iter()
            .map(|p| match p.host_port {
                Some(h) => format!("{h}->{}", p.container_port),
                None => p.container_port.to_string(),
            })
            .collect();
        vec![
            self.id.chars().take(12).collect(),
            self.name.clone(),
            match (self.state, self.exit_code) {
                (nubes::InstanceState::Stopped, Some(code)) => format!("stopped ({code})"),
                (state, _) => state.to_string(),
            },
            self.image.clone(),
            output::or_dash(self.cpus),
            output::bytes(self.memory),
            if ports.is_empty() {
                "-".into()
            } else {
                ports.join(",")
            },
            output::time(self.created_at),
        ]
    }
}

impl Tabular for InstanceStats {
    const HEADERS: &'static [&'static str] = &[
        "CPU %",
        "MEMORY",
        "LIMIT",
        "NET RX",
        "NET TX",
        "BLOCK READ",
        "BLOCK WRITE",
        "PIDS",
    ];

    fn row(&self) -> Vec<String> {
        vec![
            format!("{:.2}", self.cpu_percent),
            output::bytes(Some(self.memory_bytes)),
            output::bytes(self.memory_limit_bytes),
            output::bytes(Some(self.network_rx_bytes)),
            output::bytes(Some(self.network_tx_bytes)),
            output::bytes(Some(self.block_read_bytes)),
            output::bytes(Some(self.block_write_bytes)),
            output::or_dash(self.pids),
        ]
    }
}

pub async fn run(cloud: &Cloud, cmd: InstanceCmd, format: Format) -> Outcome {
    let compute = cloud.compute()?;
    match cmd {
        InstanceCmd::Create(args) => {
            let (wait, timeout) = (args.wait, args.wait_timeout);
            let mut created = compute.create(spec(*args)).await?;
            if wait && created.state != InstanceState::Running {
                let want = WaitCondition::State(InstanceState::Running);
                if let Some(i) = wait_for(compute.as_ref(), &created.id, want, timeout).await? {
                    created = i;
                }
            }
            output::one(format, &created)
        }
        InstanceCmd::List { labels } => {
            let mut options = ListOptions::default();
            options.labels = labels.into_iter().collect();
            output::list(format, &compute.list(options).await?)
        }
        InstanceCmd::Get { id } => output::one(format, &compute.get(&id).await?),
        InstanceCmd::Start { id } => output::one(format, &compute.start(&id).await?),
        InstanceCmd::Stop { id, timeout } => output::one(
            format,
            &compute.stop(&id, StopOptions::timeout(timeout)).await?,
        ),
        InstanceCmd::Restart { id, timeout } => output::one(
            format,
            &compute.restart(&id, StopOptions::timeout(timeout)).await?,
        ),
        InstanceCmd::Delete {
            id,
            force,
            keep_disks,
        } => {
            compute
                .delete(&id, DeleteOptions::new(force, keep_disks))
                .await?;
            eprintln!("deleted instance {id}");
        }
        InstanceCmd::Exec(args) => return exec(compute.as_ref(), args).await,
        InstanceCmd::Logs { id, tail, follow } => {
            let mut options = LogOptions::default().follow(follow);
            options.tail = tail;
            let mut stream = compute.logs(&id, options).await?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                match chunk.stream {
                    LogStreamKind::Stdout => write_all(&mut std::io::stdout(), &chunk.data),
                    LogStreamKind::Stderr => write_all(&mut std::io::stderr(), &chunk.data),
                }
            }
        }
        InstanceCmd::Console { id, kind, listen } => {
            return match kind {
                nubes::ConsoleKind::Serial => serial(compute.as_ref(), &id).await,
                nubes::ConsoleKind::Vnc => screen(compute, id, listen).await,
            }
        }
        InstanceCmd::Stats { id } => output::one(format, &compute.stats(&id).await?),
        InstanceCmd::Resize { id, cpus, memory } => {
            let mut request = ResizeRequest::default();
            request.cpus = cpus;
            request.memory = memory;
            output::one(format, &compute.resize(&id, request).await?)
        }
    }
    Ok(0)
}

fn spec(args: CreateArgs) -> InstanceSpec {
    let mut spec = InstanceSpec::new(args.name, args.image);
    spec.cpus = args.cpus;
    spec.memory = args.memory;
    spec.disk = args.disk;
    spec.pids = args.pids;
    spec.env = args.env.into_iter().collect();
    spec.labels = args.labels.into_iter().collect();
    spec.ports = args.ports;
    spec.volumes = args.volumes;
    spec.command = (!args.command.is_empty()).then_some(args.command);
    spec.priority = args.priority;
    spec.cluster = args.cluster;
    if args.iso.is_some() || args.kernel.is_some() || args.network.is_some() {
        let mut vm = nubes::VmSpec::default();
        vm.iso = args.iso;
        vm.kernel = args.kernel;
        vm.initrd = args.initrd;
        vm.network = args.network;
        spec.vm = Some(vm);
    }
    spec
}

/// Runs the command with output shown as it is written and, with `-i`, this process's stdin
/// fed to it as it arrives; exits with the command's code.
async fn exec(compute: &dyn Compute, args: ExecArgs) -> Outcome {
    let mut request = ExecRequest::new(args.command);
    request.env = args.env.into_iter().collect();
    request.workdir = args.workdir;
    request.timeout = args.timeout;
    let stdin = args.stdin.then(|| {
        tokio_util::io::ReaderStream::new(tokio::io::stdin())
            .map(|piece| piece.map_err(|e| nubes::Error::io(e, "stdin")))
            .boxed()
    });
    let mut events = compute.exec_stream(&args.id, request, stdin).await?;
    while let Some(event) = events.next().await {
        match event? {
            ExecEvent::Output(chunk) => match chunk.stream {
                LogStreamKind::Stdout => write_all(&mut std::io::stdout(), &chunk.data),
                LogStreamKind::Stderr => write_all(&mut std::io::stderr(), &chunk.data),
            },
            ExecEvent::Exit { exit_code } => return Ok(exit_code as i32),
        }
    }
    Err(nubes::Error::unexpected(
        "the command's output ended without an exit code",
    ))
}

/// stdin to the serial console, its output to stdout, until the console ends (the VM stopped).
async fn serial(compute: &dyn Compute, id: &str) -> Outcome {
    let input = tokio_util::io::ReaderStream::new(tokio::io::stdin())
        .map(|piece| piece.map_err(|e| nubes::Error::io(e, "stdin")))
        .boxed();
    let mut output = compute
        .console(id, nubes::ConsoleKind::Serial, input)
        .await?;
    while let Some(piece) = output.next().await {
        write_all(&mut std::io::stdout(), &piece?);
    }
    eprintln!("the console ended");
    Ok(0)
}

/// A local port where each VNC viewer that connects gets a session of the VM's screen.
async fn screen(
    compute: std::sync::Arc<dyn Compute>,
    id: String,
    listen: std::net::SocketAddr,
) -> Outcome {
    if !listen.ip().is_loopback() {
        return Err(nubes::Error::invalid_input(format!(
            "--listen {listen} is not a loopback address: the screen asks no password of its \
             own, so it is served only to this machine"
        )));
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| nubes::Error::io(e, &format!("listening on {listen}")))?;
    let at = listener
        .local_addr()
        .map_err(|e| nubes::Error::io(e, "the listening address"))?;
    eprintln!("serving the screen of {id}: point a VNC viewer at {at} (Ctrl-C ends it)");
    loop {
        let (socket, peer) = listener
            .accept()
            .await
            .map_err(|e| nubes::Error::io(e, "accepting a viewer"))?;
        let (compute, id) = (compute.clone(), id.clone());
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let (input, left) = viewer_input(read);
            match compute.console(&id, nubes::ConsoleKind::Vnc, input).await {
                Ok(mut output) => {
                    use tokio::io::AsyncWriteExt;
                    let relay = async {
                        while let Some(Ok(piece)) = output.next().await {
                            if write.write_all(&piece).await.is_err() {
                                break;
                            }
                        }
                    };
                    // A screen sends nothing unasked, so a viewer that left is seen by its
                    // input ending; dropping the output then gives the VM's seat back.
                    tokio::select! {
                        () = relay => {}
                        _ = left => {}
                    }
                }
                Err(e) => eprintln!("viewer {peer}: {e}"),
            }
        });
    }
}

/// What a viewer sends, and a signal once it stops: its connection closed or failed.
fn viewer_input(
    read: tokio::net::tcp::OwnedReadHalf,
) -> (nubes::ByteStream, tokio::sync::oneshot::Receiver<()>) {
    let (left, gone) = tokio::sync::oneshot::channel();
    let pieces = tokio_util::io::ReaderStream::new(read);
    let input = futures::stream::unfold(Some((pieces, left)), |state| async move {
        let (mut pieces, left) = state?;
        match pieces.next().await {
            Some(Ok(piece)) => Some((Ok(piece), Some((pieces, left)))),
            _ => {
                let _ = left.send(());
                None
            }
        }
    });
    (input.boxed(), gone)
}

fn write_all(w: &mut impl Write, data: &[u8]) {
    // A closed pipe (`| head`) is the reader's choice, not an error worth reporting.
    let _ = w.write_all(data).and_then(|()| w.flush());
}
