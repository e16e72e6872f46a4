import { useRef, useState, type FormEvent } from "react";
import { api } from "../api";
import { Field, Problem } from "../components/Field";
import { useAction, useGet, when } from "../fetching";
import { useEvents } from "../live";
import { formatBytes, name as checkName, parseSize } from "../validate";

interface Disk {
  id: string;
  name: string;
  format: string | null;
  virtual_size: number | null;
  actual_size: number | null;
  created_at: number;
}

const FORMATS = ["qcow2", "raw", "vhdx", "vmdk", "vdi"];

export function Disks() {
  const disks = useGet<Disk[]>("/v1/disks");
  const act = useAction();
  const [form, setForm] = useState({ name: "", format: "qcow2", size: "10Gi" });
  const [errors, setErrors] = useState<{ name?: string | null; size?: string | null }>({});
  const [working, setWorking] = useState<string | null>(null);
  // A conversion's progress comes on the event stream while its request is still out.
  const [percent, setPercent] = useState<number | null>(null);
  const converting = useRef<string | null>(null);
  useEvents((e) => {
    if (e.kind === "disk.converting" && e.name === converting.current && e.progress != null) setPercent(e.progress);
  });

  async function create(e: FormEvent) {
    e.preventDefault();
    const size = parseSize(form.size);
    const found = { name: checkName("disk", form.name.trim()), size: typeof size === "string" ? size : null };
    setErrors(found);
    if (found.name || typeof size === "string") return;
    if (await act.run(() => api("POST", "/v1/disks", { name: form.name.trim(), format: form.format, size }))) {
      setForm({ ...form, name: "" });
      disks.reload();
    }
  }
  /** Runs one change to disk `d`, showing it as under way until the server answers. */
  async function change(d: Disk, what: string, call: () => Promise<unknown>) {
    setWorking(`${what} ${d.name}`);
    await act.run(call);
    setWorking(null);
    disks.reload();
  }
  async function convert(d: Disk, format: string) {
    const target = `${d.name}-${format}`;
    converting.current = target;
    setPercent(null);
    await change(d, `converting to ${target}:`, () => api("POST", `/v1/disks/${d.id}/convert`, { format, target }));
    converting.current = null;
    setPercent(null);
  }

  return (
    <section>
      <h1>Disks</h1>
      <form className="card wide inline" onSubmit={create} noValidate aria-label="New disk">
        <Field label="Disk name" name="disk-name" value={form.name} error={errors.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <label className="field">
          Format
          <select value={form.format} onChange={(e) => setForm({ ...form, format: e.target.value })}>
            {FORMATS.map((f) => <option key={f}>{f}</option>)}
          </select>
        </label>
        <Field label="Size" name="disk-size" value={form.size} error={errors.size} onChange={(e) => setForm({ ...form, size: e.target.value })} />
        <button type="submit" disabled={act.busy}>Create disk</button>
      </form>
      {working && (
        <p role="status">
          {percent == null
            ? <><progress aria-label={working} /> {working}…</>
            : <><progress aria-label={working} value={percent} max={100} /> {working} {percent}%</>}
        </p>
      )}
      <Problem error={act.error ?? disks.error} />
      <table className="list">
        <thead>
          <tr>
            <th scope="col">Disk</th>
            <th scope="col">Format</th>
            <th scope="col">Size</th>
            <th scope="col" className="narrow">Made</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {(disks.data ?? []).map((d) => (
            <tr key={d.id}>
              <td>{d.name}</td>
              <td>{d.format ?? "–"}</td>
              <td>
                {d.virtual_size != null ? formatBytes(d.virtual_size) : "–"}
                {d.actual_size != null && <span className="hint"> ({formatBytes(d.actual_size)} used)</span>}
              </td>
              <td className="narrow">{when(d.created_at)}</td>
              <td className="actions">
                <button type="button" className="secondary" disabled={act.busy} onClick={() => {
                  const size = prompt(`New size of ${d.name}`, d.virtual_size ? formatBytes(d.virtual_size) : "");
                  const bytes = size ? parseSize(size) : null;
                  if (typeof bytes === "number") void change(d, "resizing", () => api("POST", `/v1/disks/${d.id}/resize`, { size: bytes }));
                }}>Resize</button>
                <button type="button" className="secondary" disabled={act.busy} onClick={() => {
                  const format = prompt(`Convert ${d.name} to (${FORMATS.join(", ")})`, "raw");
                  if (format) void convert(d, format.trim());
                }}>Convert</button>
                <button type="button" className="secondary" disabled={act.busy} onClick={() => {
                  const to = prompt(`Rename ${d.name} to`, d.name);
                  if (to && to !== d.name) void change(d, "renaming", () => api("POST", `/v1/disks/${d.id}/rename`, { name: to }));
                }}>Rename</button>
                <button type="button" className="danger" disabled={act.busy} onClick={() =>
                  confirm(`Delete ${d.name}?`) && void change(d, "deleting", () => api("DELETE", `/v1/disks/${d.id}`))}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
