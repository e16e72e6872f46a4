import { describe, expect, it } from "vitest";
import { code, email, formatBytes, instanceRequest, name, parseSize, password, resizeRequest, splitCommand } from "./validate";

const form = {
  name: "web", image: "nginx", cpus: "", memory: "", disk: "", command: "", priority: "", cluster: "",
  kernel: "", initrd: "", iso: "", network: "",
};

describe("sizes", () => {
  it("reads the server's units", () => {
    expect(parseSize("256Mi")).toBe(256 * 2 ** 20);
    expect(parseSize("1G")).toBe(1e9);
    expect(parseSize("1.5Gi")).toBe(1.5 * 2 ** 30);
    expect(parseSize(" 1024 ")).toBe(1024);
  });
  it("says what is wrong", () => {
    expect(parseSize("lots")).toMatch(/expected a number/);
    expect(parseSize("5 parsecs")).toMatch(/unknown unit `parsecs`/);
    expect(parseSize("1e30")).toMatch(/unknown unit|expected/);
  });
  it("formats", () => {
    expect(formatBytes(256 * 2 ** 20)).toBe("256Mi");
    expect(formatBytes(1536)).toBe("1.5Ki");
    expect(formatBytes(12)).toBe("12 B");
  });
});

describe("the create form", () => {
  it("builds the request from what was filled in", () => {
    const out = instanceRequest({ ...form, cpus: "0.5", memory: "64Mi", command: "sh -c 'sleep 600'", priority: "3" });
    expect(out).toEqual({
      ok: true,
      request: { name: "web", image: "nginx", cpus: 0.5, memory: 64 * 2 ** 20, command: ["sh", "-c", "sleep 600"], priority: 3 },
    });
  });
  it("takes a VM's boot files by name and its network, and a cluster", () => {
    const out = instanceRequest({
      ...form, image: "base", kernel: "vmlinuz", initrd: "initrd.gz", network: "none", command: "panic=-1", cluster: " c-1 ",
    });
    expect(out).toEqual({
      ok: true,
      request: {
        name: "web", image: "base", command: ["panic=-1"], cluster_id: "c-1",
        vm: { kernel: "vmlinuz", initrd: "initrd.gz", network: "none" },
      },
    });
    expect(instanceRequest({ ...form, network: "bridge:br0" })).toMatchObject({ ok: true, request: { vm: { network: "bridge:br0" } } });
  });
  it("refuses boot files given as paths, an initrd without a kernel, and unknown networks", () => {
    const out = instanceRequest({ ...form, kernel: "../../etc/passwd", iso: "a\\b.iso", network: "host" });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.errors.kernel).toMatch(/file name in the boot directory/);
    expect(out.errors.iso).toMatch(/file name in the boot directory/);
    expect(out.errors.network).toBe("network is one of user, none, bridge:NAME");
    const lone = instanceRequest({ ...form, initrd: "initrd.gz" });
    expect(lone.ok || lone.errors.initrd).toBe("an initrd needs a kernel");
    expect(instanceRequest({ ...form, network: "bridge:this-name-is-too-long" }).ok).toBe(false);
  });
  it("leaves out what was left empty", () => {
    expect(instanceRequest(form)).toEqual({ ok: true, request: { name: "web", image: "nginx" } });
  });
  it("names every bad field at once", () => {
    const out = instanceRequest({ ...form, name: "Web!", image: " ", cpus: "0", memory: "1Mi", disk: "x", priority: "11" });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(Object.keys(out.errors).sort()).toEqual(["cpus", "disk", "image", "memory", "name", "priority"]);
    expect(out.errors.memory).toBe("memory must be at least 6Mi");
  });
});

describe("fields", () => {
  it("names", () => {
    expect(name("instance", "a")).toBeNull();
    expect(name("instance", "a.b-c_d9")).toBeNull();
    expect(name("instance", "")).toMatch(/required/);
    expect(name("instance", "-a")).toMatch(/starts and ends/);
    expect(name("instance", "a".repeat(64))).toMatch(/63/);
  });
  it("passwords, emails and codes", () => {
    expect(password("short")).toMatch(/10/);
    expect(password("aaaaaaaaaaaa")).toMatch(/repeated/);
    expect(password("correct horse battery")).toBeNull();
    expect(email("you@example.com")).toBeNull();
    expect(email("you@")).not.toBeNull();
    expect(code("123456")).toBeNull();
    expect(code("12345")).not.toBeNull();
    expect(code("12345a")).not.toBeNull();
  });
  it("splits commands like a shell would, quotes and all", () => {
    expect(splitCommand(`sh -c "echo hi; exit 3"`)).toEqual(["sh", "-c", "echo hi; exit 3"]);
    expect(splitCommand(`echo '' x`)).toEqual(["echo", "", "x"]);
    expect(splitCommand("  sleep   5 ")).toEqual(["sleep", "5"]);
  });
});

describe("the resize form", () => {
  it("sends what was filled in, and names what is wrong", () => {
    expect(resizeRequest({ cpus: "2", memory: "" })).toEqual({ ok: true, request: { cpus: 2 } });
    expect(resizeRequest({ cpus: "", memory: "1Gi" })).toEqual({ ok: true, request: { memory: 2 ** 30 } });
    expect(resizeRequest({ cpus: "0", memory: "lots" })).toEqual({
      ok: false,
      errors: { cpus: "cpus must be more than 0 and at most 1024", memory: expect.stringMatching(/expected a number/) },
    });
  });
});
