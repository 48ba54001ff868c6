import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processStartTime, sameProcessAlive } from "../processIdentity.mjs";

/** Thrown when another launcher holds the state folder; the message says how to go on. */
export class StackAlreadyRunning extends Error {}

/** A process the launcher started, in a process group of its own (its pid is the group's id). */
export interface StackChild {
  name: string;
  pid: number;
  /** Its start time as the kernel counts it, so a pid reused by another process is not taken for it. */
  startedAt?: string;
}

interface LockContent {
  pid: number;
  /** The launcher's start time as the kernel counts it, so a pid reused by another process is not taken for it. */
  pidStartedAt?: string;
  gatewayPort: number;
  prefectPort: number;
  redisPort: number;
  /** What it started, so a launcher after it can stop what a killed one left running. */
  children?: StackChild[];
}

/**
 * `<home>/stack.json`: one launcher per state folder, so a second `npm start` says so instead of two
 * stacks sharing one Prefect home, Redis folder and store. A file left by a launcher that was killed
 * (or one that cannot be read) is stale and taken over.
 */
export function claimLock(home: string, ports: { gateway: number; prefect: number; redis: number }, say: (msg: string) => void): StackChild[] {
  const file = join(home, "stack.json");
  let orphans: StackChild[] = [];
  if (existsSync(file)) {
    const held = readLock(file, say);
    if (held && sameProcessAlive(held.pid, held.pidStartedAt)) {
      throw new StackAlreadyRunning(
        `a Quire stack is already running from ${home} (launcher pid ${held.pid}, gateway on port ${held.gatewayPort}); stop it with Ctrl-C there, or set QUIRE_HOME and the QUIRE_*_PORT variables to run a second one. If no stack runs there, delete ${file}`,
      );
    }
    orphans = (held?.children ?? []).filter(leftRunning);
  }
  const content: LockContent = { pid: process.pid, pidStartedAt: processStartTime(process.pid), gatewayPort: ports.gateway, prefectPort: ports.prefect, redisPort: ports.redis, children: orphans };
  writeFileSync(file, JSON.stringify(content));
  return orphans;
}

/** Notes a process this launcher started (replacing an earlier one of that name). */
export function recordChild(home: string, name: string, pid: number): void {
  const file = join(home, "stack.json");
  try {
    const content = JSON.parse(readFileSync(file, "utf8")) as LockContent;
    if (content.pid !== process.pid) return;
    content.children = [...(content.children ?? []).filter((c) => c.name !== name), { name, pid, startedAt: processStartTime(pid) }];
    writeFileSync(file, JSON.stringify(content));
  } catch {
    // no lock of ours: nothing to note
  }
}

/**
 * Stops what a launcher that was killed (SIGKILL, the out-of-memory killer) left running: each process
 * group with SIGTERM, then SIGKILL after `graceMs`. Without this the next start found its ports taken.
 */
export async function stopOrphans(orphans: StackChild[], say: (msg: string) => void, graceMs = 10_000): Promise<void> {
  if (!orphans.length) return;
  say(`stopping what a launcher that was killed left running: ${orphans.map((c) => `${c.name} (pid ${c.pid})`).join(", ")}`);
  const signal = (c: StackChild, sig: NodeJS.Signals) => {
    try {
      process.kill(-c.pid, sig);
    } catch {
      // already gone
    }
  };
  orphans.forEach((c) => signal(c, "SIGTERM"));
  const deadline = Date.now() + graceMs;
  while (orphans.some(groupAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  orphans.filter(groupAlive).forEach((c) => signal(c, "SIGKILL"));
  // Bounded: a process stuck in the kernel, or a zombie nobody reaps, must not hold up the start for ever.
  const killDeadline = Date.now() + 5_000;
  while (orphans.some(groupAlive) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 50));
  const left = orphans.filter(groupAlive);
  if (left.length) say(`still there after SIGKILL (zombies, or stuck in the kernel): ${left.map((c) => `${c.name} (group ${c.pid})`).join(", ")}`);
}

/**
 * A child the killed launcher left running: its group's leader, the very process (its start time), or,
 * the leader gone, what it spawned (a dead worker's flow processes): a group id is not reused while the
 * group lives.
 */
const leftRunning = (c: StackChild) => sameProcessAlive(c.pid, c.startedAt) || (!pidExists(c.pid) && groupAlive(c));

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether any process of the group is left (the leader may be gone while what it spawned lives on). */
function groupAlive(c: StackChild): boolean {
  try {
    process.kill(-c.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
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
