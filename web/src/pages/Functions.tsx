import { useState, type FormEvent } from "react";
import { api } from "../api";
import { Field, Problem } from "../components/Field";
import { useAction, useGet } from "../fetching";
import { name as checkName, splitCommand } from "../validate";

interface Fn {
  id: string;
  name: string;
  image: string | null;
  handler: string[];
  timeout_secs: number | null;
}
interface Invocation {
  payload: string;
  logs: string;
  error: { message: string } | null;
  duration_ms: number;
}

function text(b64: string): string {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export function Functions() {
  const fns = useGet<Fn[]>("/v1/functions");
  const act = useAction();
  const [form, setForm] = useState({ name: "", image: "", handler: "" });
  const [errors, setErrors] = useState<{ name?: string | null; image?: string | null; handler?: string | null }>({});
  const [payload, setPayload] = useState<Record<string, string>>({});
  const [out, setOut] = useState<Record<string, Invocation>>({});

  async function deploy(e: FormEvent) {
    e.preventDefault();
    const found = {
      name: checkName("function", form.name.trim()),
      image: form.image.trim() ? null : "image is required",
      handler: form.handler.trim() ? null : "the handler is the command that reads the payload on stdin",
    };
    setErrors(found);
    if (found.name || found.image || found.handler) return;
    const body = { name: form.name.trim(), image: form.image.trim(), handler: splitCommand(form.handler) };
    if (await act.run(() => api("POST", "/v1/functions", body))) {
      setForm({ name: "", image: "", handler: "" });
      fns.reload();
    }
  }
  async function invoke(f: Fn) {
    const res = await act.run(async () => {
      const r = await api<Response>("POST", `/v1/functions/${f.id}/invoke`, undefined, true, payload[f.id] ?? "");
      return (await r.json()) as Invocation;
    });
    if (res) setOut({ ...out, [f.id]: res });
  }

  return (
    <section>
      <h1>Functions</h1>
      <form className="card wide" onSubmit={deploy} noValidate aria-label="Deploy a function">
        <div className="grid">
          <Field label="Function name" name="fn-name" value={form.name} error={errors.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          <Field label="Image" name="fn-image" value={form.image} error={errors.image} onChange={(e) => setForm({ ...form, image: e.target.value })} />
          <Field label="Handler" name="fn-handler" value={form.handler} error={errors.handler} hint="e.g. tr a-z A-Z"
            onChange={(e) => setForm({ ...form, handler: e.target.value })} />
        </div>
        <button type="submit" disabled={act.busy}>Deploy</button>
      </form>
      <Problem error={act.error ?? fns.error} />
      {(fns.data ?? []).map((f) => (
        <div className="card wide" key={f.id}>
          <div className="heading">
            <h2>{f.name}</h2>
            <span className="mono hint">{f.image} · {f.handler.join(" ")}</span>
            <button type="button" className="danger" onClick={() =>
              confirm(`Delete ${f.name}?`) && void act.run(() => api("DELETE", `/v1/functions/${f.id}`)).then(fns.reload)}>
              Delete
            </button>
          </div>
          <form className="inline" onSubmit={(e) => { e.preventDefault(); void invoke(f); }}>
            <Field label="Payload" name={`payload-${f.id}`} value={payload[f.id] ?? ""}
              onChange={(e) => setPayload({ ...payload, [f.id]: e.target.value })} />
            <button type="submit" disabled={act.busy}>Invoke</button>
          </form>
          {out[f.id] && (
            <dl className="facts" aria-live="polite">
              <dt>Result</dt>
              <dd className="mono">{text(out[f.id].payload)}</dd>
              {out[f.id].error && (<><dt>Error</dt><dd className="problem">{out[f.id].error!.message}</dd></>)}
              <dt>Took</dt>
              <dd>{out[f.id].duration_ms} ms</dd>
            </dl>
          )}
        </div>
      ))}
    </section>
  );
}
