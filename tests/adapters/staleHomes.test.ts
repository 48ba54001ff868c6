import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { processStartTime } from "../../scripts/processIdentity.mjs";
import { removeStaleHomes } from "../../scripts/stack/staleHomes.js";

// The state folders test and bench runs leave in the temp folder (106 e2e homes, 1.3 GB, before this).
describe("removing what earlier runs left in the temp folder", () => {
  it("removes old folders whose launcher is gone, and keeps recent ones and those of a live launcher or PostgreSQL", () => {
    const prefix = `quire-stale-test-${randomUUID().slice(0, 8)}-`;
    const home = (old: boolean, files: Record<string, string> = {}) => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(join(dir, name, ".."), { recursive: true });
        writeFileSync(join(dir, name), text);
      }
      if (old) utimesSync(dir, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
      return dir;
    };
    const live = JSON.stringify({ pid: process.pid, pidStartedAt: processStartTime(process.pid) });
    const dead = JSON.stringify({ pid: 2 ** 22 + 4321 });
    const stopped = home(true);
    const killed = home(true, { "stack.json": dead });
    const running = home(true, { "stack.json": live });
    const postgres = home(true, { "data/postmaster.pid": `${process.pid}\n/data\n` });
    const recent = home(false);
    expect(removeStaleHomes(prefix)).toBe(2);
    expect([stopped, killed, running, postgres, recent].map(existsSync)).toEqual([false, false, true, true, true]);
    for (const dir of [running, postgres, recent]) rmSync(dir, { recursive: true, force: true });
  });
});
