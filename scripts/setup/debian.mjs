// What comes from Debian when it is missing: redis-server (with redis-cli), and for the tests chromium
// and postgresql. Installed as root or with passwordless sudo; otherwise the set-up says what to run.
import { existsSync, readdirSync } from "node:fs";
import { fail, onPath, run, say, sleepSync } from "./report.mjs";

/** apt refused because another apt or dpkg (unattended-upgrades, say) holds one of its locks. */
export const aptLockBusy = (output) => /Could not get lock|Unable to lock|is held by process|Unable to acquire the dpkg frontend lock/.test(output);
const LOCK_WAIT_MS = 120_000;

/** Runs one apt-get command, waiting up to 2 minutes for a lock another apt holds (apt-get update does not wait by itself). */
function aptGet(apt, args) {
  const until = Date.now() + LOCK_WAIT_MS;
  let said = false;
  for (;;) {
    const r = run(apt[0], [...apt.slice(1), ...args], { capture: true });
    if (r.ok || !aptLockBusy(r.out) || Date.now() > until) return r;
    if (!said) say("waiting for another apt or dpkg (e.g. unattended-upgrades) to finish ...");
    said = true;
    sleepSync(3_000);
  }
}

/** Installs Debian packages as root or with passwordless sudo; fails with `todo` otherwise. */
export function aptInstall(what, packages, todo) {
  if (!onPath("apt-get")) fail(what, "apt-get is not available", todo);
  const asRoot = process.getuid?.() === 0;
  const sudo = asRoot ? [] : onPath("sudo") ? ["sudo", "-n"] : null;
  if (!sudo) fail(what, "this user is not root and has no sudo", todo);
  if (sudo.length && run("sudo", ["-n", "true"], { capture: true }).ok === false) fail(what, "sudo asks this user for a password (the set-up runs it non-interactively)", todo);
  say(`${what}: installing from Debian (apt-get install ${packages.join(" ")}) ...`);
  // Through `env`: sudo resets the environment, and a debconf question must not wait for an answer.
  const apt = [...sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", `DPkg::Lock::Timeout=${LOCK_WAIT_MS / 1000}`];
  const locked = (r) => (aptLockBusy(r.out) ? "another apt or dpkg (e.g. unattended-upgrades) held its lock for over 2 minutes: wait until it is done and run again" : null);
  const dpkgBroken = (r) => (/dpkg was interrupted/.test(r.out) ? "an earlier install was cut off: run `dpkg --configure -a` as root, then run again" : null);
  let r = aptGet(apt, ["update", "-qq"]);
  if (!r.ok) fail(`apt-get update (before installing ${packages.join(" ")})`, r.what, locked(r) ?? `check that the Debian mirrors are reachable, or ${todo}`);
  r = aptGet(apt, ["install", "-y", "-qq", "--no-install-recommends", ...packages]);
  if (!r.ok) fail(`apt-get install ${packages.join(" ")}`, r.what, locked(r) ?? dpkgBroken(r) ?? todo);
}

export function ensureRedis({ forTests }) {
  if (process.env.QUIRE_REDIS_URL && !forTests) {
    say("redis: using QUIRE_REDIS_URL, not starting our own");
    return;
  }
  // The tests ignore QUIRE_REDIS_URL from the shell and start redis-server themselves.
  if (process.env.QUIRE_REDIS_URL) say("redis-server: needed for the tests although QUIRE_REDIS_URL is set (they start their own)");
  // redis-cli too: the launcher asks it whether Redis is up (Debian's redis-server brings it, in redis-tools).
  const missing = ["redis-server", "redis-cli"].filter((cmd) => !onPath(cmd));
  if (!missing.length) {
    say("redis-server: in place");
    return;
  }
  const todo = `install it: sudo apt-get install redis-server redis-tools${forTests ? "" : " (or set QUIRE_REDIS_URL to a running Redis 6.2+)"}`;
  aptInstall(missing.join(" and "), ["redis-server", "redis-tools"], todo);
  const still = ["redis-server", "redis-cli"].filter((cmd) => !onPath(cmd));
  if (still.length) fail(still.join(" and "), "still not on PATH after apt-get install", todo);
  // Debian's package may start a system service on 6379; ours runs on its own port, so that one is left alone.
  say("redis-server: installed");
}

/** The dashboard's browser test drives Debian's Chromium (no browser download at install time). */
export function ensureChromium() {
  if (existsSync("/usr/bin/chromium")) {
    say("chromium (for the browser test): in place");
    return;
  }
  aptInstall("chromium", ["chromium"], "install it: sudo apt-get install chromium");
  if (!existsSync("/usr/bin/chromium")) fail("chromium", "/usr/bin/chromium is missing after apt-get install", "sudo apt-get install chromium");
}

/** The Postgres tests start a throwaway server from Debian's package (binaries under /usr/lib/postgresql). */
export function ensurePostgres() {
  const has = () => existsSync("/usr/lib/postgresql") && readdirSync("/usr/lib/postgresql").some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
  if (has()) {
    say("postgresql (for the Postgres tests): in place");
    return;
  }
  aptInstall("postgresql", ["postgresql"], "install it: sudo apt-get install postgresql");
  if (!has()) fail("postgresql", "initdb is missing after apt-get install", "sudo apt-get install postgresql");
}
