import { describe, expect, it } from "vitest";
import { empty, ordered, reduce } from "./events";
import type { Event, Instance } from "./types";

const web: Instance = {
  id: "i-1", name: "web", org_id: "o", owner_id: "u", state: "creating", exit_code: null,
  image: "nginx", cpus: 1, memory: 256 << 20, labels: {},
  consoles: [], created_at: 100,
};
const db: Instance = { ...web, id: "i-2", name: "db", state: "running", created_at: 200 };

function ev(kind: string, fields: Partial<Event> = {}): Event {
  return { kind, at: 1, org_id: "o", instance_id: null, name: null, state: null, agent_id: null, ...fields };
}

describe("the event-stream reducer", () => {
  const loaded = reduce(empty, { type: "loaded", instances: [web, db] });

  it("lists newest first", () => {
    expect(ordered(loaded).map((i) => i.name)).toEqual(["db", "web"]);
  });

  it("moves an instance to the state an event names, keeping the rest of it", () => {
    const next = reduce(loaded, { type: "event", event: ev("instance.state", { instance_id: "i-1", state: "running" }) });
    expect(next.byId["i-1"]).toEqual({ ...web, state: "running" });
    expect(next.byId["i-2"]).toBe(db);
    expect(next.stale).toBe(false);
  });

  it("drops a deleted instance", () => {
    const next = reduce(loaded, { type: "event", event: ev("instance.deleted", { instance_id: "i-2" }) });
    expect(Object.keys(next.byId)).toEqual(["i-1"]);
  });

  it("asks for a fetch when an instance it does not know appears, or events were lost", () => {
    const created = reduce(loaded, { type: "event", event: ev("instance.created", { instance_id: "i-3", state: "creating" }) });
    expect(created.stale).toBe(true);
    expect(created.byId).toBe(loaded.byId);
    expect(reduce(loaded, { type: "event", event: ev("lagged", { state: "3 events were dropped" }) }).stale).toBe(true);
    expect(reduce(created, { type: "loaded", instances: [web] }).stale).toBe(false);
  });

  it("ignores what is not about instances, states it does not know, and repeats", () => {
    for (const e of [
      ev("agent.online", { agent_id: "a" }),
      ev("instance.state", { instance_id: "i-1", state: "exploded" }),
      ev("instance.state", { instance_id: "i-2", state: "running" }),
      ev("instance.deleted", { instance_id: "i-9" }),
    ]) {
      expect(reduce(loaded, { type: "event", event: e })).toBe(loaded);
    }
  });

  it("takes a stop for lack of credits as a state change", () => {
    const next = reduce(loaded, {
      type: "event",
      event: ev("billing.insufficient_credits", { instance_id: "i-2", state: "stopped" }),
    });
    expect(next.byId["i-2"].state).toBe("stopped");
  });
});
