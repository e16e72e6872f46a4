// The REST API on this page's origin: JSON in and out, the access token on every call, one
// refresh at a time (a spent refresh token replayed ends the session: the server takes it as
// theft), and the API's own message on every error.

export type Kind =
  | "not_found" | "already_exists" | "invalid_input" | "unsupported" | "permission_denied"
  | "unauthenticated" | "quota_exceeded" | "insufficient_credits" | "conflict" | "rate_limited"
  | "timeout" | "unavailable" | "unexpected";

export class ApiError extends Error {
  constructor(readonly status: number, readonly kind: Kind | string, message: string) {
    super(message);
  }
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export interface User {
  id: string;
  email: string;
  platform_admin: boolean;
  totp_enabled: boolean;
  email_otp: boolean;
  created_at: number;
}

export type LoginOutcome = Tokens | { challenge_token: string; methods: string[] };

const KEY = "nubes.session";

/** The signed-in session, kept in localStorage so tabs share it. */
export const session = {
  get(): Tokens | null {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Tokens) : null;
  },
  set(t: Tokens | null): void {
    if (t) localStorage.setItem(KEY, JSON.stringify(t));
    else localStorage.removeItem(KEY);
    window.dispatchEvent(new Event("nubes-session"));
  },
};

let refreshing: Promise<boolean> | null = null;

/** Trades the refresh token for new tokens once, across this tab's calls and other tabs' (Web
 *  Locks): a tab that waited finds the tokens another already renewed and uses those. */
function refresh(stale: string): Promise<boolean> {
  refreshing ??= (async () => {
    const run = async (): Promise<boolean> => {
      const now = session.get();
      if (!now) return false;
      if (now.access_token !== stale) return true;
      const res = await fetch("/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: now.refresh_token }),
      });
      // Only a refused refresh token ends the session: a busy or restarting server does not.
      if (res.status === 401) session.set(null);
      if (!res.ok) return false;
      session.set((await res.json()) as Tokens);
      return true;
    };
    try {
      return navigator.locks ? await navigator.locks.request("nubes-refresh", run) : await storageLock(run);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** A lock across tabs where Web Locks are missing (plain http on a LAN address is not a secure
 *  context): a claim in localStorage, taken over once it is 10 s old. */
async function storageLock<T>(run: () => Promise<T>): Promise<T> {
  const key = "nubes.refreshing";
  const me = Math.random().toString(36).slice(2);
  for (let i = 0; i < 100; i++) {
    const held = localStorage.getItem(key);
    const [owner, at] = held ? held.split(" ") : ["", "0"];
    if (!owner || Date.now() - Number(at) > 10_000) {
      localStorage.setItem(key, `${me} ${Date.now()}`);
      await new Promise((r) => setTimeout(r, 50));
      if (localStorage.getItem(key)?.startsWith(me + " ")) {
        try {
          return await run();
        } finally {
          localStorage.removeItem(key);
        }
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return run();
}

async function error(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { kind: string; message: string } };
    if (body.error) return new ApiError(res.status, body.error.kind, body.error.message);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, "unexpected", `${res.status} ${res.statusText}`);
}

/** Calls made before there is a session: no token is sent, and a 401 is the answer itself. */
const ANONYMOUS = ["/v1/auth/login", "/v1/auth/register", "/v1/auth/verify-otp"];

/** One call: `body` is sent as JSON (or `bytes` as they are); the answer is parsed JSON, or
 *  undefined for 204, or with `raw` the response itself. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  raw = false,
  bytes?: BodyInit,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const tokens = ANONYMOUS.includes(path) ? null : session.get();
    const headers: Record<string, string> = {};
    if (tokens) headers.Authorization = `Bearer ${tokens.access_token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bytes !== undefined) headers["Content-Type"] = "application/octet-stream";
    const res = await fetch(path, {
      method,
      headers,
      body: bytes ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    if (res.status === 401 && tokens && attempt === 0 && (await refresh(tokens.access_token))) {
      continue;
    }
    if (!res.ok) {
      const e = await error(res);
      if (res.status === 401 && tokens) {
        session.set(null);
      }
      throw e;
    }
    if (raw) return res as unknown as T;
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }
}

/** A fresh-enough access token for a WebSocket (which cannot refresh mid-way). */
export async function socketToken(): Promise<string> {
  await api<User>("GET", "/v1/auth/me");
  const t = session.get();
  if (!t) throw new ApiError(401, "unauthenticated", "signed out");
  return t.access_token;
}

/** A WebSocket on this origin, authenticated the way browsers can: by subprotocol. */
export async function socket(path: string): Promise<WebSocket> {
  const token = await socketToken();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}${path}`, ["nubes", `nubes.bearer.${token}`]);
  ws.binaryType = "arraybuffer";
  return ws;
}

export async function login(email: string, password: string): Promise<LoginOutcome> {
  const out = await api<LoginOutcome>("POST", "/v1/auth/login", { email, password });
  if ("access_token" in out) session.set(out);
  return out;
}

export async function verifyOtp(challenge_token: string, code: string): Promise<void> {
  session.set(await api<Tokens>("POST", "/v1/auth/verify-otp", { challenge_token, code }));
}

export async function logout(): Promise<void> {
  try {
    await api<void>("POST", "/v1/auth/logout");
  } finally {
    session.set(null);
  }
}
