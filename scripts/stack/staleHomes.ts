import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sameProcessAlive } from "../processIdentity.mjs";

/**
 * Removes the state folders that earlier test or bench runs left in the temp folder under `prefix`
 * (each holds a Prefect database and logs, ~10–20 MB): those older than `olderThanMs` whose launcher is
 * gone. Each run keeps its own folder until a later run starts, so its logs can be read after a failure.
 */
export function removeStaleHomes(prefix: string, olderThanMs = 30 * 60_000): number {
  let removed = 0;
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(prefix))) {
    const home = join(tmpdir(), name);
    try {
      if (Date.now() - statSync(home).mtimeMs < olderThanMs || launcherAlive(home) || postgresAlive(home)) continue;
      rmSync(home, { recursive: true, force: true });
      removed++;
    } catch {
      // gone meanwhile, or not ours to remove: leave it
    }
  }
  return removed;
}

function launcherAlive(home: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(home, "stack.json"), "utf8");
  } catch {
    return false; // no lock: its launcher stopped
  }
  try {
    const lock = JSON.parse(text) as { pid?: number; pidStartedAt?: string };
    return typeof lock.pid === "number" && sameProcessAlive(lock.pid, lock.pidStartedAt);
  } catch {
    return true; // being rewritten by its launcher (a restarted process is noted): leave it
  }
}

/** A test's PostgreSQL (tests/fixtures/postgresServer.ts) still running in it: its data folder's postmaster.pid. */
function postgresAlive(home: string): boolean {
  try {
    const pid = Number(readFileSync(join(home, "data", "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && sameProcessAlive(pid);
  } catch {
    return false;
  }
}
