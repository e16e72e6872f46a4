import { useState, type FormEvent } from "react";
import { api, socketToken } from "../api";
import { Field, Problem } from "../components/Field";
import { useAction, useGet } from "../fetching";
import { formatBytes, name as checkName } from "../validate";

interface Bucket {
  id: string;
  name: string;
  created_at: number;
}
interface Page {
  objects: { key: string; size: number; last_modified: string | null }[];
  next: string | null;
}

export function Buckets() {
  const buckets = useGet<Bucket[]>("/v1/buckets");
  const act = useAction();
  const [name, setName] = useState("");
  const [nameError, setNameError] = useState<string | null>(null);
  const [open, setOpen] = useState<Bucket | null>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    const bad = checkName("bucket", name.trim());
    setNameError(bad);
    if (bad) return;
    if (await act.run(() => api("POST", "/v1/buckets", { name: name.trim() }))) {
      setName("");
      buckets.reload();
    }
  }
  return (
    <section>
      <h1>Buckets</h1>
      <form className="card wide inline" onSubmit={create} noValidate aria-label="New bucket">
        <Field label="Bucket name" name="bucket-name" value={name} error={nameError} onChange={(e) => setName(e.target.value)} />
        <button type="submit" disabled={act.busy}>Create bucket</button>
      </form>
      <Problem error={act.error ?? buckets.error} />
      <div className="actions" role="group" aria-label="Buckets">
        {(buckets.data ?? []).map((b) => (
          <button key={b.id} type="button" className={open?.id === b.id ? "" : "secondary"} onClick={() => setOpen(b)}>
            {b.name}
          </button>
        ))}
      </div>
      {open && (
        <Objects key={open.id} bucket={open} onDeleted={() => {
          setOpen(null);
          buckets.reload();
        }} />
      )}
    </section>
  );
}

/** One bucket's objects, a page at a time; uploads show their progress (XHR reports it). */
function Objects({ bucket, onDeleted }: { bucket: Bucket; onDeleted: () => void }) {
  const [cursor, setCursor] = useState<string | null>(null);
  const query = new URLSearchParams({ limit: "100" });
  if (cursor) query.set("continuation", cursor);
  const page = useGet<Page>(`/v1/buckets/${bucket.id}/objects?${query}`);
  const act = useAction();
  const [progress, setProgress] = useState<number | null>(null);
  const object = (key: string) => `/v1/buckets/${bucket.id}/objects/${key.split("/").map(encodeURIComponent).join("/")}`;

  async function upload(file: File) {
    const token = await socketToken();
    await new Promise<void>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", object(file.name));
      xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = (e) => e.lengthComputable && setProgress(Math.round((e.loaded / e.total) * 100));
      xhr.onload = () => {
        if (xhr.status < 300) return resolve();
        try {
          reject(new Error(JSON.parse(xhr.responseText).error.message));
        } catch {
          reject(new Error(`upload failed: ${xhr.status}`));
        }
      };
      xhr.onerror = () => reject(new Error("upload failed: the connection broke"));
      xhr.send(file);
    });
  }

  async function download(key: string) {
    const res = await api<Response>("GET", object(key), undefined, true);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = key.split("/").pop() ?? key;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  return (
    <div className="card wide">
      <div className="heading">
        <h2>{bucket.name}</h2>
        <label className="button secondary">
          Upload a file
          <input type="file" className="sr-only" onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = "";
            if (file) void act.run(() => upload(file)).then(() => { setProgress(null); page.reload(); });
          }} />
        </label>
        <button type="button" className="danger" onClick={() =>
          confirm(`Delete the bucket ${bucket.name}? It must be empty.`) &&
          void act.run(() => api("DELETE", `/v1/buckets/${bucket.id}`).then(() => true)).then((ok) => ok && onDeleted())}>
          Delete bucket
        </button>
      </div>
      {progress !== null && (
        <p role="status"><progress max={100} value={progress} aria-label="Upload progress" /> {progress}%</p>
      )}
      <Problem error={act.error ?? page.error} />
      <table className="list">
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Size</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {(page.data?.objects ?? []).map((o) => (
            <tr key={o.key}>
              <td className="mono">{o.key}</td>
              <td>{formatBytes(o.size)}</td>
              <td className="actions">
                <button type="button" className="secondary" onClick={() => void act.run(() => download(o.key))}>Download</button>
                <button type="button" className="danger" onClick={() =>
                  void act.run(() => api("DELETE", object(o.key))).then(page.reload)}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="actions">
        {cursor && <button type="button" className="secondary" onClick={() => setCursor(null)}>First page</button>}
        {page.data?.next && <button type="button" className="secondary" onClick={() => setCursor(page.data!.next)}>Next page</button>}
      </div>
    </div>
  );
}
