import { useCallback, useEffect, useState } from "react";
import { api } from "./api";

/** GET `path` now and whenever `reload` is called; the data, the API's error and reload. */
export function useGet<T>(path: string | null): { data: T | null; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const reload = useCallback(() => {
    if (!path) return;
    api<T>("GET", path).then(
      (d) => {
        setData(d);
        setError(null);
      },
      setError,
    );
  }, [path]);
  useEffect(reload, [reload]);
  return { data, error, reload };
}

/** Runs `action`, keeping its error to show and whether it is still running. */
export function useAction(): {
  busy: boolean;
  error: unknown;
  run: <T>(action: () => Promise<T>) => Promise<T | undefined>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async <T,>(action: () => Promise<T>) => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}

export function when(unix: number | null | undefined): string {
  return unix ? new Date(unix * 1000).toLocaleString() : "–";
}
