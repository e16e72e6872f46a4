// The portal end to end in headless Chromium (Debian's, driven by playwright-core) against a
// real `cloudctl up` (the server on SQLite and a local agent leasing the Docker Engine): register,
// turn on the authenticator app, log out, log in with a code, create an instance and watch it
// turn running, run `echo hi` in the console, stop, delete. Every main page is screenshotted
// (e2e/screenshots/) and checked with axe-core; the instances page also at phone width. The
// first admin sees the agent online, the user's instance and the audit entries; on a second
// server that bills, the usage chart renders after a metered run. A VM agent on libvirt joins
// the first server, and a VM's screen (noVNC) and serial console show the guest.
//
//   NUBES_TEST_CLOUDCTL=... NUBES_TEST_CHROMIUM=/usr/bin/chromium node e2e/portal.mjs

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { now, totp } from "./totp.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, "screenshots");
const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const image = process.env.NUBES_TEST_IMAGE ?? "nubes-test/busybox:latest";

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through scripts/test.sh`);
  return v;
}

/** `cloudctl ARGS` (up or serve) on a free port with a data directory of its own, serving the
 *  built dashboard; its URL once `ready` shows in its output, and the first admin's password. */
async function start(args, ready) {
  const data = mkdtempSync(join(tmpdir(), "nubes-web-e2e-"));
  const proc = spawn(
    need("NUBES_TEST_CLOUDCTL"),
    [...args, "--listen", "127.0.0.1:0", "--data-dir", data, "--web-dir", join(here, "..", "dist")],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cloudctl ${args[0]} did not start:\n${out}`)), 60_000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m && out.includes(ready)) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on("exit", (code) => reject(new Error(`cloudctl ${args[0]} exited with ${code}:\n${out}`)));
  });
  const password = /password:\s+(\S+)/.exec(out)?.[1];
  return { url, out, password, stop: () => { proc.kill("SIGTERM"); rmSync(data, { recursive: true, force: true }); } };
}

/** `cloudctl up`: the server on SQLite and a local agent leasing the Docker Engine. */
async function up() {
  const server = await start(["up", "--no-context"], "press Ctrl-C");
  if (!server.out.includes(`dashboard: ${server.url}/`)) {
    throw new Error(`cloudctl up did not print the dashboard's URL:\n${server.out}`);
  }
  return server;
}

async function call(base, method, path, body, token) {
  const res = await fetch(base + path, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

async function signIn(page, email, password) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

const serious = [];
async function audit(page, name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
  for (const v of result) {
    if (v.impact === "serious" || v.impact === "critical") serious.push({ page: name, ...v });
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  await audit(page, name);
  console.log(`  screenshot ${join("web/e2e/screenshots", name + ".png")}`);
}

async function main() {
  mkdirSync(shots, { recursive: true });
  const server = await up();
  const browser = await chromium.launch({ executablePath: need("NUBES_TEST_CHROMIUM"), args: ["--no-sandbox"] });
  try {
    // axe is injected as a script tag, which the dashboard's CSP would rightly refuse.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.on("dialog", (d) => void d.accept(d.defaultValue()));
    page.setDefaultTimeout(30_000);
    const email = `e2e-${Date.now()}@example.com`;
    const password = "correct horse battery";

    console.log("register");
    await page.goto(server.url + "/");
    await page.waitForURL(/\/login$/);
    await shot(page, "login");
    await page.getByRole("link", { name: "Register" }).click();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Register" }).click();
    await page.getByText("the password must be at least 10 characters").waitFor();
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Register" }).click();

    console.log("turn on the authenticator app");
    await page.waitForURL(/\/security$/);
    await page.getByRole("button", { name: "Set up the authenticator app" }).click();
    const secret = (await page.getByTestId("totp-secret").textContent()).trim();
    await page.getByRole("img", { name: /QR code/ }).waitFor();
    await shot(page, "security-enrol");
    await page.getByLabel("Code").fill("000000" === totp(secret) ? "111111" : "000000");
    await page.getByRole("button", { name: "Turn on" }).click();
    await page.getByText(/the code does not match/).waitFor();
    let used = now();
    await page.getByLabel("Code").fill(totp(secret, used));
    await page.getByRole("button", { name: "Turn on" }).click();
    await page.getByTestId("totp-on").waitFor();

    console.log("log out, log in with a code");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/login/);
    await signIn(page, email, password);
    await page.getByRole("heading", { name: "Second factor" }).waitFor();
    await shot(page, "login-second-factor");
    // A code works once, and only a later step's after it: the next step's is accepted already.
    used += 1;
    await page.getByLabel("Code").fill(totp(secret, used));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(/\/instances$/);

    console.log("create an instance and watch it run");
    await page.getByRole("button", { name: "New instance" }).click();
    await page.getByLabel("Name").fill("Bad Name");
    await page.getByRole("button", { name: "Check price and placement" }).click();
    await page.getByText(/name may hold a-z/).waitFor();
    await page.getByLabel("Name").fill("e2e-web");
    await page.getByLabel("Image").fill(image);
    await page.getByLabel("CPUs").fill("0.5");
    await page.getByLabel("Memory").fill("64Mi");
    await page.getByLabel("Command").fill("sleep 3600");
    await page.getByRole("button", { name: "Check price and placement" }).click();
    await page.getByText("credits an hour").waitFor();
    await shot(page, "instances-create");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.waitForURL(/\/instances\/[^/]+$/);
    // No reload from here on: the state arrives over the event stream.
    await page.locator('.heading [data-state="running"]').waitFor({ timeout: 90_000 });

    console.log("echo hi in the console");
    await page.getByTestId("console-status").getByText("connected", { exact: true }).waitFor();
    await page.getByTestId("console").click();
    await page.keyboard.type("echo hi");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() =>
      [...document.querySelectorAll(".xterm-rows > div")].some((row) => row.textContent.trim() === "hi"),
    );
    await shot(page, "instance-console");
    await page.getByRole("tab", { name: "Stats" }).click();
    await page.getByTestId("stats-cpu").waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="stats-memory"] polyline')?.getAttribute("points")?.includes(" "));
    await shot(page, "instance-stats");

    console.log("disks, buckets, functions, organizations, API tokens");
    await page.getByRole("link", { name: "Disks" }).click();
    await page.getByLabel("Disk name").fill("e2e-disk");
    await page.getByLabel("Size").fill("64Mi");
    await page.getByRole("button", { name: "Create disk" }).click();
    await page.getByRole("cell", { name: "e2e-disk" }).waitFor();
    // The prompt offers raw; every dialog is accepted as it is (above).
    await page.locator("tr", { has: page.getByRole("cell", { name: "e2e-disk", exact: true }) })
      .getByRole("button", { name: "Convert" }).click();
    await page.getByRole("cell", { name: "e2e-disk-raw", exact: true }).waitFor();
    await shot(page, "disks");
    await page.getByRole("link", { name: "Buckets" }).click();
    await page.getByLabel("Bucket name").fill("e2e-files");
    await page.getByRole("button", { name: "Create bucket" }).click();
    await page.getByRole("button", { name: "e2e-files" }).click();
    await page.getByLabel("Upload a file").setInputFiles({ name: "hello.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
    await page.getByRole("cell", { name: "hello.txt" }).waitFor();
    await shot(page, "buckets");
    await page.getByRole("link", { name: "Functions" }).click();
    await page.getByLabel("Function name").fill("e2e-upper");
    await page.getByLabel("Image").fill(image);
    await page.getByLabel("Handler").fill("tr a-z A-Z");
    await page.getByRole("button", { name: "Deploy" }).click();
    await page.getByRole("heading", { name: "e2e-upper" }).waitFor();
    await page.getByLabel("Payload").fill("hello");
    await page.getByRole("button", { name: "Invoke" }).click();
    await page.getByText("HELLO", { exact: true }).waitFor();
    await shot(page, "functions");
    await page.getByRole("link", { name: "Organizations" }).click();
    await page.getByLabel("Organization name").fill("e2e-team");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.getByRole("button", { name: "Members and invites" }).last().click();
    await page.getByRole("button", { name: "Make an invite code" }).click();
    await page.getByTestId("invite-code").waitFor();
    await shot(page, "orgs");
    // An instance made in the new organization, chosen in the create form.
    await page.getByRole("link", { name: "Instances", exact: true }).click();
    await page.getByRole("button", { name: "New instance" }).click();
    await page.getByLabel("Name").fill("e2e-team-box");
    await page.getByLabel("Image").fill(image);
    await page.getByLabel("CPUs").fill("0.2");
    await page.getByLabel("Memory").fill("32Mi");
    await page.getByLabel("Command").fill("sleep 600");
    await page.getByRole("form", { name: "New instance" }).locator("select").selectOption({ label: "e2e-team" });
    await page.getByRole("button", { name: "Check price and placement" }).click();
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.locator('.heading [data-state="running"]').waitFor({ timeout: 90_000 });
    await page.getByRole("link", { name: "← Instances" }).click();
    await page.locator('tr[data-instance="e2e-team-box"]').getByText("e2e-team", { exact: true }).waitFor();
    await page.getByRole("link", { name: "e2e-team-box" }).click();
    await page.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(/\/instances$/);
    await page.locator('tr[data-instance="e2e-team-box"]').waitFor({ state: "detached" });
    await page.getByRole("link", { name: "Security" }).click();
    await page.getByLabel("Token name").fill("e2e");
    await page.getByRole("button", { name: "Create token" }).click();
    const made = (await page.getByTestId("new-token").textContent()).trim();
    if (!made.startsWith("nba_")) throw new Error(`not an API token: ${made}`);
    await shot(page, "security-tokens");
    await page.getByRole("link", { name: "Instances", exact: true }).click();

    console.log("the admin sees the agent online, the instance with its owner, the audit log");
    const admin = await browser.newPage({ bypassCSP: true, viewport: { width: 1280, height: 860 } });
    admin.setDefaultTimeout(30_000);
    await admin.goto(server.url + "/admin");
    await admin.waitForURL(/\/login\?next=%2Fadmin$/);
    await signIn(admin, "admin@nubes.local", server.password);
    await admin.waitForURL(/\/admin$/);
    await admin.locator('[data-testid="agents"] [data-state="online"]').first().waitFor();
    await shot(admin, "admin-agents");
    await admin.getByRole("tab", { name: "Instances" }).click();
    const placed = admin.locator('[data-testid="all-instances"] tr[data-instance="e2e-web"]');
    await placed.getByText(email).waitFor();
    if (!(await placed.locator("td[data-agent]").getAttribute("data-agent")))
      throw new Error("the instance's agent is not shown");
    await shot(admin, "admin-instances");
    // A cluster reserved for the user's organization shows with its use; then it is ended.
    const { access_token: adminToken } = await call(server.url, "POST", "/v1/auth/login",
      { email: "admin@nubes.local", password: server.password });
    const all = await call(server.url, "GET", "/v1/admin/instances", undefined, adminToken);
    const orgId = all.find((i) => i.name === "e2e-web").org_id;
    const pool = await call(server.url, "POST", "/v1/clusters",
      { org_id: orgId, name: "e2e-pool", cpus: 0.25, memory: 64 << 20 }, adminToken);
    await admin.getByRole("tab", { name: "Clusters" }).click();
    await admin.locator('[data-testid="clusters"] tr[data-cluster="e2e-pool"]').waitFor();
    await admin.getByText("Nothing is waiting.").waitFor();
    await shot(admin, "admin-clusters");
    await call(server.url, "DELETE", `/v1/clusters/${pool.id}`, undefined, adminToken);
    await admin.getByRole("tab", { name: "Users" }).click();
    const row = admin.locator(`[data-testid="users"] tr[data-user="${email}"]`);
    await row.waitFor();
    const cells = await row.locator("td").allInnerTexts();
    if (!/^\w+$/.test(cells[1]) || !/^-?\d+(\.\d+)?$/.test(cells[2]))
      throw new Error(`the user's plan and balance are not shown: ${JSON.stringify(cells)}`);
    await shot(admin, "admin-users");
    await admin.getByRole("tab", { name: "Audit" }).click();
    await admin.getByLabel("Action starts with").fill("POST /v1/instances");
    await admin.getByRole("button", { name: "Filter" }).click();
    await admin.locator('[data-testid="audit"]').getByText("/v1/instances", { exact: true }).first().waitFor();
    await shot(admin, "admin-audit");
    await admin.close();

    console.log("the list, at phone width");
    await page.locator('tr[data-instance="e2e-web"] [data-state="running"]').waitFor();
    await shot(page, "instances");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "instances-phone");
    await page.setViewportSize({ width: 1280, height: 860 });

    console.log("stop and delete");
    await page.getByRole("link", { name: "e2e-web" }).click();
    await page.getByRole("button", { name: "Stop" }).click();
    await page.locator('.heading [data-state="stopped"]').waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(/\/instances$/);
    await page.getByText("No instances yet.").waitFor();

    console.log("an expired session sends you to log in and back");
    await page.goto(server.url + "/security");
    await page.evaluate(() => localStorage.setItem("nubes.session", JSON.stringify({
      access_token: "expired", refresh_token: "nbr_spent", expires_in: 0,
    })));
    await page.reload();
    await page.waitForURL(/\/login\?next=%2Fsecurity$/);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    while (now() + 1 <= used) await new Promise((r) => setTimeout(r, 500));
    await page.getByLabel("Code").fill(totp(secret, now() + 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(/\/security$/);

    console.log("a VM's screen and serial console, through a VM agent on libvirt");
    await vm(browser, server);

    console.log("billing: the usage chart after a metered run");
    await billing(browser);

    if (serious.length) {
      throw new Error(`axe-core found serious violations:\n${JSON.stringify(serious, null, 2)}`);
    }
    console.log("portal end to end: ok");
  } finally {
    await browser.close();
    server.stop();
  }
}

/** `cloudctl ARGS` to its end; its stdout, or a failure with its output. */
function run(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(need("NUBES_TEST_CLOUDCTL"), args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (err += d));
    proc.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`cloudctl ${args.join(" ")}: ${code}\n${err}`))));
  });
}

/** The VM tier: a second agent on the `cloudctl up` server leases QEMU under libvirt (the test
 *  guest from scripts/setup.sh), a user creates a VM in the form, and its screen (noVNC) shows
 *  the guest's boot in non-black pixels while its serial console shows the guest's ticks. */
async function vm(browser, server) {
  const libvirt = need("NUBES_TEST_LIBVIRT_URI");
  const guest = need("NUBES_TEST_GUEST_DIR");
  const dir = mkdtempSync(join(tmpdir(), "nubes-web-vm-"));
  const qemu = `qemu://?pool=${dir}/images&libvirt=${libvirt}&boot=${guest}&state=${dir}/state`;
  await run(["--provider", qemu, "disk", "create", "base", "--size", "48Mi", "--format", "raw"]);
  const { access_token: admin } = await call(server.url, "POST", "/v1/auth/login",
    { email: "admin@nubes.local", password: server.password });
  const issued = await call(server.url, "POST", "/v1/admin/agents", { name: "e2e-vms" }, admin);
  const agent = spawn(need("NUBES_TEST_CLOUDCTL"),
    ["agent", "--server", server.url, "--token", issued.token, "--runtime", qemu, "--cpus", "2", "--memory", "2Gi"],
    { stdio: ["ignore", "ignore", "inherit"] });
  const page = await browser.newPage({ bypassCSP: true, viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(60_000);
  page.on("dialog", (d) => void d.accept(d.defaultValue()));
  const email = `e2e-vm-${Date.now()}@example.com`;
  const password = "correct horse battery";
  await call(server.url, "POST", "/v1/auth/register", { email, password });
  const { access_token: user } = await call(server.url, "POST", "/v1/auth/login", { email, password });
  try {
    for (let i = 0; ; i++) {
      const agents = await call(server.url, "GET", "/v1/admin/agents", undefined, admin);
      if (agents.some((a) => a.id === issued.id && a.state === "online")) break;
      if (i > 120) throw new Error("the VM agent never came online");
      await new Promise((r) => setTimeout(r, 250));
    }
    await page.goto(server.url + "/instances");
    await signIn(page, email, password);
    await page.waitForURL(/\/instances$/);
    await page.getByRole("button", { name: "New instance" }).click();
    await page.getByLabel("Name").fill("e2e-vm");
    await page.getByLabel("Image").fill("base");
    await page.getByLabel("Memory").fill("256Mi");
    // Without console=ttyS0 the kernel writes its boot on the screen.
    await page.getByLabel("Command").fill("panic=-1");
    await page.getByText("Virtual machine options").click();
    await page.getByLabel("Kernel").fill("vmlinuz");
    await page.getByLabel("Initrd").fill("initrd.gz");
    await page.getByLabel("Network").fill("none");
    await page.getByRole("button", { name: "Check price and placement" }).click();
    await page.getByText("credits an hour").waitFor();
    await shot(page, "instances-create-vm");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.locator('.heading [data-state="running"]').waitFor({ timeout: 120_000 });

    await page.getByRole("tab", { name: "Screen" }).click();
    await page.getByTestId("screen-status").getByText("connected", { exact: true }).waitFor();
    let lit = 0;
    for (let i = 0; i < 120 && lit < 500; i++) {
      lit = await page.evaluate(() => {
        const canvas = document.querySelector('[data-testid="screen"] canvas');
        if (!canvas || !canvas.width) return 0;
        const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let j = 0; j < px.length; j += 4) if (px[j] + px[j + 1] + px[j + 2] > 60) n++;
        return n;
      });
      if (lit < 500) await new Promise((r) => setTimeout(r, 500));
    }
    if (lit < 500) throw new Error(`the VM's screen stayed dark (${lit} lit pixels)`);
    console.log(`  the screen shows ${lit} lit pixels`);
    await shot(page, "instance-screen");

    await page.getByRole("tab", { name: "Serial" }).click();
    await page.getByTestId("serial-status").getByText("connected", { exact: true }).waitFor();
    await page.getByTestId("serial").getByText("tick").first().waitFor();
    await shot(page, "instance-serial");

    await page.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(/\/instances$/);
  } finally {
    // A VM left running would hold a core of this machine after the test.
    const left = await call(server.url, "GET", "/v1/instances", undefined, user).catch(() => []);
    for (const i of Array.isArray(left) ? left : left.items ?? []) {
      await call(server.url, "DELETE", `/v1/instances/${i.id}?force=true`, undefined, user).catch(() => {});
    }
    await page.close();
    agent.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A server that bills (metering every 10 s): a user's instance runs past a tick, then the
 *  Billing page charts what it used. */
async function billing(browser) {
  const server = await start(["serve", "--billing", "--compute", "docker://"], "listening on");
  try {
    const email = `e2e-bill-${Date.now()}@example.com`;
    const password = "correct horse battery";
    await call(server.url, "POST", "/v1/auth/register", { email, password });
    const { access_token } = await call(server.url, "POST", "/v1/auth/login", { email, password });
    const made = await call(server.url, "POST", "/v1/instances",
      { name: "metered", image, cpus: 0.5, memory: 64 << 20, command: ["sleep", "600"] }, access_token);
    // Metering charges running instances every 10 s of server time.
    await new Promise((r) => setTimeout(r, 12_000));
    await call(server.url, "DELETE", `/v1/instances/${made.id}?force=true`, undefined, access_token);
    const page = await browser.newPage({ bypassCSP: true, viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(30_000);
    await page.goto(server.url + "/billing");
    await signIn(page, email, password);
    await page.waitForURL(/\/billing$/);
    await page.locator('[data-testid="usage-chart"] rect').first().waitFor();
    await page.getByRole("cell", { name: "usage" }).first().waitFor();
    await shot(page, "billing");
    await page.close();
  } finally {
    server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
