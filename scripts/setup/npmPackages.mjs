// node_modules as package-lock.json says, checked by content rather than by date: a package removed by
// hand, a lock changed by a branch switch, or a native module built for another Node is noticed; a lock
// merely touched is not reinstalled.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { adviceFor, fail, requireFreeSpace, run, say } from "./report.mjs";

/**
 * Why `npm ci` is needed in `root`, or null. npm records what it installed in node_modules/.package-lock.json
 * (its "hidden lockfile"); each package the lock wants must be there in that version, with its files.
 */
export function npmProblem(root) {
  const hiddenLock = join(root, "node_modules", ".package-lock.json");
  if (!existsSync(hiddenLock)) return "node_modules is not installed yet";
  const wanted = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages ?? {};
  const installed = JSON.parse(readFileSync(hiddenLock, "utf8")).packages ?? {};
  for (const [path, pkg] of Object.entries(wanted)) {
    if (!path.startsWith("node_modules/") || pkg.optional || pkg.link) continue; // optional: maybe not for this platform
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    if (installed[path]?.version !== pkg.version) return `package-lock.json wants ${name} ${pkg.version}, node_modules has ${installed[path]?.version ?? "none"}`;
    if (!existsSync(join(root, path, "package.json"))) return `${name} is missing from node_modules`;
  }
  return null;
}

/** Why better-sqlite3 (the one native module the stack loads) does not work here, or null. */
function nativeModuleProblem(root) {
  const r = spawnSync(process.execPath, ["-e", "new (require('better-sqlite3'))(':memory:').close()"], { cwd: root, encoding: "utf8" });
  if (r.status === 0) return null;
  const why = (r.stderr ?? "").split("\n").find((l) => /Error|NODE_MODULE_VERSION|bindings/.test(l))?.trim() ?? `exit ${r.status}`;
  return `better-sqlite3 does not load (built for another Node, or its build is gone): ${why}`;
}

export function ensureNpmPackages(root) {
  const problem = npmProblem(root) ?? nativeModuleProblem(root);
  if (!problem) {
    say("npm packages: in place");
    return;
  }
  say(`npm packages: ${problem}; installing with npm ci ...`);
  requireFreeSpace("npm ci", root, 600);
  const r = run("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root });
  if (!r.ok) {
    const build = "read npm's messages. A build error (gyp, make, g++) is better-sqlite3 compiling itself because no prebuilt binary could be fetched for this Node and platform: install make, g++ and python3 (Debian: apt-get install build-essential python3), then run again";
    fail("npm ci", r.what, adviceFor(r.out, { stopped: r.stopped, otherwise: build }));
  }
  const still = nativeModuleProblem(root);
  if (still) fail("npm ci", `it ended well, but ${still}`, "delete node_modules and run again");
}
