import { useCallback, useEffect, useReducer, useState, type FormEvent } from "react";
import { api } from "../api";
import { Field, Problem } from "../components/Field";
import { Link } from "../components/Link";
import { StateBadge } from "../components/StateBadge";
import { empty, ordered, reduce } from "../events";
import { useEvents } from "../live";
import { navigate } from "../router";
import { useAction, useGet } from "../fetching";
import type { CreateInstance, DryRun, Instance, Org } from "../types";
import { formatBytes, instanceRequest, type Errors, type InstanceForm } from "../validate";

export function Instances() {
  const [list, dispatch] = useReducer(reduce, empty);
  const orgs = useGet<Org[]>("/v1/orgs");
  const orgName = new Map((orgs.data ?? []).map((o) => [o.id, o.name]));
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);

  const load = useCallback(() => {
    api<Instance[]>("GET", "/v1/instances").then(
      (instances) => {
        dispatch({ type: "loaded", instances });
        setError(null);
      },
      setError,
    );
  }, []);
  useEffect(load, [load]);
  useEvents((event) => dispatch({ type: "event", event }), load);
  useEffect(() => {
    if (list.stale) load();
  }, [list.stale, load]);

  return (
    <section>
      <div className="heading">
        <h1>Instances</h1>
        <button type="button" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? "Close" : "New instance"}
        </button>
      </div>
      {creating && (
        <CreateForm
          orgs={orgs.data ?? []}
          onCreated={(i) => {
            dispatch({ type: "changed", instance: i });
            setCreating(false);
          }}
        />
      )}
      <Problem error={error} />
      {ordered(list).length === 0 ? (
        <p className="hint">No instances yet.</p>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Image</th>
              <th scope="col" className="narrow">Organization</th>
              <th scope="col" className="narrow">Size</th>
            </tr>
          </thead>
          <tbody>
            {ordered(list).map((i) => (
              <tr key={i.id} data-instance={i.name}>
                <td>
                  <Link to={`/instances/${encodeURIComponent(i.id)}`}>{i.name}</Link>
                </td>
                <td>
                  <StateBadge state={i.state} />
                </td>
                <td className="mono">{i.image}</td>
                <td className="narrow">{orgName.get(i.org_id) ?? "–"}</td>
                <td className="narrow">
                  {i.cpus ?? "–"} cpu · {i.memory ? formatBytes(i.memory) : "–"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const BLANK: InstanceForm = {
  name: "", image: "", cpus: "", memory: "", disk: "", command: "", priority: "", cluster: "",
  kernel: "", initrd: "", iso: "", network: "",
};

/** The create form: checked here, then priced and placed by the server's dry run, then made. */
function CreateForm({ orgs, onCreated }: { orgs: Org[]; onCreated: (i: Instance) => void }) {
  const [form, setForm] = useState(BLANK);
  // Empty: the caller's personal organization, as the API defaults.
  const [org, setOrg] = useState("");
  const [errors, setErrors] = useState<Errors<InstanceForm>>({});
  const [preview, setPreview] = useState<{ request: CreateInstance; dry: DryRun } | null>(null);
  const { busy, error, run } = useAction();
  const set = (k: keyof InstanceForm) => (e: { target: { value: string } }) => {
    setForm({ ...form, [k]: e.target.value });
    setPreview(null);
  };

  async function check(e: FormEvent) {
    e.preventDefault();
    const out = instanceRequest(form);
    if (!out.ok) {
      setErrors(out.errors);
      return;
    }
    if (org) out.request.org_id = org;
    setErrors({});
    const dry = await run(() => api<DryRun>("POST", "/v1/instances/dry-run", out.request));
    if (dry) setPreview({ request: out.request, dry });
  }

  async function create() {
    if (!preview) return;
    const made = await run(() => api<Instance>("POST", "/v1/instances", preview.request));
    if (made) {
      onCreated(made);
      navigate(`/instances/${encodeURIComponent(made.id)}`);
    }
  }

  const dry = preview?.dry;
  return (
    <form className="card wide" onSubmit={check} noValidate aria-label="New instance">
      <div className="grid">
        <Field label="Name" name="name" value={form.name} error={errors.name} onChange={set("name")} />
        <Field label="Image" name="image" value={form.image} error={errors.image} onChange={set("image")}
          hint="A container image, or a disk image for a VM" />
        <Field label="CPUs" name="cpus" inputMode="decimal" value={form.cpus} error={errors.cpus}
          onChange={set("cpus")} hint="Default 1" />
        <Field label="Memory" name="memory" value={form.memory} error={errors.memory} onChange={set("memory")}
          hint="e.g. 256Mi (default)" />
        <Field label="Disk" name="disk" value={form.disk} error={errors.disk} onChange={set("disk")}
          hint="e.g. 10Gi (optional)" />
        <Field label="Command" name="command" value={form.command} error={errors.command}
          onChange={set("command")} hint="e.g. sleep 3600 (optional)" />
        <Field label="Priority" name="priority" inputMode="numeric" value={form.priority}
          error={errors.priority} onChange={set("priority")} hint="-10 to 10, on a fleet" />
        <Field label="Cluster" name="cluster" value={form.cluster} error={errors.cluster}
          onChange={set("cluster")} hint="A cluster's id, to run in its reserved capacity (optional)" />
        {orgs.length > 1 && (
          <label className="field">
            Organization
            <select value={org} onChange={(e) => { setOrg(e.target.value); setPreview(null); }}>
              <option value="">default (your personal one)</option>
              {orgs.filter((o) => o.role !== "viewer").map((o) => (
                <option key={o.id} value={o.id}>{o.name}</option>
              ))}
            </select>
          </label>
        )}
      </div>
      <details className="vm-options">
        <summary>Virtual machine options</summary>
        <div className="grid">
          <Field label="Kernel" name="kernel" value={form.kernel} error={errors.kernel} onChange={set("kernel")}
            hint="Boot this kernel from the boot directory; the command is its command line" />
          <Field label="Initrd" name="initrd" value={form.initrd} error={errors.initrd} onChange={set("initrd")}
            hint="With a kernel (optional)" />
          <Field label="ISO" name="iso" value={form.iso} error={errors.iso} onChange={set("iso")}
            hint="An installation ISO to boot first (optional)" />
          <Field label="Network" name="network" value={form.network} error={errors.network}
            onChange={set("network")} hint="user (default), none, or bridge:NAME" />
        </div>
      </details>
      {dry && (
        <dl className="preview" aria-live="polite">
          <dt>Placement</dt>
          <dd>
            {dry.placement}
            {dry.placement_message ? ` — ${dry.placement_message}` : ""}
          </dd>
          <dt>Plan</dt>
          <dd>{dry.within_plan ? "within your plan" : dry.plan_message ?? "over your plan"}</dd>
          <dt>Price</dt>
          <dd>
            {dry.hourly} credits an hour{dry.due_now ? `, ${dry.due_now} due now` : ""}
            {dry.balance ? ` (balance ${dry.balance})` : ""}
          </dd>
        </dl>
      )}
      <Problem error={error} />
      <div className="actions">
        <button type="submit" className={dry ? "secondary" : undefined} disabled={busy}>
          Check price and placement
        </button>
        {dry && (
          <button type="button" disabled={busy || !dry.within_plan || dry.placement === "refused"}
            onClick={() => void create()}>
            Create
          </button>
        )}
      </div>
    </form>
  );
}
