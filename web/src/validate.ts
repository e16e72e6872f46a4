// What the forms check before anything is sent, with the same rules and words as the server
// (core/src/validate.rs, core/src/units.rs, auth/src/password.rs). The server checks again:
// these only save a round trip and say what is wrong next to the field.

const UNITS: Record<string, number> = {
  "": 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: 2 ** 10, kib: 2 ** 10, mi: 2 ** 20, mib: 2 ** 20, gi: 2 ** 30, gib: 2 ** 30,
  ti: 2 ** 40, tib: 2 ** 40,
};

/** `256Mi`, `1G`, `1048576` as bytes, or why not. */
export function parseSize(input: string): number | string {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  if (!m) return `invalid size \`${input.trim()}\`: expected a number with an optional unit, like 256Mi`;
  const unit = m[2].toLowerCase();
  if (!(unit in UNITS)) {
    return `invalid size \`${input.trim()}\`: unknown unit \`${m[2]}\` (use B, Ki, Mi, Gi, Ti, K, M, G or T)`;
  }
  const bytes = Math.round(Number(m[1]) * UNITS[unit]);
  return Number.isSafeInteger(bytes) ? bytes : `invalid size \`${input.trim()}\`: out of range`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "Ki", "Mi", "Gi", "Ti"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${i ? units[i] : " B"}`;
}

/** A name of an instance, disk, bucket or function: 1-63 of a-z 0-9 - _ . starting and
 *  ending with a letter or digit. */
export function name(what: string, value: string): string | null {
  if (!value) return `${what} name is required`;
  if (value.length > 63) return `${what} name is at most 63 characters`;
  if (!/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/.test(value)) {
    return `${what} name may hold a-z, 0-9, '-', '_' and '.', and starts and ends with a letter or digit`;
  }
  return null;
}

export interface InstanceForm {
  name: string;
  image: string;
  cpus: string;
  memory: string;
  disk: string;
  command: string;
  priority: string;
  /** A cluster of the organization's, by id. */
  cluster: string;
  /** For a VM: files in the provider's boot directory, and its network. */
  kernel: string;
  initrd: string;
  iso: string;
  network: string;
}

export type Errors<T> = Partial<Record<keyof T, string>>;

/** The create form's fields as a request, or what is wrong with each field. */
export function instanceRequest(
  f: InstanceForm,
): { ok: true; request: import("./types").CreateInstance } | { ok: false; errors: Errors<InstanceForm> } {
  const errors: Errors<InstanceForm> = {};
  const request: import("./types").CreateInstance = { name: f.name.trim(), image: f.image.trim() };
  const n = name("instance", request.name);
  if (n) errors.name = n;
  if (!request.image) errors.image = "image is required";
  if (f.cpus.trim()) {
    const c = parseCpus(f.cpus);
    if (typeof c === "string") errors.cpus = c;
    else request.cpus = c;
  }
  for (const field of ["memory", "disk"] as const) {
    if (!f[field].trim()) continue;
    const size = parseSize(f[field]);
    if (typeof size === "string") errors[field] = size;
    else if (field === "memory" && size < 6 * 2 ** 20) errors.memory = "memory must be at least 6Mi";
    else request[field] = size;
  }
  if (f.command.trim()) request.command = splitCommand(f.command);
  if (f.priority.trim()) {
    const p = Number(f.priority);
    if (!Number.isInteger(p) || p < -10 || p > 10) errors.priority = "priority is a whole number from -10 to 10";
    else request.priority = p;
  }
  if (f.cluster.trim()) request.cluster_id = f.cluster.trim();
  const vm: NonNullable<import("./types").CreateInstance["vm"]> = {};
  for (const field of ["kernel", "initrd", "iso"] as const) {
    const file = f[field].trim();
    if (!file) continue;
    if (file.includes("/") || file.includes("\\") || file === "." || file === "..") {
      errors[field] = `${field} must be a file name in the boot directory, not a path`;
    } else vm[field] = file;
  }
  if (vm.initrd && !vm.kernel && !errors.kernel) errors.initrd = "an initrd needs a kernel";
  const network = f.network.trim();
  if (network) {
    const bridge = network.startsWith("bridge:") ? network.slice(7) : null;
    if (network === "user" || network === "none" || (bridge && /^[A-Za-z0-9._-]{1,15}$/.test(bridge))) vm.network = network;
    else errors.network = "network is one of user, none, bridge:NAME";
  }
  if (Object.keys(vm).length) request.vm = vm;
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, request };
}

/** CPUs as a number, or why not. */
export function parseCpus(value: string): number | string {
  const c = Number(value);
  return c > 0 && c <= 1024 ? c : "cpus must be more than 0 and at most 1024";
}

/** The resize form's fields as a request (what is left empty is not changed), or what is
 *  wrong with each field. */
export function resizeRequest(
  f: { cpus: string; memory: string },
): { ok: true; request: { cpus?: number; memory?: number } } | { ok: false; errors: { cpus?: string; memory?: string } } {
  const errors: { cpus?: string; memory?: string } = {};
  const request: { cpus?: number; memory?: number } = {};
  if (f.cpus.trim()) {
    const c = parseCpus(f.cpus);
    if (typeof c === "string") errors.cpus = c;
    else request.cpus = c;
  }
  if (f.memory.trim()) {
    const m = parseSize(f.memory);
    if (typeof m === "string") errors.memory = m;
    else request.memory = m;
  }
  return errors.cpus || errors.memory ? { ok: false, errors } : { ok: true, request };
}

/** `sh -c 'echo hi'` as ["sh", "-c", "echo hi"]: words split on spaces, quotes kept together. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote: string | null = null;
  let any = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (word || any) words.push(word);
      word = "";
      any = false;
    } else {
      word += ch;
    }
  }
  if (word || any) words.push(word);
  return words;
}

/** The server's password rules: 10 or more characters, not one character repeated. */
export function password(value: string): string | null {
  if (value.length < 10) return "the password must be at least 10 characters";
  if (new TextEncoder().encode(value).length > 1024) return "the password must be at most 1024 bytes";
  if ([...value].every((c) => c === value[0])) return "the password must not be one character repeated";
  return null;
}

export function email(value: string): string | null {
  const v = value.trim();
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) && v.length <= 254 ? null : "enter an email address like you@example.com";
}

/** A six-digit code from an authenticator app or an email. */
export function code(value: string): string | null {
  return /^\d{6}$/.test(value.trim()) ? null : "the code is the 6 digits the app or the email shows";
}
