import { describe, expect, it } from "vitest";
import { rates } from "./components/Sparkline";
import { byDay, type Usage } from "./components/UsageChart";

const cost = (cpu: string, memory: string) => ({ instance: "0.01", cpu, memory, disk: "0", total: "x" });

describe("usage by day", () => {
  it("sums each day's instances per resource, in day order", () => {
    const usage: Usage = {
      from: "2026-12-01",
      to: "2026-12-06",
      total: cost("0", "0"),
      days: [
        { day: "2026-12-03", instance_id: "a", name: "a", cost: cost("0.5", "0.25") },
        { day: "2026-12-01", instance_id: "a", name: "a", cost: cost("1", "0") },
        { day: "2026-12-03", instance_id: "b", name: "b", cost: cost("0.25", "0.25") },
      ],
    };
    const days = byDay(usage);
    expect(days.map((d) => d.day)).toEqual(["2026-12-01", "2026-12-03"]);
    expect(days[1].parts).toEqual({ instance: 0.02, cpu: 0.75, memory: 0.5, disk: 0 });
    expect(days[1].total).toBeCloseTo(1.27);
  });
});


describe("network rates", () => {
  it("are the counters' growth per second, never negative across a restart", () => {
    expect(rates([0, 200, 600, 100], 2)).toEqual([100, 200, 0]);
    expect(rates([5], 2)).toEqual([]);
  });
});
