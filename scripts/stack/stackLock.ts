import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Thrown when another launcher holds the state folder; the message says how to go on. */
export class StackAlreadyRunning extends Error {}

interface LockContent {
  pid: number;
  /** The launcher's start time as the kernel counts it, so a pid reused by another process is not taken for it. */
  pidStartedAt?: string;
  gatewayPort: number;
  prefectPort: number;
  redisPort: number;
}

/**
 * `<home>/stack.json`: one launcher per state folder, so a second `npm start` says so instead of two
 * stacks sharing one Prefect home, Redis folder and store. A file left by a launcher that was killed
 * (or one that cannot be read) is stale and taken over.
 */
export function claimLock(home: string, ports: { gateway: number; prefect: number; redis: number }, say: (msg: string) => void): void {
  const file = join(home, "stack.json");
  if (existsSync(file)) {
    const held = readLock(file, say);
    if (held && launcherAlive(held)) {
      throw new StackAlreadyRunning(
        `a Quire stack is already running from ${home} (launcher pid ${held.pid}, gateway on port ${held.gatewayPort}); stop it with Ctrl-C there, or set QUIRE_HOME and the QUIRE_*_PORT variables to run a second one. If no stack runs there, delete ${file}`,
      );
    }
  }
  const content: LockContent = { pid: process.pid, pidStartedAt: processStartTime(process.pid), gatewayPort: ports.gateway, prefectPort: ports.prefect, redisPort: ports.redis };
  writeFileSync(file, JSON.stringify(content));
}

export function releaseLock(home: string): void {
  rmSync(join(home, "stack.json"), { force: true });
}

function readLock(file: string, say: (msg: string) => void): LockContent | undefined {
  try {
    const content = JSON.parse(readFileSync(file, "utf8")) as LockContent;
    if (Number.isInteger(content?.pid)) return content;
  } catch {
    // Unreadable (e.g. empty after a crash while writing it): stale, as below.
  }
  say(`ignoring the unreadable lock file ${file} (left by a launcher that was killed?)`);
  return undefined;
}

function launcherAlive({ pid, pidStartedAt }: LockContent): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false; // EPERM: alive, another user's
  }
  const now = processStartTime(pid);
  return !pidStartedAt || !now || now === pidStartedAt;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined where there is no /proc. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After "pid (comm) ", whose comm may hold spaces: state is field 3, starttime field 22.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}
