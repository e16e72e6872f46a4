import { useState, type FormEvent } from "react";
import { api } from "../api";
import { Field, Problem } from "../components/Field";
import { useAction, useGet, when } from "../fetching";
import type { Org } from "../types";

interface Member {
  user_id: string;
  email: string;
  role: Org["role"];
  joined_at: number;
}

const ROLES: Org["role"][] = ["viewer", "member", "admin"];

export function Orgs() {
  const orgs = useGet<Org[]>("/v1/orgs");
  const act = useAction();
  const [name, setName] = useState("");
  const [code, setCode] = useState("");
  const [open, setOpen] = useState<string | null>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    if (await act.run(() => api<Org>("POST", "/v1/orgs", { name: name.trim() }))) {
      setName("");
      orgs.reload();
    }
  }
  async function join(e: FormEvent) {
    e.preventDefault();
    if (await act.run(() => api("POST", "/v1/orgs/join", { code: code.trim() }).then(() => true))) {
      setCode("");
      orgs.reload();
    }
  }

  return (
    <section>
      <h1>Organizations</h1>
      <div className="grid">
        <form className="card" onSubmit={create}>
          <h2>New organization</h2>
          <Field label="Organization name" name="org-name" required value={name} onChange={(e) => setName(e.target.value)} />
          <button type="submit" disabled={act.busy}>Create</button>
        </form>
        <form className="card" onSubmit={join}>
          <h2>Join with an invite code</h2>
          <Field label="Invite code" name="invite-code" required value={code} onChange={(e) => setCode(e.target.value)} />
          <button type="submit" disabled={act.busy}>Join</button>
        </form>
      </div>
      <Problem error={act.error ?? orgs.error} />
      {(orgs.data ?? []).map((o) => (
        <div className="card wide" key={o.id}>
          <div className="heading">
            <h2>{o.name}</h2>
            <span className="hint">your role: {o.role}</span>
            <button type="button" className="secondary" aria-expanded={open === o.id}
              onClick={() => setOpen(open === o.id ? null : o.id)}>
              {open === o.id ? "Hide members" : "Members and invites"}
            </button>
          </div>
          {open === o.id && <OrgMembers org={o} />}
        </div>
      ))}
    </section>
  );
}

function OrgMembers({ org }: { org: Org }) {
  const members = useGet<Member[]>(`/v1/orgs/${org.id}/members`);
  const act = useAction();
  const [role, setRole] = useState<Org["role"]>("member");
  const [invite, setInvite] = useState<string | null>(null);
  const admin = org.role === "admin";
  return (
    <>
      <Problem error={act.error ?? members.error} />
      <table className="list">
        <thead>
          <tr>
            <th scope="col">Member</th>
            <th scope="col">Role</th>
            <th scope="col" className="narrow">Joined</th>
          </tr>
        </thead>
        <tbody>
          {(members.data ?? []).map((m) => (
            <tr key={m.user_id}>
              <td>{m.email}</td>
              <td>
                {admin ? (
                  <select aria-label={`Role of ${m.email}`} value={m.role}
                    onChange={(e) =>
                      void act.run(() => api("PUT", `/v1/orgs/${org.id}/members/${m.user_id}`, { role: e.target.value }))
                        .then(members.reload)
                    }>
                    {ROLES.map((r) => <option key={r}>{r}</option>)}
                  </select>
                ) : m.role}
              </td>
              <td className="narrow">{when(m.joined_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {admin && (
        <div className="actions">
          <label>
            Invite as{" "}
            <select value={role} onChange={(e) => setRole(e.target.value as Org["role"])}>
              {ROLES.map((r) => <option key={r}>{r}</option>)}
            </select>
          </label>
          <button type="button" disabled={act.busy}
            onClick={() =>
              void act.run(() => api<{ code: string }>("POST", `/v1/orgs/${org.id}/invites`, { role }))
                .then((i) => i && setInvite(i.code))
            }>
            Make an invite code
          </button>
          {invite && <span role="status">Code (shown once): <code data-testid="invite-code">{invite}</code></span>}
        </div>
      )}
    </>
  );
}
