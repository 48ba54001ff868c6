#!/usr/bin/env node
// Installs what the stack needs and is missing: npm packages, the Python venv with the pinned Prefect,
// redis-server (and for the tests chromium and postgresql). Plain Node with no dependencies: it runs
// before node_modules exists. A second run finds everything in place and skips it. Each step prints what
// it does; a failure says what happened and what to do. The steps live in scripts/setup/.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureChromium, ensurePostgres, ensureRedis } from "./setup/debian.mjs";
import { ensureNpmPackages } from "./setup/npmPackages.mjs";
import { ensureVenv } from "./setup/pythonVenv.mjs";
import { say, fail, sleepSync } from "./setup/report.mjs";
import { setupLockHolder, tryTakeSetupLock } from "./setup/setupLock.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// `npm test` runs the set-up with these: it also needs what only the tests use.
const withBrowser = process.argv.includes("--with-browser");
const withPostgres = process.argv.includes("--with-postgres");

function checkNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    fail("Node.js version", `this is Node ${process.versions.node}`, "install Node.js 20.19 or newer (engines in package.json)");
  }
  say(`node ${process.versions.node}: ok`);
}

/** Waits (up to 20 minutes: a first npm ci and pip take a few) while another set-up of this checkout runs. */
function oneSetupAtATime() {
  const lock = join(root, ".quire", "setup.lock");
  const until = Date.now() + 20 * 60_000;
  let said = false;
  const taken = () => {
    try {
      return tryTakeSetupLock(lock);
    } catch (err) {
      // A checkout this user may not write: the steps below say so if they need to write.
      say(`no set-up lock (${err.code ?? err.message} on ${lock}); going on without it`);
      return true;
    }
  };
  while (!taken()) {
    if (Date.now() > until) fail("set-up lock", `another set-up (${JSON.stringify(setupLockHolder(lock))}) has held ${lock} for 20 minutes`, `stop it, or delete ${lock} if no set-up runs, and run again`);
    if (!said) say(`waiting for another set-up of this checkout (pid ${setupLockHolder(lock)?.pid ?? "?"}) to finish ...`);
    said = true;
    sleepSync(1_000);
  }
}

checkNode();
oneSetupAtATime();
ensureNpmPackages(root);
ensureVenv(root);
ensureRedis({ forTests: withBrowser || withPostgres });
if (withBrowser) ensureChromium();
if (withPostgres) ensurePostgres();
say("all set");
