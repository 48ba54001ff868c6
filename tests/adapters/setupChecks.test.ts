import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { npmProblem } from "../../scripts/setup/npmPackages.mjs";
import { releaseSetupLock, setupLockHolder, tryTakeSetupLock } from "../../scripts/setup/setupLock.mjs";

// The set-up's checks on real folders: what makes it run npm ci, and its lock.

/** A checkout whose package-lock.json wants `wanted`; node_modules holds `installed` (hidden lockfile and folders). */
function checkout(wanted: Record<string, string>, installed: Record<string, string> | null, extra: Record<string, object> = {}) {
  const root = mkdtempSync(join(tmpdir(), "quire-setup-"));
  const packages = (versions: Record<string, string>) => Object.fromEntries(Object.entries(versions).map(([name, version]) => [`node_modules/${name}`, { version, ...extra[name] }]));
  writeFileSync(join(root, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": { name: "quire" }, ...packages(wanted) } }));
  if (installed) {
    mkdirSync(join(root, "node_modules"));
    writeFileSync(join(root, "node_modules", ".package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: packages(installed) }));
    for (const [name, version] of Object.entries(installed)) {
      mkdirSync(join(root, "node_modules", name), { recursive: true });
      writeFileSync(join(root, "node_modules", name, "package.json"), JSON.stringify({ name, version }));
    }
  }
  return root;
}

describe("when the set-up runs npm ci", () => {
  it("not when node_modules holds what the lock wants, however new the lock file's date", () => {
    expect(npmProblem(checkout({ "cli-progress": "3.12.0", "@scope/pkg": "1.0.0" }, { "cli-progress": "3.12.0", "@scope/pkg": "1.0.0" }))).toBeNull();
  });

  it("when nothing is installed, a package was removed by hand, or the lock wants another version", () => {
    expect(npmProblem(checkout({ "cli-progress": "3.12.0" }, null))).toContain("not installed yet");
    const removed = checkout({ "cli-progress": "3.12.0", ioredis: "5.11.1" }, { "cli-progress": "3.12.0", ioredis: "5.11.1" });
    rmSync(join(removed, "node_modules", "ioredis"), { recursive: true });
    expect(npmProblem(removed)).toBe("ioredis is missing from node_modules");
    expect(npmProblem(checkout({ ioredis: "5.12.0" }, { ioredis: "5.11.1" }))).toBe("package-lock.json wants ioredis 5.12.0, node_modules has 5.11.1");
  });

  it("not for an optional package this platform does not get", () => {
    expect(npmProblem(checkout({ ioredis: "5.11.1", "@esbuild/darwin-arm64": "0.25.0" }, { ioredis: "5.11.1" }, { "@esbuild/darwin-arm64": { optional: true } }))).toBeNull();
  });
});

describe("the set-up's lock (one set-up per checkout at a time)", () => {
  const lockDir = () => join(mkdtempSync(join(tmpdir(), "quire-setup-lock-")), ".quire", "setup.lock");

  it("is taken once, refused while its holder lives, and free again once released", () => {
    const dir = lockDir();
    expect(tryTakeSetupLock(dir)).toBe(true);
    expect(setupLockHolder(dir)).toMatchObject({ pid: process.pid });
    expect(tryTakeSetupLock(dir)).toBe(false);
    releaseSetupLock(dir);
    expect(setupLockHolder(dir)).toBeNull();
    expect(tryTakeSetupLock(dir)).toBe(true);
    releaseSetupLock(dir);
  });

  it("is taken over from a set-up that was killed", async () => {
    const dir = lockDir();
    mkdirSync(dir, { recursive: true });
    const gone = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => gone.on("exit", r));
    writeFileSync(join(dir, "owner.json"), JSON.stringify({ pid: gone.pid }));
    expect(setupLockHolder(dir)).toBeNull();
    expect(tryTakeSetupLock(dir)).toBe(true);
    releaseSetupLock(dir);
  });
});
