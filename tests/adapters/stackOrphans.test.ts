import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { claimLock, recordChild, releaseLock, stopOrphans } from "../../scripts/stack/stackLock.js";

// What a launcher killed with SIGKILL leaves running (its children are detached, in groups of their own),
// and the next launcher, on real processes.
const ports = { gateway: 1, prefect: 2, redis: 3 };
const groupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** A detached process group like the stack's: a shell and a child it spawned (as a worker spawns flow runs). */
function orphanGroup() {
  const child = spawn("sh", ["-c", "sleep 300 & exec sleep 300"], { detached: true, stdio: "ignore" });
  child.unref();
  return child.pid!;
}
const deadPid = () => 2 ** 22 + 4321;

describe("a launcher after one that was killed", () => {
  it("stops the process groups its predecessor started and left running, with what they spawned", async () => {
    const home = mkdtempSync(join(tmpdir(), "quire-orphans-"));
    const group = orphanGroup();
    // The killed launcher's lock, as recordChild left it.
    writeFileSync(join(home, "stack.json"), JSON.stringify({ pid: process.pid, gatewayPort: 9, prefectPort: 9, redisPort: 9 }));
    recordChild(home, "redis", group);
    const recorded = JSON.parse(readFileSync(join(home, "stack.json"), "utf8"));
    writeFileSync(join(home, "stack.json"), JSON.stringify({ ...recorded, pid: deadPid() }));

    const said: string[] = [];
    const orphans = claimLock(home, ports, (m) => said.push(m));
    expect(orphans.map((o) => [o.name, o.pid])).toEqual([["redis", group]]);
    await stopOrphans(orphans, (m) => said.push(m), 2_000);
    expect(groupAlive(group)).toBe(false);
    expect(said.join()).toContain(`redis (pid ${group})`);
    releaseLock(home);
  });

  it("stops what a group left running after its leader died (a dead worker's flow processes)", async () => {
    const home = mkdtempSync(join(tmpdir(), "quire-orphans-"));
    // A leader that spawns a child in its group, then exits at once: only the child is left.
    const leader = spawn("sh", ["-c", "sleep 300 & exit 0"], { detached: true, stdio: "ignore" });
    const group = leader.pid!;
    await new Promise((r) => leader.on("exit", r));
    expect(groupAlive(group)).toBe(true);
    writeFileSync(join(home, "stack.json"), JSON.stringify({ pid: deadPid(), gatewayPort: 9, prefectPort: 9, redisPort: 9, children: [{ name: "prefect-worker-1", pid: group, startedAt: "1" }] }));
    const orphans = claimLock(home, ports, () => {});
    expect(orphans.map((o) => o.name)).toEqual(["prefect-worker-1"]);
    await stopOrphans(orphans, () => {}, 2_000);
    expect(groupAlive(group)).toBe(false);
    releaseLock(home);
  });

  it("leaves alone a process that only has a recorded pid (started at another time: the pid was reused)", async () => {
    const home = mkdtempSync(join(tmpdir(), "quire-orphans-"));
    const group = orphanGroup();
    try {
      writeFileSync(join(home, "stack.json"), JSON.stringify({ pid: deadPid(), gatewayPort: 9, prefectPort: 9, redisPort: 9, children: [{ name: "redis", pid: group, startedAt: "1" }] }));
      expect(claimLock(home, ports, () => {})).toEqual([]);
      expect(groupAlive(group)).toBe(true);
    } finally {
      process.kill(-group, "SIGKILL");
      releaseLock(home);
    }
  });
});
