// `npm test` after set-up: type check, codegen drift, the flow's Python tests, unit tests, adapter tests
// (provider adapters against local wire-format servers, the store), then the end-to-end tests on the
// real stack (store on SQLite), the e2e files that touch the store again with it on PostgreSQL (plus the crash-in-write test), and the
// scale-out test (two gateways, two Prefect workers, three agent workers, ten books, Postgres).
// Ends with one plain line "N passed, N failed" over all phases.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { isolateTestsFromShell } from "../tests/fixtures/shellSettings.js";

// Every phase, the Python one too, runs without the Quire, Prefect, provider and store settings of the shell.
isolateTestsFromShell();
const root = resolve(import.meta.dirname, "..");
const reports = mkdtempSync(join(tmpdir(), "quire-test-"));
let passed = 0;
let failed = 0;

async function phase(name: string, command: string, args: string[], count?: (output: string) => { passed: number; failed: number }, timeoutMs = 30 * 60_000) {
  console.log(`\n=== ${name} ===`);
  // A phase that hangs is killed and counted as failed, so CI ends with a verdict instead of its time limit.
  const result = await execa(command, args, { cwd: root, reject: false, all: true, timeout: timeoutMs, stdout: ["pipe", "inherit"], stderr: ["pipe", "inherit"], env: { FORCE_COLOR: "0" } });
  if (result.timedOut) console.log(`\n${name} took longer than ${timeoutMs / 60_000} minutes and was stopped`);
  const counted = count?.(result.all ?? "");
  if (counted) {
    passed += counted.passed;
    failed += counted.failed;
  }
  if (result.exitCode !== 0) {
    if (!counted?.failed) failed += 1;
    console.log(`\n${name} FAILED (exit ${result.exitCode})`);
    return false;
  }
  return true;
}

const vitest = (config: string, name: string) => {
  const out = join(reports, `${name}.json`);
  return phase(name, resolve(root, "node_modules/.bin/vitest"), ["run", "--config", config, "--reporter=default", "--reporter=json", `--outputFile.json=${out}`], () => {
    try {
      const json = JSON.parse(readFileSync(out, "utf8")) as { numPassedTests: number; numFailedTests: number };
      return { passed: json.numPassedTests, failed: json.numFailedTests };
    } catch {
      return { passed: 0, failed: 1 };
    }
  });
};

const ok =
  (await phase("type check", resolve(root, "node_modules/.bin/tsc"), ["--noEmit"])) &&
  (await phase("codegen drift", resolve(root, "node_modules/.bin/tsx"), ["codegen/generate.ts", "--check"])) &&
  (await phase("flow unit tests (Python)", resolve(root, ".venv/bin/python"), ["-m", "unittest", "discover", "-s", "prefect-flows", "-p", "test_*.py"], (out) => {
    const ran = Number(/Ran (\d+) tests?/.exec(out)?.[1] ?? 0);
    const bad = /FAILED \((?:failures|errors)=(\d+)/.exec(out);
    return { passed: ran - Number(bad?.[1] ?? 0), failed: Number(bad?.[1] ?? 0) };
  }, 5 * 60_000)) &&
  (await vitest("tests/vitest.unit.config.ts", "unit")) &&
  (await vitest("tests/vitest.adapters.config.ts", "adapters")) &&
  (await vitest("tests/vitest.e2e.config.ts", "e2e")) &&
  (await vitest("tests/vitest.e2e-postgres.config.ts", "e2e-postgres")) &&
  (await vitest("tests/vitest.scale.config.ts", "scale-out"));

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(ok && failed === 0 ? 0 : 1);
