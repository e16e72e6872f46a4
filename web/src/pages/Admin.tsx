import { useState, type FormEvent } from "react";
import { api } from "../api";
import { Field, Problem } from "../components/Field";
import { StateBadge } from "../components/StateBadge";
import { Tabs } from "../components/Tabs";
import { useAction, useGet, when } from "../fetching";
import { useEvents, useThrottled } from "../live";
import type { State } from "../types";
import { formatBytes } from "../validate";

interface Resources {
  millicpus: number;
  memory: number;
  disk: number;
}
interface Agent {
  id: string;
  name: string;
  created_at: number;
  revoked: boolean;
  cordoned: boolean;
  state: "online" | "offline" | "never_seen";
  live: null | {
    capacity: Resources;
    free: Resources;
    last_heartbeat_secs: number | null;
    instances: string[];
    backend_error: string | null;
  };
  token?: string;
}
interface AdminUser {
  id: string;
  email: string;
  platform_admin: boolean;
  created_at: number;
  plan: string;
  balance: string;
}
interface AdminInstance {
  id: string;
  name: string;
  org_id: string;
  owner_id: string;
  state: State;
  created_at: number;
  agent_id: string | null;
}
interface Cluster {
  id: string;
  name: string;
  org_id: string;
  cpus: number;
  memory: number;
  gpus: number;
  used_cpus: number;
  used_memory: number;
  queued: string[];
}
interface Queued {
  instance_id: string;
  name: string;
  org_id: string;
  owner_id: string;
  priority: number;
  cluster_id: string | null;
  cpus: number;
  memory: number;
  gpus: number;
}
interface Audit {
  id: string;
  at: number;
  user_id: string | null;
  org_id: string | null;
  action: string;
  resource: string;
  status: number;
  source: string | null;
}

const VIEWS = ["agents", "instances", "clusters", "users", "audit", "billing"] as const;

/** The platform's admin panel: agents live, every instance with its owner and agent, clusters
 *  and the queue, users with their plans and balances, the audit log, credits. */
export function Admin() {
  const [tab, setTab] = useState<(typeof VIEWS)[number]>("agents");
  return (
    <section>
      <h1>Admin</h1>
      <Tabs tabs={VIEWS} current={tab} label="Admin views" onChange={setTab} />
      <div role="tabpanel">
        {tab === "agents" && <Agents />}
        {tab === "instances" && <AllInstances />}
        {tab === "clusters" && <ClustersAndQueue />}
        {tab === "users" && <Users />}
        {tab === "audit" && <AuditLog />}
        {tab === "billing" && <Credits />}
      </div>
    </section>
  );
}

function cpus(r: Resources | undefined): string {
  return r ? `${r.millicpus / 1000} cpu · ${formatBytes(r.memory)}` : "–";
}

function Agents() {
  const agents = useGet<Agent[]>("/v1/admin/agents");
  const act = useAction();
  const [name, setName] = useState("");
  const [issued, setIssued] = useState<Agent | null>(null);
  useEvents((e) => {
    if (e.kind.startsWith("agent.") || e.kind === "instance.admitted") agents.reload();
  }, agents.reload);
  const post = (a: Agent, what: string) =>
    void act.run(() => api("POST", `/v1/admin/agents/${a.id}/${what}`)).then(agents.reload);

  async function issue(e: FormEvent) {
    e.preventDefault();
    const a = await act.run(() => api<Agent>("POST", "/v1/admin/agents", { name: name.trim() }));
    if (a) {
      setIssued(a);
      setName("");
      agents.reload();
    }
  }
  return (
    <>
      <Problem error={act.error ?? agents.error} />
      <table className="list" data-testid="agents">
        <thead>
          <tr>
            <th scope="col">Agent</th>
            <th scope="col">State</th>
            <th scope="col" className="narrow">Capacity</th>
            <th scope="col">Free</th>
            <th scope="col" className="narrow">Heartbeat</th>
            <th scope="col">Instances</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {(agents.data ?? []).map((a) => (
            <tr key={a.id} data-agent={a.name}>
              <td>{a.name}</td>
              <td>
                <span className={`state state-${a.state === "online" ? "running" : "stopped"}`} data-state={a.state}>
                  {a.revoked ? "revoked" : a.state}
                </span>
                {a.cordoned && <span className="hint"> cordoned</span>}
                {a.live?.backend_error && <span className="problem"> {a.live.backend_error}</span>}
              </td>
              <td className="narrow">{cpus(a.live?.capacity)}</td>
              <td>{cpus(a.live?.free)}</td>
              <td className="narrow">{a.live?.last_heartbeat_secs != null ? `${a.live.last_heartbeat_secs}s ago` : "–"}</td>
              <td>{a.live?.instances.length ?? 0}</td>
              <td className="actions">
                {!a.revoked && (
                  <>
                    <button type="button" className="secondary" onClick={() => post(a, a.cordoned ? "uncordon" : "cordon")}>
                      {a.cordoned ? "Uncordon" : "Cordon"}
                    </button>
                    <button type="button" className="secondary" onClick={() => post(a, "drain")}>Drain</button>
                    <button type="button" className="danger"
                      onClick={() => confirm(`Revoke ${a.name}? It is disconnected at once.`) &&
                        void act.run(() => api("DELETE", `/v1/admin/agents/${a.id}`)).then(agents.reload)}>
                      Revoke
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="card" onSubmit={issue}>
        <h2>Add a machine</h2>
        <Field label="Agent name" name="agent-name" required value={name} onChange={(e) => setName(e.target.value)} />
        <button type="submit" disabled={act.busy}>Issue a token</button>
        {issued?.token && (
          <p role="status">
            Run on the machine (the token is shown once):
            <br />
            <code data-testid="agent-command">
              cloudctl agent --server {location.origin} --token {issued.token}
            </code>
          </p>
        )}
      </form>
    </>
  );
}

function AllInstances() {
  const list = useGet<AdminInstance[]>("/v1/admin/instances");
  const users = useGet<AdminUser[]>("/v1/admin/users");
  const agents = useGet<Agent[]>("/v1/admin/agents");
  // Every tenant's instances move this list: at most one look a second.
  const reload = useThrottled(list.reload, 1000);
  useEvents((e) => e.kind.startsWith("instance.") && reload(), reload);
  const email = new Map((users.data ?? []).map((u) => [u.id, u.email]));
  const agent = new Map((agents.data ?? []).map((a) => [a.id, a.name]));
  return (
    <>
      <Problem error={list.error} />
      <table className="list" data-testid="all-instances">
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">State</th>
            <th scope="col">Owner</th>
            <th scope="col">Agent</th>
            <th scope="col" className="narrow">Made</th>
          </tr>
        </thead>
        <tbody>
          {(list.data ?? []).map((i) => (
            <tr key={i.id} data-instance={i.name}>
              <td>{i.name}</td>
              <td><StateBadge state={i.state} /></td>
              <td>{email.get(i.owner_id) ?? i.owner_id}</td>
              <td data-agent={i.agent_id ?? ""}>{i.agent_id ? agent.get(i.agent_id) ?? i.agent_id : "–"}</td>
              <td className="narrow">{when(i.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function ClustersAndQueue() {
  const clusters = useGet<Cluster[]>("/v1/admin/clusters");
  const queue = useGet<Queued[]>("/v1/admin/queue");
  const users = useGet<AdminUser[]>("/v1/admin/users");
  // Every tenant's instances and every agent move these: at most one look a second.
  const reload = useThrottled(() => {
    clusters.reload();
    queue.reload();
  }, 1000);
  useEvents((e) => {
    if (e.kind.startsWith("instance.") || e.kind.startsWith("agent.")) reload();
  }, reload);
  const email = new Map((users.data ?? []).map((u) => [u.id, u.email]));
  const name = new Map((clusters.data ?? []).map((c) => [c.id, c.name]));
  return (
    <>
      <h2>Clusters</h2>
      <Problem error={clusters.error} />
      <table className="list" data-testid="clusters">
        <thead>
          <tr>
            <th scope="col">Cluster</th>
            <th scope="col">Organization</th>
            <th scope="col">Reserved</th>
            <th scope="col">In use</th>
            <th scope="col" className="num">Waiting</th>
          </tr>
        </thead>
        <tbody>
          {(clusters.data ?? []).map((c) => (
            <tr key={c.id} data-cluster={c.name}>
              <td>{c.name}</td>
              <td className="mono">{c.org_id}</td>
              <td>{c.cpus} cpu · {formatBytes(c.memory)}{c.gpus > 0 && ` · ${c.gpus} gpu`}</td>
              <td>{c.used_cpus} cpu · {formatBytes(c.used_memory)}</td>
              <td className="num">{c.queued.length}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {clusters.data?.length === 0 && <p className="hint">No organization has reserved a cluster.</p>}
      <h2>Queue</h2>
      <p className="hint">Instances waiting for capacity, in the order they will start.</p>
      <Problem error={queue.error} />
      <table className="list" data-testid="queue">
        <thead>
          <tr>
            <th scope="col" className="num">#</th>
            <th scope="col">Instance</th>
            <th scope="col">Owner</th>
            <th scope="col" className="num">Priority</th>
            <th scope="col">Waits in</th>
            <th scope="col" className="narrow">Size</th>
          </tr>
        </thead>
        <tbody>
          {(queue.data ?? []).map((q, n) => (
            <tr key={q.instance_id} data-instance={q.name}>
              <td className="num">{n + 1}</td>
              <td>{q.name}</td>
              <td>{email.get(q.owner_id) ?? q.owner_id}</td>
              <td className="num">{q.priority}</td>
              <td>{q.cluster_id ? name.get(q.cluster_id) ?? q.cluster_id : "the fleet"}</td>
              <td className="narrow">{q.cpus} cpu · {formatBytes(q.memory)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {queue.data?.length === 0 && <p className="hint">Nothing is waiting.</p>}
    </>
  );
}

/** The server's largest page of users; a full page means there may be more. */
const USERS_PAGE = 500;

function Users() {
  const first = useGet<AdminUser[]>(`/v1/admin/users?limit=${USERS_PAGE}`);
  const [more, setMore] = useState<AdminUser[][]>([]);
  const next = useAction();
  const pages = first.data ? [first.data, ...more] : [];
  const last = pages[pages.length - 1];
  const users = pages.flat();
  const loadMore = () =>
    next.run(async () => {
      const after = encodeURIComponent(users[users.length - 1].id);
      const page = await api<AdminUser[]>("GET", `/v1/admin/users?limit=${USERS_PAGE}&after=${after}`);
      setMore((m) => [...m, page]);
    });
  return (
    <>
      <Problem error={first.error ?? next.error} />
      <table className="list" data-testid="users">
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Plan</th>
            <th scope="col" className="num">Balance</th>
            <th scope="col">Id</th>
            <th scope="col" className="narrow">Since</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} data-user={u.email}>
              <td>{u.email}{u.platform_admin && <span className="hint"> (admin)</span>}</td>
              <td>{u.plan}</td>
              <td className="num mono">{u.balance}</td>
              <td className="mono">{u.id}</td>
              <td className="narrow">{when(u.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {last && last.length === USERS_PAGE && (
        <p><button type="button" onClick={loadMore} disabled={next.busy}>Load more users</button></p>
      )}
    </>
  );
}

function AuditLog() {
  const [filters, setFilters] = useState({ user_id: "", org_id: "", action: "" });
  const [applied, setApplied] = useState(filters);
  const query = new URLSearchParams({ limit: "200" });
  for (const [k, v] of Object.entries(applied)) if (v.trim()) query.set(k, v.trim());
  const log = useGet<Audit[]>(`/v1/admin/audit?${query}`);
  return (
    <>
      <form className="grid" onSubmit={(e) => { e.preventDefault(); setApplied(filters); }} aria-label="Audit filters">
        <Field label="User id" name="user_id" value={filters.user_id} onChange={(e) => setFilters({ ...filters, user_id: e.target.value })} />
        <Field label="Organization id" name="org_id" value={filters.org_id} onChange={(e) => setFilters({ ...filters, org_id: e.target.value })} />
        <Field label="Action starts with" name="action" value={filters.action} hint="e.g. POST /v1/instances"
          onChange={(e) => setFilters({ ...filters, action: e.target.value })} />
        <div className="actions"><button type="submit">Filter</button></div>
      </form>
      <Problem error={log.error} />
      <table className="list" data-testid="audit">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Status</th>
            <th scope="col" className="narrow">User</th>
            <th scope="col" className="narrow">From</th>
          </tr>
        </thead>
        <tbody>
          {(log.data ?? []).map((a) => (
            <tr key={a.id}>
              <td>{when(a.at)}</td>
              <td className="mono">{a.resource}</td>
              <td>{a.status}</td>
              <td className="narrow mono">{a.user_id ?? "–"}</td>
              <td className="narrow">{a.source ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Top-ups and adjustments of a user's balance, and vouchers. */
function Credits() {
  const act = useAction();
  const [form, setForm] = useState({ user_id: "", amount: "", memo: "" });
  const [done, setDone] = useState<string | null>(null);
  const [vouchers, setVouchers] = useState<string[]>([]);
  const [voucher, setVoucher] = useState({ amount: "", count: "1", memo: "" });
  async function credit(kind: "top-ups" | "adjustments") {
    const tx = await act.run(() => api<{ amount: string }>("POST", `/v1/admin/billing/${kind}`, form));
    if (tx) setDone(`${kind === "top-ups" ? "Topped up" : "Adjusted"} by ${tx.amount} credits`);
  }
  async function makeVouchers(e: FormEvent) {
    e.preventDefault();
    const made = await act.run(() =>
      api<{ code: string }[]>("POST", "/v1/admin/billing/vouchers", {
        amount: voucher.amount.trim(), count: Number(voucher.count) || 1, memo: voucher.memo,
      }),
    );
    if (made) setVouchers(made.map((v) => v.code));
  }
  return (
    <div className="grid">
      <form className="card" onSubmit={(e) => { e.preventDefault(); void credit("top-ups"); }}>
        <h2>Credit a user</h2>
        <Field label="User id" name="credit-user" required value={form.user_id} onChange={(e) => setForm({ ...form, user_id: e.target.value })} />
        <Field label="Amount (credits)" name="credit-amount" required value={form.amount} onChange={(e) => setForm({ ...form, amount: e.target.value })} />
        <Field label="Memo" name="credit-memo" required value={form.memo} onChange={(e) => setForm({ ...form, memo: e.target.value })} />
        <div className="actions">
          <button type="submit" disabled={act.busy}>Top up</button>
          <button type="button" className="secondary" disabled={act.busy} onClick={() => void credit("adjustments")}>Adjust</button>
        </div>
        {done && <p role="status">{done}</p>}
      </form>
      <form className="card" onSubmit={makeVouchers}>
        <h2>Vouchers</h2>
        <Field label="Amount (credits)" name="voucher-amount" required value={voucher.amount} onChange={(e) => setVoucher({ ...voucher, amount: e.target.value })} />
        <Field label="How many" name="voucher-count" inputMode="numeric" value={voucher.count} onChange={(e) => setVoucher({ ...voucher, count: e.target.value })} />
        <Field label="Memo" name="voucher-memo" required value={voucher.memo} onChange={(e) => setVoucher({ ...voucher, memo: e.target.value })} />
        <button type="submit" disabled={act.busy}>Make vouchers</button>
        {vouchers.length > 0 && <p role="status">Codes (shown once): <code>{vouchers.join(" ")}</code></p>}
      </form>
      <Problem error={act.error} />
    </div>
  );
}
