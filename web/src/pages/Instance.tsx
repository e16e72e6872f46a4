import { lazy, Suspense, useCallback, useEffect, useState, type FormEvent } from "react";
import { api } from "../api";
import { Console, SerialConsole } from "../components/Console";
import { Field, Problem } from "../components/Field";
import { Link } from "../components/Link";
import { rates, Sparkline } from "../components/Sparkline";
import { StateBadge } from "../components/StateBadge";
import { Tabs } from "../components/Tabs";
import { useEvents } from "../live";
import { navigate } from "../router";
import type { Instance, State } from "../types";
import { useAction } from "../fetching";
import { formatBytes, resizeRequest } from "../validate";

interface Stats {
  cpu_percent: number;
  memory_bytes: number;
  memory_limit_bytes: number | null;
  network_rx_bytes: number;
  network_tx_bytes: number;
}

// noVNC is most of a screen's weight: it loads when a screen is first shown.
const Screen = lazy(() => import("../components/Screen").then((m) => ({ default: m.Screen })));

type Tab = "console" | "screen" | "serial" | "logs" | "stats" | "resize";

export function InstancePage({ id }: { id: string }) {
  const [instance, setInstance] = useState<Instance | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const { busy, error, run } = useAction();
  const [tab, setTab] = useState<Tab>("console");
  const path = `/v1/instances/${encodeURIComponent(id)}`;

  const load = useCallback(() => {
    api<Instance>("GET", path).then(setInstance, setLoadError);
  }, [path]);
  useEffect(load, [load]);
  useEvents((e) => {
    if (!instance || e.instance_id !== instance.id) return;
    if (e.kind === "instance.deleted") navigate("/instances", true);
    else if (e.state) {
      setInstance({ ...instance, state: e.state as State });
      // Which consoles it has changes with its state.
      load();
    }
  }, load);

  async function act(action: "start" | "stop" | "restart" | "delete") {
    if (action === "delete") {
      if (!confirm(`Delete ${instance?.name}? This cannot be undone.`)) return;
      if ((await run(() => api<void>("DELETE", `${path}?force=true`).then(() => true))) !== undefined) {
        navigate("/instances", true);
      }
      return;
    }
    const changed = await run(() => api<Instance>("POST", `${path}/${action}`));
    if (changed) setInstance(changed);
  }

  if (!instance) {
    return (
      <section>
        <p>
          <Link to="/instances">← Instances</Link>
        </p>
        {loadError ? <Problem error={loadError} /> : <p>Loading…</p>}
      </section>
    );
  }
  const running = instance.state === "running";
  const has = (kind: "serial" | "vnc") => running && (instance.consoles ?? []).includes(kind);
  const tabs: Tab[] = [
    "console",
    ...(has("vnc") ? (["screen"] as const) : []),
    ...(has("serial") ? (["serial"] as const) : []),
    "logs",
    "stats",
    "resize",
  ];
  // A console tab whose console went away (the VM stopped) falls back to the first.
  const shown = tabs.includes(tab) ? tab : "console";
  return (
    <section>
      <p>
        <Link to="/instances">← Instances</Link>
      </p>
      <div className="heading">
        <h1>{instance.name}</h1>
        <StateBadge state={instance.state} />
      </div>
      <dl className="facts">
        <dt>Image</dt>
        <dd className="mono">{instance.image}</dd>
        <dt>Size</dt>
        <dd>
          {instance.cpus ?? "–"} cpu · {instance.memory ? formatBytes(instance.memory) : "–"}
        </dd>
        <dt>Id</dt>
        <dd className="mono">{instance.id}</dd>
      </dl>
      <div className="actions" role="group" aria-label="Instance actions">
        <button type="button" disabled={busy || running} onClick={() => void act("start")}>Start</button>
        <button type="button" disabled={busy || !running} onClick={() => void act("stop")}>Stop</button>
        <button type="button" disabled={busy} onClick={() => void act("restart")}>Restart</button>
        <button type="button" className="danger" disabled={busy} onClick={() => void act("delete")}>Delete</button>
      </div>
      <Problem error={error ?? loadError} />
      <Tabs tabs={tabs} current={shown} label="Instance views" onChange={setTab} />
      <div role="tabpanel">
        {shown === "console" && (running ? <Console instance={instance.id} /> : <p className="hint">Start the instance to open a shell.</p>)}
        {shown === "screen" && has("vnc") && (
          <Suspense fallback={<p className="hint">Loading the screen…</p>}>
            <Screen instance={instance.id} onLost={load} />
          </Suspense>
        )}
        {shown === "serial" && has("serial") && <SerialConsole instance={instance.id} onLost={load} />}
        {shown === "logs" && <Logs path={path} />}
        {shown === "stats" && (running ? <StatsView path={path} /> : <p className="hint">Stats show while it runs.</p>)}
        {shown === "resize" && <Resize path={path} instance={instance} onDone={setInstance} />}
      </div>
    </section>
  );
}

/** The log, followed as it grows (a streamed response read a chunk at a time). */
function Logs({ path }: { path: string }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const stop = new AbortController();
    void (async () => {
      try {
        const res = await api<Response>("GET", `${path}/logs?tail=500&follow=true`, undefined, true);
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          if (stop.signal.aborted) return reader.cancel();
          const { done, value } = await reader.read();
          if (done) return;
          // Bounded: the page keeps the last 200 KB.
          setText((t) => (t + decoder.decode(value, { stream: true })).slice(-200_000));
        }
      } catch (e) {
        if (!stop.signal.aborted) setError(e);
      }
    })();
    return () => stop.abort();
  }, [path]);
  return (
    <>
      <Problem error={error} />
      <pre className="logs" data-testid="logs" tabIndex={0} aria-label="Logs">{text || "No output yet."}</pre>
    </>
  );
}

function StatsView({ path }: { path: string }) {
  const [samples, setSamples] = useState<Stats[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    const tick = () =>
      api<Stats>("GET", `${path}/stats`).then(
        (s) => live && setSamples((all) => [...all.slice(-59), s]),
        (e) => live && setError(e),
      );
    void tick();
    const timer = setInterval(tick, 2000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [path]);
  const last = samples[samples.length - 1];
  const rx = rates(samples.map((s) => s.network_rx_bytes), 2);
  const tx = rates(samples.map((s) => s.network_tx_bytes), 2);
  return (
    <>
      <Problem error={error} />
      {last && (
        <div className="grid">
          <figure>
            <figcaption>CPU: {last.cpu_percent.toFixed(1)}% of a core</figcaption>
            <Sparkline values={samples.map((s) => s.cpu_percent)} label="CPU over the last two minutes" testid="stats-cpu" top={100} />
          </figure>
          <figure>
            <figcaption>
              Memory: {formatBytes(last.memory_bytes)}
              {last.memory_limit_bytes ? ` of ${formatBytes(last.memory_limit_bytes)}` : ""}
            </figcaption>
            <Sparkline values={samples.map((s) => s.memory_bytes)} label="Memory over the last two minutes" testid="stats-memory"
              top={last.memory_limit_bytes ?? undefined} />
          </figure>
          <figure>
            <figcaption>
              Network: {formatBytes(rx[rx.length - 1] ?? 0)}/s in · {formatBytes(tx[tx.length - 1] ?? 0)}/s out
            </figcaption>
            <Sparkline values={rx.map((r, i) => r + (tx[i] ?? 0))} label="Network over the last two minutes" testid="stats-network" />
          </figure>
        </div>
      )}
    </>
  );
}

function Resize({ path, instance, onDone }: { path: string; instance: Instance; onDone: (i: Instance) => void }) {
  const [cpus, setCpus] = useState(instance.cpus?.toString() ?? "");
  const [memory, setMemory] = useState(instance.memory ? formatBytes(instance.memory) : "");
  const [errors, setErrors] = useState<{ cpus?: string; memory?: string }>({});
  const { error, run } = useAction();
  async function submit(e: FormEvent) {
    e.preventDefault();
    const out = resizeRequest({ cpus, memory });
    setErrors(out.ok ? {} : out.errors);
    if (!out.ok) return;
    const resized = await run(() => api<Instance>("POST", `${path}/resize`, out.request));
    if (resized) onDone(resized);
  }
  return (
    <form onSubmit={submit} noValidate className="card">
      <Field label="CPUs" name="cpus" value={cpus} error={errors.cpus} onChange={(e) => setCpus(e.target.value)} />
      <Field label="Memory" name="memory" value={memory} error={errors.memory} onChange={(e) => setMemory(e.target.value)} />
      <Problem error={error} />
      <button type="submit">Resize</button>
    </form>
  );
}
