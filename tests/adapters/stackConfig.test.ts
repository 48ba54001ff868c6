import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { Stack } from "../../scripts/stack/stack.js";

// A mistake in the stage graph or a setting, as an operator meets it: one message naming it, before
// anything starts, and from a process started with it, that message rather than a stack trace.
const root = resolve(import.meta.dirname, "../..");
const made: string[] = [];
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "quire-config-"));
  made.push(dir);
  return dir;
};
const brokenGraph = () => {
  const dir = tempDir();
  const file = join(dir, "broken.yaml");
  writeFileSync(file, readFileSync(join(root, "config/stages.yaml"), "utf8").replace("reads: [W1, W2, W3, W4, W5, W6]", "reads: [W1, M9]"));
  return { dir, file };
};

describe("the launcher", () => {
  it("refuses a broken stage graph with its file, line and field before it starts anything", async () => {
    const { dir, file } = brokenGraph();
    const stack = new Stack({ root, home: join(dir, "home"), ports: { gateway: 1, prefect: 2, redis: 3 }, env: { QUIRE_STAGES_FILE: file } });
    await expect(stack.start()).rejects.toThrow(new RegExp(`${file}:\\d+: stages\\.6\\.steps\\.\\d+\\.reads\\.1: step "W7" reads "M9", which is not an earlier step`));
    expect([...stack.processes.values()].filter((p) => p.running)).toEqual([]);
    expect(existsSync(join(dir, "home"))).toBe(false);
  });

  it("refuses a bad setting by its name before it starts anything", async () => {
    const dir = tempDir();
    const stack = new Stack({ root, home: join(dir, "home"), ports: { gateway: 1, prefect: 2, redis: 3 }, env: { QUIRE_POLL_MS: "soon" } });
    await expect(stack.start()).rejects.toThrow(/QUIRE_POLL_MS/);
    expect(stack.processes.size).toBe(0);
  });
});

describe("the gateway and the agent worker, started with a broken stage graph", () => {
  it("print the mistake alone (no stack trace to push it out of the launcher's view) and exit 1", async () => {
    const { file } = brokenGraph();
    for (const entry of ["api/main.ts", "workers/main.ts"]) {
      const r = await execa(process.execPath, ["--import", "tsx", join(root, entry)], { cwd: root, env: { QUIRE_STAGES_FILE: file, QUIRE_REDIS_URL: "redis://127.0.0.1:1" }, reject: false, timeout: 30_000 });
      expect({ entry, code: r.exitCode }).toEqual({ entry, code: 1 });
      expect(r.stderr).toContain(`reads "M9", which is not an earlier step`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
