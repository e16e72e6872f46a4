use std::time::{Duration, Instant};

use futures::StreamExt;

use super::{
    ensure, expect_kind, CaseResult, Failure, Fixture, Report, Runner, KIT_LABEL, READY_LINE,
};
use crate::compute::*;
use crate::{wait_for, ErrorKind, Result, WaitCondition};

const MIB: u64 = 1 << 20;

/// Runs the Compute suite.
pub async fn compute(c: &dyn Compute, fx: &Fixture) -> Report {
    let cap = c.capability();
    let mut r = Runner::new("compute", c.provider(), fx);
    r.case("lifecycle", lifecycle(c, fx)).await;
    r.case("bad_input_creates_nothing", bad_input(c, fx)).await;
    r.case("duplicate_name", duplicate(c, fx)).await;
    r.case("missing_instance", missing(c, fx)).await;
    r.case("list_filters", list_filters(c, fx)).await;
    r.case("unsupported_operations", unsupported(c, fx)).await;
    if cap.exec {
        r.case("exec", exec(c, fx)).await;
    } else {
        r.skip("exec", "capability exec is off");
    }
    if cap.exec_stream {
        r.case("exec_stream", exec_stream(c, fx)).await;
    } else {
        r.skip("exec_stream", "capability exec_stream is off");
    }
    if cap.logs {
        r.case("logs", logs(c, fx)).await;
    } else {
        r.skip("logs", "capability logs is off");
    }
    if cap.stats {
        r.case("stats", stats(c, fx)).await;
    } else {
        r.skip("stats", "capability stats is off");
    }
    if cap.resize {
        r.case("resize", resize(c, fx)).await;
    } else {
        r.skip("resize", "capability resize is off");
    }
    r.case("disk_limit", disk_limit(c, fx)).await;
    if cap.console || cap.vnc {
        r.case("console", console(c, fx)).await;
    } else {
        r.skip("console", "capabilities console and vnc are off");
    }
    if cap.ports {
        r.case("ports", ports(c, fx)).await;
    } else {
        r.skip("ports", "capability ports is off");
    }
    let cleanup = cleanup(c, fx).await;
    r.finish(cleanup)
}

fn spec(fx: &Fixture, what: &str) -> InstanceSpec {
    let mut s = InstanceSpec::new(fx.name(what), fx.image.clone())
        .command(fx.command.clone())
        .label(KIT_LABEL, fx.prefix());
    s.vm = fx.vm.clone();
    s.cpus = fx.cpus;
    s
}

fn kit_filter(fx: &Fixture) -> ListOptions {
    ListOptions::default().label(KIT_LABEL, fx.prefix())
}

async fn cleanup(c: &dyn Compute, fx: &Fixture) -> Result<()> {
    for i in c.list(kit_filter(fx)).await? {
        match c.delete(&i.id, DeleteOptions::force()).await {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

async fn lifecycle(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let name = fx.name("life");
    let inst = c
        .create(spec(fx, "life").cpus(0.5).memory(64 * MIB))
        .await?;
    ensure!(
        inst.state == InstanceState::Running,
        "created instance is {}",
        inst.state
    );
    ensure!(inst.name == name, "name {} != {name}", inst.name);
    // Exactly what was asked, or where instances come in sizes the size that holds it.
    let size = c.fit(Some(0.5), Some(64 * MIB)).await?;
    ensure!(
        inst.cpus == size.cpus && inst.memory == size.memory,
        "cpus {:?} and memory {:?}, want {size:?}",
        inst.cpus,
        inst.memory
    );
    ensure!(
        size.cpus >= Some(0.5) && size.memory >= Some(64 * MIB),
        "a size smaller than asked: {size:?}"
    );
    ensure!(
        inst.labels.get(KIT_LABEL).map(String::as_str) == Some(fx.prefix()),
        "labels {:?}",
        inst.labels
    );
    ensure!(c.get(&inst.id).await?.id == inst.id, "get by id");
    ensure!(c.get(&name).await?.id == inst.id, "get by name");

    expect_kind(
        c.delete(&inst.id, DeleteOptions::default()).await,
        ErrorKind::Conflict,
        "delete running without force",
    )?;
    ensure!(
        c.get(&inst.id).await.is_ok(),
        "refused delete removed the instance"
    );

    let stopped = c
        .stop(&inst.id, StopOptions::timeout(fx.stop_timeout))
        .await?;
    ensure!(
        stopped.state == InstanceState::Stopped,
        "after stop: {}",
        stopped.state
    );
    let again = c
        .stop(&inst.id, StopOptions::timeout(fx.stop_timeout))
        .await?;
    ensure!(
        again.state == InstanceState::Stopped,
        "stop is not idempotent: {}",
        again.state
    );
    let started = c.start(&inst.id).await?;
    ensure!(
        started.state == InstanceState::Running,
        "after start: {}",
        started.state
    );
    let again = c.start(&inst.id).await?;
    ensure!(
        again.state == InstanceState::Running,
        "start is not idempotent: {}",
        again.state
    );
    if c.capability().restart {
        let restarted = c
            .restart(&inst.id, StopOptions::timeout(fx.stop_timeout))
            .await?;
        ensure!(
            restarted.state == InstanceState::Running,
            "after restart: {}",
            restarted.state
        );
    }
    wait_for(
        c,
        &inst.id,
        WaitCondition::State(InstanceState::Running),
        fx.wait_timeout,
    )
    .await?;

    c.delete(&inst.id, DeleteOptions::force()).await?;
    wait_for(c, &inst.id, WaitCondition::Deleted, fx.wait_timeout).await?;
    expect_kind(
        c.get(&inst.id).await,
        ErrorKind::NotFound,
        "get after delete",
    )?;
    expect_kind(
        c.delete(&inst.id, DeleteOptions::force()).await,
        ErrorKind::NotFound,
        "delete twice",
    )?;
    expect_kind(
        c.start(&inst.id).await,
        ErrorKind::NotFound,
        "start after delete",
    )
}

async fn bad_input(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let mut bad = vec![
        ("zero cpus", spec(fx, "bad1").cpus(0.0)),
        ("negative cpus", spec(fx, "bad2").cpus(-1.0)),
        ("zero memory", spec(fx, "bad3").memory(0)),
        ("tiny memory", spec(fx, "bad4").memory(1024)),
        ("empty image", InstanceSpec::new(fx.name("bad5"), "")),
        (
            "invalid name",
            InstanceSpec::new(format!("{} Bad!", fx.prefix()), fx.image.clone()),
        ),
        (
            "reserved label",
            spec(fx, "bad7").label("io.nubes.managed", "x"),
        ),
        ("zero disk", spec(fx, "bad8").disk(0)),
        (
            "malformed scope",
            spec(fx, "bad10").scope(crate::Scope::new("Org/1")),
        ),
    ];
    let mut empty_command = spec(fx, "bad9");
    empty_command.command = Some(Vec::new());
    bad.push(("empty command", empty_command));
    for (what, s) in bad {
        expect_kind(c.create(s).await, ErrorKind::InvalidInput, what)?;
    }
    let name = fx.name("noimage");
    let s = InstanceSpec::new(name.clone(), fx.missing_image.clone()).label(KIT_LABEL, fx.prefix());
    expect_kind(c.create(s).await, ErrorKind::NotFound, "unknown image")?;
    expect_kind(
        c.get(&name).await,
        ErrorKind::NotFound,
        "instance left behind by a failed create",
    )?;
    let left: Vec<String> = c
        .list(kit_filter(fx))
        .await?
        .into_iter()
        .map(|i| i.name)
        .collect();
    ensure!(
        left.iter()
            .all(|n| !n.contains("-bad") && !n.ends_with("-noimage")),
        "failed creates left instances behind: {left:?}"
    );
    Ok(())
}

async fn duplicate(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let first = c.create(spec(fx, "dup")).await?;
    expect_kind(
        c.create(spec(fx, "dup")).await,
        ErrorKind::AlreadyExists,
        "second create with the same name",
    )?;
    ensure!(
        c.get(&first.id).await?.state == InstanceState::Running,
        "the original was disturbed"
    );
    c.delete(&first.id, DeleteOptions::force()).await?;
    Ok(())
}

async fn missing(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let ghost = fx.name("ghost");
    let cap = c.capability();
    expect_kind(c.get(&ghost).await, ErrorKind::NotFound, "get")?;
    expect_kind(c.start(&ghost).await, ErrorKind::NotFound, "start")?;
    expect_kind(
        c.stop(&ghost, StopOptions::default()).await,
        ErrorKind::NotFound,
        "stop",
    )?;
    expect_kind(
        c.delete(&ghost, DeleteOptions::force()).await,
        ErrorKind::NotFound,
        "delete",
    )?;
    if cap.restart {
        expect_kind(
            c.restart(&ghost, StopOptions::default()).await,
            ErrorKind::NotFound,
            "restart",
        )?;
    }
    if cap.exec {
        expect_kind(
            c.exec(&ghost, ExecRequest::new(["true"])).await,
            ErrorKind::NotFound,
            "exec",
        )?;
    }
    if cap.logs {
        expect_kind(
            c.logs(&ghost, LogOptions::default()).await.map(|_| ()),
            ErrorKind::NotFound,
            "logs",
        )?;
    }
    if cap.stats {
        expect_kind(c.stats(&ghost).await, ErrorKind::NotFound, "stats")?;
    }
    if cap.resize {
        expect_kind(
            c.resize(&ghost, ResizeRequest::default().cpus(1.0)).await,
            ErrorKind::NotFound,
            "resize",
        )?;
    }
    Ok(())
}

async fn list_filters(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let a = c.create(spec(fx, "lista").label("tier", "web")).await?;
    let b = c.create(spec(fx, "listb").label("tier", "db")).await?;
    let web: Vec<String> = c
        .list(kit_filter(fx).label("tier", "web"))
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    ensure!(web == vec![a.id.clone()], "label filter returned {web:?}");
    let mut both: Vec<String> = c
        .list(ListOptions::default().name_prefix(fx.name("list")))
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    both.sort();
    let mut want = vec![a.id.clone(), b.id.clone()];
    want.sort();
    ensure!(
        both == want,
        "name prefix filter returned {both:?}, want {want:?}"
    );
    for i in [a, b] {
        c.delete(&i.id, DeleteOptions::force()).await?;
    }
    Ok(())
}

async fn unsupported(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let cap = c.capability();
    let ghost = fx.name("ghost");
    if !cap.exec {
        expect_kind(
            c.exec(&ghost, ExecRequest::new(["true"])).await,
            ErrorKind::Unsupported,
            "exec",
        )?;
    }
    if !cap.logs {
        expect_kind(
            c.logs(&ghost, LogOptions::default()).await.map(|_| ()),
            ErrorKind::Unsupported,
            "logs",
        )?;
    }
    if !cap.stats {
        expect_kind(c.stats(&ghost).await, ErrorKind::Unsupported, "stats")?;
    }
    if !cap.resize {
        expect_kind(
            c.resize(&ghost, ResizeRequest::default().cpus(1.0)).await,
            ErrorKind::Unsupported,
            "resize",
        )?;
    }
    if !cap.restart {
        expect_kind(
            c.restart(&ghost, StopOptions::default()).await,
            ErrorKind::Unsupported,
            "restart",
        )?;
    }
    for kind in [ConsoleKind::Serial, ConsoleKind::Vnc] {
        if !cap.has_console(kind) {
            let input = futures::stream::empty().boxed();
            expect_kind(
                c.console(&ghost, kind, input).await.map(|_| ()),
                ErrorKind::Unsupported,
                kind.as_str(),
            )?;
        }
    }
    Ok(())
}

/// Reads a console until `want` says what came is enough, or the fixture's patience ends.
async fn read_console(
    out: &mut crate::ByteStream,
    fx: &Fixture,
    want: impl Fn(&[u8]) -> bool,
) -> std::result::Result<Vec<u8>, Failure> {
    let deadline = Instant::now() + fx.wait_timeout;
    let mut seen = Vec::new();
    while !want(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, out.next()).await {
            Ok(Some(piece)) => seen.extend_from_slice(&piece?),
            Ok(None) => return Err(Failure(format!("the console ended after {seen:?}"))),
            Err(_) => return Err(Failure(format!("the console said only {seen:?}"))),
        }
    }
    Ok(seen)
}

async fn console(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let cap = c.capability();
    let inst = c.create(spec(fx, "console")).await?;
    wait_for(
        c,
        &inst.id,
        WaitCondition::State(InstanceState::Running),
        fx.wait_timeout,
    )
    .await?;
    // Which consoles an instance has is its own to say (a fleet holds VMs and containers);
    // never one its provider lacks, and on a VM every one its provider has.
    let listed = c.get(&inst.id).await?.consoles;
    for kind in [ConsoleKind::Serial, ConsoleKind::Vnc] {
        ensure!(
            cap.has_console(kind) || !listed.contains(&kind),
            "lists a {kind} console without the capability"
        );
        ensure!(
            fx.vm.is_none() || !cap.has_console(kind) || listed.contains(&kind),
            "a running VM does not list its {kind} console: {listed:?}"
        );
        if cap.has_console(kind) && !listed.contains(&kind) {
            let input = futures::stream::pending().boxed();
            match c.console(&inst.id, kind, input).await {
                Err(e) if matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::Conflict) => {}
                Err(e) => return Err(Failure(format!("an unlisted {kind} console: {e}"))),
                Ok(_) => return Err(Failure(format!("an unlisted {kind} console attached"))),
            }
        }
    }
    if listed.contains(&ConsoleKind::Serial) {
        // The fixture's command writes ticks, on a VM to its serial port.
        let mut out = c
            .console(
                &inst.id,
                ConsoleKind::Serial,
                futures::stream::pending().boxed(),
            )
            .await?;
        read_console(&mut out, fx, |b| text(b).contains("tick")).await?;
        drop(out);
        // Detaching leaves the console free for the next session.
        let mut again = c
            .console(
                &inst.id,
                ConsoleKind::Serial,
                futures::stream::pending().boxed(),
            )
            .await?;
        read_console(&mut again, fx, |b| text(b).contains("tick")).await?;
    }
    if listed.contains(&ConsoleKind::Vnc) {
        // An RFB server speaks first: its protocol version.
        let mut out = c
            .console(
                &inst.id,
                ConsoleKind::Vnc,
                futures::stream::pending().boxed(),
            )
            .await?;
        let hello = read_console(&mut out, fx, |b| b.len() >= 12).await?;
        ensure!(hello.starts_with(b"RFB 003."), "the screen said {hello:?}");
    }
    c.stop(&inst.id, StopOptions::timeout(Duration::from_secs(5)))
        .await?;
    wait_for(
        c,
        &inst.id,
        WaitCondition::State(InstanceState::Stopped),
        fx.wait_timeout,
    )
    .await?;
    for kind in listed {
        let input = futures::stream::pending().boxed();
        expect_kind(
            c.console(&inst.id, kind, input).await.map(|_| ()),
            ErrorKind::Conflict,
            "a stopped instance's console",
        )?;
    }
    c.delete(&inst.id, DeleteOptions::force()).await?;
    Ok(())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn exec(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let inst = c.create(spec(fx, "exec")).await?;
    let out = c
        .exec(&inst.id, ExecRequest::new(["echo", "hello"]))
        .await?;
    ensure!(
        out.exit_code == 0 && text(&out.stdout) == "hello\n" && out.stderr.is_empty(),
        "echo: {out:?}"
    );

    let out = c
        .exec(
            &inst.id,
            ExecRequest::new(["sh", "-c", "echo out; echo err >&2; exit 3"]),
        )
        .await?;
    ensure!(out.exit_code == 3, "exit code {}", out.exit_code);
    ensure!(
        text(&out.stdout) == "out\n" && text(&out.stderr) == "err\n",
        "streams mixed: {out:?}"
    );

    let out = c
        .exec(
            &inst.id,
            ExecRequest::new(["sh", "-c", "echo $NUBES_X; pwd"])
                .env("NUBES_X", "y z")
                .workdir("/tmp"),
        )
        .await?;
    ensure!(
        text(&out.stdout) == "y z\n/tmp\n",
        "env/workdir: {:?}",
        text(&out.stdout)
    );

    if c.capability().exec_stdin {
        let payload = "line one\nline two\n".repeat(1000);
        let out = c
            .exec(&inst.id, ExecRequest::new(["cat"]).stdin(payload.clone()))
            .await?;
        ensure!(
            text(&out.stdout) == payload,
            "stdin came back as {} bytes",
            out.stdout.len()
        );
    }

    expect_kind(
        c.exec(&inst.id, ExecRequest::new(["nubes-no-such-binary"]))
            .await,
        ErrorKind::NotFound,
        "missing binary",
    )?;
    expect_kind(
        c.exec(&inst.id, ExecRequest::new(Vec::<String>::new()))
            .await,
        ErrorKind::InvalidInput,
        "empty command",
    )?;

    let started = Instant::now();
    expect_kind(
        c.exec(
            &inst.id,
            ExecRequest::new(["sleep", "30"]).timeout(Duration::from_secs(1)),
        )
        .await,
        ErrorKind::Timeout,
        "exec past its timeout",
    )?;
    ensure!(
        started.elapsed() < Duration::from_secs(15),
        "timeout took {:?}",
        started.elapsed()
    );

    c.stop(&inst.id, StopOptions::timeout(fx.stop_timeout))
        .await?;
    expect_kind(
        c.exec(&inst.id, ExecRequest::new(["true"])).await,
        ErrorKind::Conflict,
        "exec in a stopped instance",
    )?;
    c.delete(&inst.id, DeleteOptions::force()).await?;
    Ok(())
}

/// The next piece of output, within the fixture's wait.
async fn next_output(stream: &mut ExecStream, fx: &Fixture) -> Result<ExecEvent> {
    match tokio::time::timeout(fx.wait_timeout, stream.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => Err(crate::Error::unexpected("the stream ended early")),
        Err(_) => Err(crate::Error::new(
            ErrorKind::Timeout,
            "no output while the command ran",
        )),
    }
}

async fn exec_stream(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let inst = c.create(spec(fx, "exec-stream")).await?;

    // Each line comes back while stdin is still open: output is not held until the end.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<bytes::Bytes>>();
    let mut stream = c
        .exec_stream(&inst.id, ExecRequest::new(["cat"]), Some(rx.boxed()))
        .await?;
    for line in ["ping\n", "pong\n"] {
        tx.unbounded_send(Ok(line.into()))
            .map_err(|_| crate::Error::unexpected("stdin closed early"))?;
        let mut seen = String::new();
        while seen.len() < line.len() {
            match next_output(&mut stream, fx).await? {
                ExecEvent::Output(chunk) => seen.push_str(&text(&chunk.data)),
                other => return Err(Failure(format!("`cat` ended early: {other:?}"))),
            }
        }
        ensure!(seen == line, "echoed {seen:?} for {line:?}");
    }
    drop(tx);
    let end = next_output(&mut stream, fx).await?;
    ensure!(
        end == ExecEvent::Exit { exit_code: 0 },
        "closing stdin ended `cat` with {end:?}"
    );

    let out = collect_exec(
        c.exec_stream(
            &inst.id,
            ExecRequest::new(["sh", "-c", "echo out; echo err >&2; exit 5"]),
            None,
        )
        .await?,
        None,
    )
    .await?;
    ensure!(
        out.exit_code == 5 && text(&out.stdout) == "out\n" && text(&out.stderr) == "err\n",
        "streamed exec collected as {out:?}"
    );

    // A caller that goes away takes its command with it.
    let mut stream = c
        .exec_stream(
            &inst.id,
            ExecRequest::new(["sh", "-c", "echo started; exec sleep 4242"]),
            None,
        )
        .await?;
    next_output(&mut stream, fx).await?;
    drop(stream);
    let probe = ExecRequest::new(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]);
    let deadline = Instant::now() + fx.wait_timeout;
    loop {
        let out = c.exec(&inst.id, probe.clone()).await?;
        if !text(&out.stdout).contains("sleep 4242") {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the command outlived its dropped stream"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.delete(&inst.id, DeleteOptions::force()).await?;
    Ok(())
}

async fn read_logs(c: &dyn Compute, id: &str, options: LogOptions) -> Result<String> {
    let mut stream = c.logs(id, options).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?.data);
    }
    Ok(text(&out))
}

async fn logs(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let inst = c.create(spec(fx, "logs")).await?;
    let deadline = Instant::now() + fx.wait_timeout;
    loop {
        let all = read_logs(c, &inst.id, LogOptions::default()).await?;
        if all.starts_with(&format!("{READY_LINE}\n")) && all.contains("tick\n") {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "logs never showed the ready line: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = read_logs(c, &inst.id, LogOptions::default().tail(1)).await?;
    ensure!(last == "tick\n", "tail 1 returned {last:?}");

    if c.capability().logs_follow {
        let mut stream = c
            .logs(&inst.id, LogOptions::default().tail(0).follow(true))
            .await?;
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .map_err(|_| Failure("follow yielded nothing within 10s".into()))?;
        let chunk = chunk.ok_or_else(|| Failure("follow stream ended at once".into()))??;
        ensure!(
            text(&chunk.data).contains("tick"),
            "followed {:?}",
            chunk.data
        );
        ensure!(
            chunk.stream == LogStreamKind::Stdout,
            "stdout came as {:?}",
            chunk.stream
        );
    }
    c.delete(&inst.id, DeleteOptions::force()).await?;
    Ok(())
}

async fn stats(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let inst = c
        .create(spec(fx, "stats").memory(64 * MIB).cpus(1.0))
        .await?;
    let s = c.stats(&inst.id).await?;
    ensure!(
        s.memory_limit_bytes == Some(64 * MIB),
        "memory limit {:?}",
        s.memory_limit_bytes
    );
    ensure!(s.memory_bytes > 0, "memory use is zero");
    ensure!(
        s.cpu_percent.is_finite() && s.cpu_percent >= 0.0,
        "cpu {}",
        s.cpu_percent
    );
    c.delete(&inst.id, DeleteOptions::force()).await?;
    Ok(())
}

async fn resize(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let inst = c
        .create(spec(fx, "resize").cpus(0.5).memory(64 * MIB))
        .await?;
    let live = c.capability().resize_live;
    let size = c.fit(Some(1.0), Some(128 * MIB)).await?;
    if !live {
        expect_kind(
            c.resize(&inst.id, ResizeRequest::default().cpus(1.0)).await,
            ErrorKind::Conflict,
            "resize of a running instance without resize_live",
        )?;
        c.stop(&inst.id, StopOptions::timeout(fx.stop_timeout))
            .await?;
    }
    let resized = c
        .resize(
            &inst.id,
            ResizeRequest::default().cpus(1.0).memory(128 * MIB),
        )
        .await?;
    ensure!(
        resized.cpus == size.cpus && resized.memory == size.memory,
        "resize returned {resized:?}, want {size:?}"
    );
    let now = c.get(&inst.id).await?;
    ensure!(
        now.cpus == resized.cpus && now.memory == resized.memory,
        "get after resize {now:?}"
    );
    if !live {
        let started = c.start(&inst.id).await?;
        ensure!(
            started.cpus == resized.cpus && started.memory == resized.memory,
            "started after resize {started:?}"
        );
    }
    if c.capability().stats {
        let s = c.stats(&inst.id).await?;
        ensure!(
            s.memory_limit_bytes == resized.memory,
            "enforced limit {:?}",
            s.memory_limit_bytes
        );
    }
    expect_kind(
        c.resize(&inst.id, ResizeRequest::default().memory(0)).await,
        ErrorKind::InvalidInput,
        "zero memory",
    )?;
    expect_kind(
        c.resize(&inst.id, ResizeRequest::default()).await,
        ErrorKind::InvalidInput,
        "empty resize",
    )?;
    ensure!(
        c.get(&inst.id).await?.memory == resized.memory,
        "a refused resize changed the instance"
    );
    c.delete(&inst.id, DeleteOptions::force()).await?;
    Ok(())
}

async fn ports(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let inst = c
        .create(spec(fx, "ports").port(PortMapping::tcp(8080, None)))
        .await?;
    let got = c.get(&inst.id).await?;
    let p = got.ports.iter().find(|p| p.container_port == 8080);
    ensure!(
        p.is_some_and(|p| p.host_port.is_some()),
        "port 8080 not published: {:?}",
        got.ports
    );
    c.delete(&inst.id, DeleteOptions::force()).await?;
    Ok(())
}

/// With `disk_limit`, the limit is recorded and a write past it fails inside the instance;
/// without, asking for one fails with `Unsupported` and creates nothing.
async fn disk_limit(c: &dyn Compute, fx: &Fixture) -> CaseResult {
    let spec = spec(fx, "disk").disk(64 * MIB);
    if !c.capability().disk_limit {
        expect_kind(
            c.create(spec).await,
            ErrorKind::Unsupported,
            "disk limit without the capability",
        )?;
        return expect_kind(
            c.get(&fx.name("disk")).await,
            ErrorKind::NotFound,
            "instance left behind",
        );
    }
    let inst = c.create(spec).await?;
    ensure!(inst.disk == Some(64 * MIB), "disk {:?}", inst.disk);
    if c.capability().exec {
        let out = c
            .exec(
                &inst.id,
                ExecRequest::new(["sh", "-c", "dd if=/dev/zero of=/big bs=1M count=128"]),
            )
            .await?;
        ensure!(out.exit_code != 0, "wrote 128 MiB past a 64 MiB disk limit");
    }
    c.delete(&inst.id, DeleteOptions::force()).await?;
    Ok(())
}
