import { useState, type FormEvent } from "react";
import { api } from "../api";
import { Field, Problem } from "../components/Field";
import { useAction, useGet, when } from "../fetching";

interface ApiToken {
  id: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
  token?: string;
}

/** API tokens: made here (the token is shown once), listed, revoked. */
export function Tokens() {
  const list = useGet<ApiToken[]>("/v1/auth/tokens");
  const act = useAction();
  const [name, setName] = useState("");
  const [made, setMade] = useState<ApiToken | null>(null);
  const [nameError, setNameError] = useState<string | null>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    const n = name.trim();
    setNameError(n && n.length <= 100 ? null : "a name of 1 to 100 characters");
    if (!n || n.length > 100) return;
    const t = await act.run(() => api<ApiToken>("POST", "/v1/auth/tokens", { name: n }));
    if (t) {
      setMade(t);
      setName("");
      list.reload();
    }
  }

  return (
    <section className="card wide">
      <h2>API tokens</h2>
      <p className="hint">For cloudctl, scripts and the Python package. A token is shown once, when it is made.</p>
      <form onSubmit={create} noValidate className="inline">
        <Field label="Token name" name="token-name" value={name} error={nameError} onChange={(e) => setName(e.target.value)} />
        <button type="submit" disabled={act.busy}>Create token</button>
      </form>
      {made?.token && (
        <p className="ok" role="status">
          Token <strong>{made.name}</strong>: <code data-testid="new-token">{made.token}</code> — copy it now.
        </p>
      )}
      <Problem error={act.error ?? list.error} />
      <table className="list">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" className="narrow">Made</th>
            <th scope="col">Last used</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {(list.data ?? []).map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td className="narrow">{when(t.created_at)}</td>
              <td>{when(t.last_used_at)}</td>
              <td>
                <button type="button" className="secondary" aria-label={`Revoke ${t.name}`}
                  onClick={() => void act.run(() => api("DELETE", `/v1/auth/tokens/${t.id}`)).then(list.reload)}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
