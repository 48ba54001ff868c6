import { existsSync, mkdtempSync, readFileSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ManagedProcess } from "../../scripts/stack/managedProcess.js";
import { GATEWAY_SECRETS_UNSET } from "../../scripts/stack/stack.js";

/** Running, not a zombie waiting for a parent that never reaps it (PID 1 in a container may not). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

/** The pid a test's process writes to `name` in `dir`, once it has written it (after setting its traps). */
async function pidFile(dir: string, name: string): Promise<number> {
  const path = join(dir, name);
  while (!existsSync(path) || !readFileSync(path, "utf8").trim()) await new Promise((r) => setTimeout(r, 20));
  return Number(readFileSync(path, "utf8"));
}

/**
 * A leader (`sleep 60`) whose background descendant runs `script`, which must write its pid to `pidName`
 * once its traps are set; started, and that pid read, so a test never signals it before.
 */
async function leaderWithDescendant(dir: string, script: string, pidName: string): Promise<{ proc: ManagedProcess; descendant: number }> {
  const proc = new ManagedProcess("leader", "sh", ["-c", `sh -c "${script}" & exec sleep 60`], { cwd: dir, env: {}, logDir: dir });
  proc.start();
  return { proc, descendant: await pidFile(dir, pidName) };
}

describe("ManagedProcess (the launcher's supervision)", () => {
  it("gives its process the log file itself as stdout and stderr: no output passes through (or is kept by) the launcher", async () => {
    const dir = mkdtempSync(join(tmpdir(), "managed-"));
    // Before, execa piped it through the launcher and kept a copy up to 100 MB, then cut the pipe.
    const proc = new ManagedProcess("chatty", "sh", ["-c", "echo out; echo err >&2; echo $$ > ready.pid; exec sleep 60"], { cwd: dir, env: {}, logDir: dir });
    proc.start();
    const pid = await pidFile(dir, "ready.pid");
    try {
      expect([readlinkSync(`/proc/${pid}/fd/1`), readlinkSync(`/proc/${pid}/fd/2`)]).toEqual([proc.logFile, proc.logFile]);
      expect(readFileSync(proc.logFile, "utf8")).toBe("out\nerr\n");
    } finally {
      proc.signal("SIGKILL");
    }
  });

  it("takes a variable set to undefined out of what its process inherits: the provider and API keys never reach Redis or Prefect's processes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "managed-"));
    const inherited = { OPENAI_API_KEY: process.env.OPENAI_API_KEY, QUIRE_API_KEY: process.env.QUIRE_API_KEY };
    process.env.OPENAI_API_KEY = "sk-launcher-shell";
    process.env.QUIRE_API_KEY = "launcher-key";
    const proc = new ManagedProcess("prefect-like", "sh", ["-c", "env > env.txt; echo $$ > ready.pid; exec sleep 60"], { cwd: dir, env: { ...GATEWAY_SECRETS_UNSET, PREFECT_HOME: "/x" }, logDir: dir });
    try {
      proc.start();
      await pidFile(dir, "ready.pid");
      const env = readFileSync(join(dir, "env.txt"), "utf8");
      expect(env).toContain("PREFECT_HOME=/x");
      expect(env).not.toMatch(/OPENAI_API_KEY|QUIRE_API_KEY|sk-launcher-shell/);
      expect(env).toContain("PATH="); // the rest is inherited
    } finally {
      proc.signal("SIGKILL");
      for (const [k, v] of Object.entries(inherited)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });

  it("notices at once that its process died while a descendant still holds its output open; the rest of its process group can still be killed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "managed-"));
    // Like a Prefect worker whose forked flow process outlives it: the background sleep keeps the log's pipe open.
    const proc = new ManagedProcess("leader", "sh", ["-c", "sleep 60 & echo $! > descendant.pid; exec sleep 60"], { cwd: dir, env: {}, logDir: dir });
    const exited = new Promise<string>((resolve) => proc.onExit(resolve));
    proc.start();
    const descendant = await pidFile(dir, "descendant.pid");

    process.kill(proc.pid!, "SIGKILL"); // the process alone, as an OOM kill or a crash would
    const started = Date.now();
    expect(await exited).toBe("killed by SIGKILL");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(proc.running).toBe(false);
    expect(alive(descendant)).toBe(true);

    proc.signal("SIGKILL"); // what is left of its process group
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(descendant)).toBe(false);
  });

  it("stops the rest of its group gracefully: what handles SIGTERM finishes before the SIGKILL, what ignores it is killed at the grace's end", async () => {
    const dir = mkdtempSync(join(tmpdir(), "managed-"));
    // Like a flow process saying its last words on SIGTERM after its worker (the leader) has exited.
    // Each descendant writes its pid once its trap is set, so the test never signals it before.
    const polite = `trap 'sleep 0.3; echo said > words; exit 0' TERM; echo \\$\\$ > descendant.pid; while :; do sleep 0.05; done`;
    const { proc } = await leaderWithDescendant(dir, polite, "descendant.pid");
    await proc.stop(5_000);
    expect(readFileSync(join(dir, "words"), "utf8").trim()).toBe("said");

    const deaf = await leaderWithDescendant(dir, `trap '' TERM; echo \\$\\$ > deaf.pid; while :; do sleep 0.05; done`, "deaf.pid");
    const stopping = Date.now();
    await deaf.proc.stop(600);
    expect(Date.now() - stopping).toBeGreaterThanOrEqual(500);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(deaf.descendant)).toBe(false);
  });

  it("sends the SIGTERM to the process alone when asked, as `docker compose stop` does, and still leaves nothing of its group", async () => {
    const dir = mkdtempSync(join(tmpdir(), "managed-"));
    const { proc, descendant } = await leaderWithDescendant(dir, `trap 'echo said > words; exit 0' TERM; echo \\$\\$ > descendant.pid; while :; do sleep 0.05; done`, "descendant.pid");
    await proc.stop(600, { mainOnly: true });
    expect(existsSync(join(dir, "words"))).toBe(false); // the descendant got no SIGTERM
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(descendant)).toBe(false); // the grace's SIGKILL
  });
});
