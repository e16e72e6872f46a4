import { describe, expect, it } from "vitest";
import { safeNext } from "./router";

describe("where login sends you back to", () => {
  const origin = "http://nubes.test";
  it("follows paths on this site", () => {
    expect(safeNext("/security", origin)).toBe("/security");
    expect(safeNext("/instances/web?tab=logs", origin)).toBe("/instances/web?tab=logs");
  });
  it("never leaves the site", () => {
    for (const next of [null, "", "https://evil.test/", "//evil.test/x", "/\\evil.test", "/\t/evil.test", "javascript:alert(1)"]) {
      expect(safeNext(next, origin)).toBe("/instances");
    }
  });
});
