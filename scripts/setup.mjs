#!/usr/bin/env node
// Installs what the stack needs and is missing: npm packages, the Python venv with the pinned Prefect,
// redis-server. Plain Node with no dependencies: it runs before node_modules exists. A second run finds
// everything in place and skips it. Each step prints what it does; a failure says what to do.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const venv = join(root, ".venv");
const requirements = join(root, "prefect-flows", "requirements.txt");
const quiet = process.env.QUIRE_SETUP_QUIET === "1";
// The only Python the pins install on: on 3.10 several pins (dnspython, regex, rpds-py, ...) need 3.11; on 3.12
// Prefect 2.20 asks for pendulum 3 while the pins hold pendulum 2.1 (what it asks for below 3.12).
const PYTHON = "3.11";
// `npm test` runs the set-up with these: it also needs what only the tests use.
const forTests = process.argv.includes("--with-browser") || process.argv.includes("--with-postgres");

const say = (msg) => { if (!quiet) console.log(`[setup] ${msg}`); };
function fail(step, what, todo) {
  console.error(`\n[setup] FAILED: ${step}\n  what happened: ${what}\n  what to do:    ${todo}\n`);
  process.exit(1);
}
/** Runs a command; `what` tells how it failed, for fail(): where its output is, or its end when captured. */
function run(cmd, args, opts = {}) {
  const stdio = opts.stdio ?? (quiet ? "pipe" : "inherit");
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", ...opts, stdio });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
  const line = [cmd, ...args].join(" ").replaceAll(`${root}/`, "");
  const ended = r.error ? `could not run \`${line}\`: ${r.error.message}` : `\`${line}\` ${r.signal ? `was killed by ${r.signal}` : `exited with code ${r.status}`}`;
  const output = stdio === "inherit" ? "; its output is above" : out ? `; its output ends:\n    ${out.slice(-2000).split("\n").join("\n    ")}` : "";
  return { ok: !r.error && r.status === 0, out, what: r.error ? ended : `${ended}${output}` };
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
  if (!r.ok) {
    fail("npm ci", r.what, "read npm's messages. A network error (ETIMEDOUT, ECONNREFUSED, ENOTFOUND) means the npm registry is not reachable: check the connection or npm's registry setting. A build error (gyp, make, g++) is better-sqlite3 compiling itself because no prebuilt binary could be fetched for this Node and platform: install make, g++ and python3 (Debian: apt-get install build-essential python3). Then run again");
  }
}

/** "3.11" for a Python that runs, null for one that does not (missing, or a broken link). */
function pythonVersion(cmd) {
  const r = spawnSync(cmd, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

function findPython() {
  const found = ["python3.11", "python3"].map((cmd) => [cmd, pythonVersion(cmd)]);
  const fit = found.find(([, version]) => version === PYTHON);
  if (fit) return fit[0];
  const others = found.filter(([, v]) => v).map(([cmd, v]) => `${cmd} is ${v}`).join(", ");
  fail("Python", `no Python ${PYTHON} on PATH${others ? ` (${others})` : ""}; the pinned Prefect and its dependencies install on ${PYTHON} only`, `install Python ${PYTHON} as python3.11 (Debian 12: apt-get install python3 python3-venv; elsewhere e.g. pyenv install 3.11) and run again`);
}

/** Why an existing .venv cannot be used (e.g. made half-way, or with another Python), or null. */
function venvProblem(python) {
  const version = pythonVersion(python);
  if (!version) return ".venv/bin/python does not run (missing or a broken link)";
  if (version !== PYTHON) return `it was made with Python ${version}, the pins need ${PYTHON}`;
  if (spawnSync(python, ["-m", "pip", "--version"], { stdio: "ignore" }).status !== 0) return "it has no working pip (made half-way, e.g. without python3-venv)";
  return null;
}

function ensureVenv() {
  const hash = createHash("sha256").update(readFileSync(requirements)).digest("hex");
  const stamp = join(venv, ".quire-requirements.sha256");
  const python = join(venv, "bin", "python");
  const problem = existsSync(venv) ? venvProblem(python) : "missing";
  if (!problem && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash) {
    say("python venv (.venv, pinned Prefect): in place");
    return;
  }
  if (problem) {
    const base = findPython();
    if (problem === "missing") say(`python venv: creating .venv with ${base} ...`);
    else say(`python venv: .venv is unusable: ${problem}; rebuilding it with ${base} ...`);
    rmSync(venv, { recursive: true, force: true });
    const r = run(base, ["-m", "venv", venv]);
    const still = r.ok ? venvProblem(python) : null;
    if (!r.ok || still) fail("python venv", r.ok ? `.venv was made, but ${still}` : r.what, "install the venv module (Debian: apt-get install python3-venv) and run again; the half-made .venv is rebuilt then");
  }
  say("python venv: installing prefect-flows/requirements.txt (Prefect 2.20.25 and its pins) ...");
  const r = run(python, ["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", requirements]);
  if (!r.ok) {
    fail("pip install -r prefect-flows/requirements.txt", r.what, "read pip's messages. A network error means PyPI (or your pip index) is not reachable: check the connection or pip's index setting. A build error means a package has no wheel for this platform and needs a compiler (Debian: apt-get install build-essential python3-dev). Then run again");
  }
  const check = run(python, ["-c", "import prefect, bullmq, prefect.server.api.server; print(prefect.__version__)"], { stdio: "pipe" });
  if (!check.ok) fail("import prefect", check.what, "delete .venv and run again");
  writeFileSync(stamp, `${hash}\n`);
  say(`python venv: prefect ${check.out.split("\n").pop()} ready`);
}

/** Installs Debian packages as root or with passwordless sudo; fails with `todo` otherwise. */
function aptInstall(what, packages, todo) {
  if (!onPath("apt-get")) fail(what, "apt-get is not available", todo);
  const asRoot = process.getuid?.() === 0;
  const sudo = asRoot ? [] : onPath("sudo") ? ["sudo", "-n"] : null;
  if (!sudo) fail(what, "this user is not root and has no sudo", todo);
  if (sudo.length && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status !== 0) fail(what, "sudo asks this user for a password (the set-up runs it non-interactively)", todo);
  say(`${what}: installing from Debian (apt-get install ${packages.join(" ")}) ...`);
  // Through `env`: sudo resets the environment, and a debconf question must not wait for an answer.
  const apt = [...sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", "DPkg::Lock::Timeout=120"];
  const lockNote = "If apt said it could not get a lock, another apt or dpkg (e.g. unattended-upgrades) held it for over 2 minutes: wait until it is done and run again. Otherwise";
  let r = run(apt[0], [...apt.slice(1), "update", "-qq"]);
  if (!r.ok) fail(`apt-get update (before installing ${packages.join(" ")})`, r.what, `${lockNote} check the Debian mirrors are reachable, or ${todo}`);
  r = run(apt[0], [...apt.slice(1), "install", "-y", "-qq", "--no-install-recommends", ...packages]);
  if (!r.ok) fail(`apt-get install ${packages.join(" ")}`, r.what, `${lockNote} ${todo}`);
}

function ensureRedis() {
  if (process.env.QUIRE_REDIS_URL && !forTests) {
    say("redis: using QUIRE_REDIS_URL, not starting our own");
    return;
  }
  // The tests ignore QUIRE_REDIS_URL from the shell and start redis-server themselves.
  if (process.env.QUIRE_REDIS_URL) say("redis-server: needed for the tests although QUIRE_REDIS_URL is set (they start their own)");
  if (onPath("redis-server")) {
    say("redis-server: in place");
    return;
  }
  const todo = `install it: sudo apt-get install redis-server${forTests ? "" : " (or set QUIRE_REDIS_URL to a running Redis 6.2+)"}`;
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
