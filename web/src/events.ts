// What the event stream does to the list of instances on screen: a pure reducer, so the same
// events always give the same list (and the tests can say so).

import type { Event, Instance, State } from "./types";

export interface Instances {
  byId: Record<string, Instance>;
  /** Set when events were lost (the server says `lagged`) or an unknown instance appeared:
   *  the list must be fetched again. */
  stale: boolean;
}

export type Action =
  | { type: "loaded"; instances: Instance[] }
  | { type: "event"; event: Event }
  | { type: "changed"; instance: Instance }
  | { type: "removed"; id: string };

export const empty: Instances = { byId: {}, stale: false };

const STATES: State[] = [
  "queued", "creating", "running", "paused", "restarting", "stopping", "stopped", "deleting",
  "failed", "unknown",
];

function asState(s: string | null): State | null {
  return s && (STATES as string[]).includes(s) ? (s as State) : null;
}

export function reduce(now: Instances, action: Action): Instances {
  switch (action.type) {
    case "loaded":
      return { byId: Object.fromEntries(action.instances.map((i) => [i.id, i])), stale: false };
    case "changed":
      return { ...now, byId: { ...now.byId, [action.instance.id]: action.instance } };
    case "removed": {
      if (!(action.id in now.byId)) return now;
      const byId = { ...now.byId };
      delete byId[action.id];
      return { ...now, byId };
    }
    case "event":
      return apply(now, action.event);
  }
}

function apply(now: Instances, e: Event): Instances {
  if (e.kind === "lagged") return { ...now, stale: true };
  if (!e.kind.startsWith("instance.") && e.kind !== "billing.insufficient_credits") return now;
  const id = e.instance_id;
  if (!id) return now;
  if (e.kind === "instance.deleted") return reduce(now, { type: "removed", id });
  const known = now.byId[id];
  const state = asState(e.state);
  if (!known) {
    // A new instance (made here or in another tab): its full view comes from a fetch.
    return e.kind === "instance.created" || state ? { ...now, stale: true } : now;
  }
  if (!state || state === known.state) return now;
  return { ...now, byId: { ...now.byId, [id]: { ...known, state } } };
}

/** The instances in the order the page shows them: newest first. */
export function ordered(now: Instances): Instance[] {
  return Object.values(now.byId).sort((a, b) => b.created_at - a.created_at || a.id.localeCompare(b.id));
}
