// The portal end to end in headless Chromium (Debian's, driven by playwright-core) against a
// real `cloudctl up` (the server on SQLite and a local agent leasing the Docker Engine): register,
// turn on the authenticator app, log out, log in with a code, create an instance and watch it
// turn running, run `echo hi` in the console, stop, delete. Every main page is screenshotted
// (e2e/screenshots/) and checked with axe-core; the instances page also at phone width.
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

/** `cloudctl up` on a free port with a data directory of its own; its URL once it listens. */
async function up() {
  const data = mkdtempSync(join(tmpdir(), "nubes-web-e2e-"));
  const proc = spawn(
    need("NUBES_TEST_CLOUDCTL"),
    ["up", "--listen", "127.0.0.1:0", "--data-dir", data, "--no-context", "--web-dir", join(here, "..", "dist")],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cloudctl up did not start:\n${out}`)), 60_000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m && out.includes("press Ctrl-C")) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on("exit", (code) => reject(new Error(`cloudctl up exited with ${code}:\n${out}`)));
  });
  if (!out.includes(`dashboard: ${url}/`)) throw new Error(`cloudctl up did not print the dashboard's URL:\n${out}`);
  return { url, stop: () => { proc.kill("SIGTERM"); rmSync(data, { recursive: true, force: true }); } };
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
    page.on("dialog", (d) => void d.accept());
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
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
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

    console.log("the list, at phone width");
    await page.getByRole("link", { name: "← Instances" }).click();
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

    if (serious.length) {
      throw new Error(`axe-core found serious violations:\n${JSON.stringify(serious, null, 2)}`);
    }
    console.log("portal end to end: ok");
  } finally {
    await browser.close();
    server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
