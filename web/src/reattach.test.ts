import { describe, expect, it } from "vitest";
import { reattach } from "./reattach";

describe("reattach", () => {
  it("attaches again when the credential lapsed, not when access ended or the console did", () => {
    expect(reattach(4401, true, 0)).toBe(true);
    expect(reattach(4403, true, 0)).toBe(false);
    expect(reattach(1000, true, 0)).toBe(false);
    expect(reattach(1011, true, 0)).toBe(false);
  });

  it("retries a refused reattach a few times, but never a first attach", () => {
    expect(reattach(1006, false, 0)).toBe(false);
    expect([1, 2, 3, 4].map((n) => reattach(1006, false, n))).toEqual([true, true, true, true]);
    expect(reattach(1006, false, 5)).toBe(false);
  });
});
