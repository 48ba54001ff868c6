#!/usr/bin/env node
// Installs what the stack needs and is missing: npm packages, the Python venv with the pinned Prefect,
// redis-server. Plain Node with no dependencies: it runs before node_modules exists. A second run finds
// everything in place and skips it. Each step prints what it does; a failure says what to do.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const venv = join(root, ".venv");
const requirements = join(root, "prefect-flows", "requirements.txt");
const quiet = process.env.QUIRE_SETUP_QUIET === "1";

const say = (msg) => { if (!quiet) console.log(`[setup] ${msg}`); };
function fail(step, what, todo) {
  console.error(`\n[setup] FAILED: ${step}\n  what happened: ${what}\n  what to do:    ${todo}\n`);
  process.exit(1);
}
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: quiet ? "pipe" : "inherit", encoding: "utf8", ...opts });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim(), error: r.error };
}
const onPath = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;

function checkNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    fail("Node.js version", `this is Node ${process.versions.node}`, "install Node.js 20.19 or newer (engines in package.json)");
  }
  say(`node ${process.versions.node}: ok`);
}

function ensureNpmPackages() {
  const lock = join(root, "package-lock.json");
  const installed = join(root, "node_modules", ".package-lock.json");
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) {
    say("npm packages: in place");
    return;
  }
  say("npm packages: installing with npm ci ...");
  const r = run("npm", ["ci", "--no-audit", "--no-fund"]);
  if (!r.ok) fail("npm ci", r.out.slice(-2000) || String(r.error), "check the npm registry is reachable, then run `npm ci` by hand to see the error");
}

function findPython() {
  for (const cmd of ["python3.11", "python3.12", "python3.10", "python3"]) {
    const r = spawnSync(cmd, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
    if (r.status === 0 && ["3.10", "3.11", "3.12"].includes(r.stdout.trim())) return cmd;
  }
  return null;
}

function ensureVenv() {
  const hash = createHash("sha256").update(readFileSync(requirements)).digest("hex");
  const stamp = join(venv, ".quire-requirements.sha256");
  const python = join(venv, "bin", "python");
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash) {
    say("python venv (.venv, pinned Prefect): in place");
    return;
  }
  const base = findPython();
  if (!base) fail("Python", "no python3.10, 3.11 or 3.12 on PATH", "install Python 3.11 (Debian: apt-get install python3 python3-venv)");
  if (!existsSync(python)) {
    say(`python venv: creating .venv with ${base} ...`);
    const r = run(base, ["-m", "venv", venv]);
    if (!r.ok) fail("python venv", r.out || String(r.error), "install the venv module (Debian: apt-get install python3-venv) and run again");
  }
  say("python venv: installing prefect-flows/requirements.txt (Prefect 2.20.25 and its pins) ...");
  const r = run(python, ["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", requirements]);
  if (!r.ok) fail("pip install", r.out.slice(-2000) || String(r.error), "check PyPI is reachable; then `.venv/bin/pip install -r prefect-flows/requirements.txt` shows the error");
  const check = run(python, ["-c", "import prefect, bullmq, prefect.server.api.server; print(prefect.__version__)"], { stdio: "pipe" });
  if (!check.ok) fail("import prefect", check.out.slice(-2000), "delete .venv and run again");
  writeFileSync(stamp, `${hash}\n`);
  say(`python venv: prefect ${check.out.split("\n").pop()} ready`);
}

/** Installs Debian packages as root or with passwordless sudo; fails with `todo` otherwise. */
function aptInstall(what, packages, todo) {
  if (!onPath("apt-get")) fail(what, "apt-get is not available", todo);
  const asRoot = process.getuid?.() === 0;
  const sudo = asRoot ? [] : onPath("sudo") ? ["sudo", "-n"] : null;
  if (!sudo) fail(what, "this user cannot run apt-get", todo);
  say(`${what}: installing from Debian (apt-get install ${packages.join(" ")}) ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const [cmd, ...pre] = sudo.length ? sudo : ["apt-get"];
  const args = (rest) => (sudo.length ? [...pre, "apt-get", ...rest] : rest);
  let r = run(cmd, args(["update", "-qq"]), { env });
  if (r.ok) r = run(cmd, args(["install", "-y", "-qq", "--no-install-recommends", ...packages]), { env });
  if (!r.ok) fail(`apt-get install ${packages.join(" ")}`, r.out.slice(-2000) || "apt-get failed", todo);
}

function ensureRedis() {
  if (process.env.QUIRE_REDIS_URL) {
    say("redis: using QUIRE_REDIS_URL, not starting our own");
    return;
  }
  if (onPath("redis-server")) {
    say("redis-server: in place");
    return;
  }
  const todo = "install it: sudo apt-get install redis-server (or set QUIRE_REDIS_URL to a running Redis 6.2+)";
  aptInstall("redis-server", ["redis-server"], todo);
  if (!onPath("redis-server")) fail("redis-server", "still not on PATH after apt-get install", todo);
  // Debian's package may start a system service on 6379; ours runs on its own port, so that one is left alone.
  say("redis-server: installed");
}

/** The dashboard's browser test drives Debian's Chromium (no browser download at install time). */
function ensureChromium() {
  if (existsSync("/usr/bin/chromium")) {
    say("chromium (for the browser test): in place");
    return;
  }
  aptInstall("chromium", ["chromium"], "install it: sudo apt-get install chromium");
  if (!existsSync("/usr/bin/chromium")) fail("chromium", "/usr/bin/chromium is missing after apt-get install", "sudo apt-get install chromium");
}

/** The Postgres tests start a throwaway server from Debian's package (binaries under /usr/lib/postgresql). */
function ensurePostgres() {
  const has = () => existsSync("/usr/lib/postgresql") && readdirSync("/usr/lib/postgresql").some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
  if (has()) {
    say("postgresql (for the Postgres tests): in place");
    return;
  }
  aptInstall("postgresql", ["postgresql"], "install it: sudo apt-get install postgresql");
  if (!has()) fail("postgresql", "initdb is missing after apt-get install", "sudo apt-get install postgresql");
}

checkNode();
ensureNpmPackages();
ensureVenv();
ensureRedis();
if (process.argv.includes("--with-browser")) ensureChromium();
if (process.argv.includes("--with-postgres")) ensurePostgres();
say("all set");
