// What the set-up says, and how it runs commands: each step prints what it does; a failure says what
// happened and what to do. Plain Node: it runs before node_modules exists.
import { spawnSync } from "node:child_process";
import { statfsSync } from "node:fs";

const quiet = process.env.QUIRE_SETUP_QUIET === "1";

export const say = (msg) => {
  if (!quiet) console.log(`[setup] ${msg}`);
};

export function fail(step, what, todo) {
  console.error(`\n[setup] FAILED: ${step}\n  what happened: ${what}\n  what to do:    ${todo}\n`);
  process.exit(1);
}

/**
 * Runs a command in `cwd`. Its stdout goes to the terminal; its stderr too, and is also kept (`err`), so
 * the advice can be chosen from what went wrong. `what` tells how it failed, for fail().
 */
export function run(cmd, args, { cwd, capture = false, env } = {}) {
  const stdio = capture || quiet ? "pipe" : ["inherit", "inherit", "pipe"];
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", stdio, maxBuffer: 256 * 1024 * 1024 });
  const err = r.stderr ?? "";
  if (!capture && !quiet && err) process.stderr.write(tail(err, 60));
  const line = [cmd, ...args].join(" ").replaceAll(`${cwd}/`, "");
  const ended = r.error ? `could not run \`${line}\`: ${r.error.message}` : `\`${line}\` ${r.signal ? `was stopped by ${r.signal}` : `exited with code ${r.status}`}`;
  const out = `${r.stdout ?? ""}${err}`.trim();
  const shown = capture || quiet ? (out ? `; its output ends:\n    ${tail(out, 30).trimEnd().split("\n").join("\n    ")}` : "") : out ? "; its messages are above" : "";
  return { ok: !r.error && r.status === 0, out, stopped: Boolean(r.signal), what: `${ended}${shown}` };
}

/** The last `lines` lines of `text` (npm can print thousands of warnings before the error that matters). */
const tail = (text, lines) => text.split("\n").slice(-lines - 1).join("\n");

export const onPath = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;

export const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * What to do about a failed install, chosen from its messages: a full disk, a place this user may not
 * write, a network out of reach, or a stop (Ctrl-C, out of memory); `otherwise` when none of them.
 */
export function adviceFor(output, { stopped = false, otherwise }) {
  if (/ENOSPC|No space left on device|Errno 28/.test(output)) return "the disk is full: free some space (df -h shows where) and run again; what was half-installed is repaired then";
  if (/EACCES|EPERM|Permission denied|Errno 13/.test(output)) return "this user may not write there: run as the owner of the checkout (and of .venv, node_modules), or fix their permissions, and run again";
  if (stopped) return "it was stopped (Ctrl-C, or out of memory?): run again; the install is repaired then";
  if (/ETIMEDOUT|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|Temporary failure in name resolution|NewConnectionError|ConnectTimeout|ReadTimeout/.test(output)) {
    return "the package index is not reachable: check the connection (or npm's registry, pip's index setting) and run again";
  }
  return otherwise;
}

/** Fails now, naming the space left, when the file system holding `path` has less than `neededMb` free. */
export function requireFreeSpace(step, path, neededMb) {
  let freeMb;
  try {
    const s = statfsSync(path);
    freeMb = Math.floor((s.bavail * s.bsize) / 2 ** 20);
  } catch {
    return; // no statfs here: let the install itself tell
  }
  if (freeMb < neededMb) fail(step, `only ${freeMb} MB free where ${path} is; it needs about ${neededMb} MB`, "free some space (df -h shows where) and run again");
}
