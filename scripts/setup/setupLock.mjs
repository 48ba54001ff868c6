// One set-up at a time per checkout: two at once (`npm test` and `npm run demo` in two terminals on a
// fresh clone) would run npm ci and pip into the same folders and both fail, blaming the wrong thing.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processStartTime, sameProcessAlive } from "../processIdentity.mjs";

/** The live set-up holding the lock in `dir`, or null (none, or one that was killed: its lock is stale). */
export function setupLockHolder(dir) {
  try {
    const holder = JSON.parse(readFileSync(join(dir, "owner.json"), "utf8"));
    return sameProcessAlive(holder.pid, holder.startedAt) ? holder : null;
  } catch {
    return null; // being written, or left half-written by a kill: mkdir decides who goes on
  }
}

/**
 * Takes the lock (a directory: mkdir is atomic), taking over one whose set-up is gone. Returns false when
 * a live set-up holds it; `release` removes it (also when this process exits).
 */
export function tryTakeSetupLock(dir) {
  for (let tries = 0; tries < 2; tries++) {
    try {
      mkdirSync(dir, { recursive: false });
    } catch (err) {
      if (err.code === "ENOENT") {
        mkdirSync(join(dir, ".."), { recursive: true });
        continue;
      }
      if (err.code !== "EEXIST") throw err;
      if (setupLockHolder(dir) || recentlyMade(dir)) return false;
      rmSync(dir, { recursive: true, force: true }); // a killed set-up's
      continue;
    }
    writeFileSync(join(dir, "owner.json"), JSON.stringify({ pid: process.pid, startedAt: processStartTime(process.pid) }));
    process.on("exit", () => releaseSetupLock(dir));
    return true;
  }
  return false;
}

export function releaseSetupLock(dir) {
  try {
    const holder = JSON.parse(readFileSync(join(dir, "owner.json"), "utf8"));
    if (holder.pid === process.pid) rmSync(dir, { recursive: true, force: true });
  } catch {
    // not ours, or already gone
  }
}

/** A lock directory made a moment ago whose owner file is not written yet. */
function recentlyMade(dir) {
  try {
    readFileSync(join(dir, "owner.json"));
    return false;
  } catch {
    try {
      return Date.now() - statSync(dir).mtimeMs < 5_000;
    } catch {
      return false;
    }
  }
}
