// The API's views, as the server sends them (api/src/*.rs).

export type State =
  | "queued" | "creating" | "running" | "paused" | "restarting" | "stopping" | "stopped"
  | "deleting" | "failed" | "unknown";

export interface Instance {
  id: string;
  name: string;
  org_id: string;
  owner_id: string;
  state: State;
  exit_code: number | null;
  image: string;
  cpus: number | null;
  memory: number | null;
  labels: Record<string, string>;
  created_at: number;
  /** The consoles it can be attached to now (a running VM's). */
  consoles: ("serial" | "vnc")[];
}

export interface CreateInstance {
  name: string;
  image: string;
  org_id?: string;
  cpus?: number;
  memory?: number;
  disk?: number;
  command?: string[];
  env?: Record<string, string>;
  priority?: number;
  cluster_id?: string;
  vm?: { iso?: string; kernel?: string; initrd?: string; network?: string };
}

export interface DryRun {
  placement: "placed" | "queued" | "refused" | "direct";
  agent_id: string | null;
  placement_message: string | null;
  within_plan: boolean;
  plan_message: string | null;
  hourly: string;
  due_now: string | null;
  balance: string | null;
  cpus: number | null;
  memory: number | null;
}

export interface Event {
  kind: string;
  at: number;
  org_id: string | null;
  instance_id: string | null;
  name: string | null;
  state: string | null;
  agent_id: string | null;
  user_id?: string;
  /** disk.converting: the disk being copied (`name` is the new one's) and how far, in percent. */
  disk_id?: string;
  progress?: number;
}

export interface Org {
  id: string;
  name: string;
  role: "viewer" | "member" | "admin";
  created_at: number;
}

export interface ExecEnd {
  exit_code?: number;
  error?: { kind: string; message: string };
}
