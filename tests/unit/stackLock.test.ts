import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { claimLock, releaseLock, StackAlreadyRunning } from "../../scripts/stack/stackLock.js";

const ports = { gateway: 1, prefect: 2, redis: 3 };
const home = () => mkdtempSync(join(tmpdir(), "quire-lock-"));
const lockOf = (dir: string) => JSON.parse(readFileSync(join(dir, "stack.json"), "utf8"));

describe("the stack's lock file", () => {
  it("refuses a second launcher while the first one lives, naming the file to delete", () => {
    const dir = home();
    claimLock(dir, ports, () => {});
    expect(lockOf(dir)).toMatchObject({ pid: process.pid, gatewayPort: 1 });
    expect(() => claimLock(dir, ports, () => {})).toThrow(StackAlreadyRunning);
    expect(() => claimLock(dir, ports, () => {})).toThrow(join(dir, "stack.json"));
    releaseLock(dir);
    expect(() => claimLock(dir, ports, () => {})).not.toThrow();
  });

  it("takes over a file left by a dead launcher, or by one whose pid another process now has", () => {
    const dir = home();
    writeFileSync(join(dir, "stack.json"), JSON.stringify({ pid: 2 ** 22 + 12345, gatewayPort: 9 }));
    claimLock(dir, ports, () => {});
    expect(lockOf(dir).pid).toBe(process.pid);
    // pid 1 is alive, but it started long before the launcher this file names.
    writeFileSync(join(dir, "stack.json"), JSON.stringify({ pid: 1, pidStartedAt: "999999999999", gatewayPort: 9 }));
    claimLock(dir, ports, () => {});
    expect(lockOf(dir).pid).toBe(process.pid);
  });

  it("takes over an unreadable file and says so", () => {
    const dir = home();
    writeFileSync(join(dir, "stack.json"), "");
    const said: string[] = [];
    claimLock(dir, ports, (m) => said.push(m));
    expect(lockOf(dir).pid).toBe(process.pid);
    expect(said.join()).toContain("unreadable lock file");
  });
});
