// `npm run bench` (not part of `npm test`): starts a stack of its own on free ports, measures, and
// writes docs/benchmarks.md. Numbers are for this machine; rerun to refresh them.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import getPort from "get-port";
import { Stack } from "./stack/stack.js";
import { measureSseLatency } from "./bench/sseLatency.js";
import { fmtMs } from "./bench/stats.js";

const root = resolve(import.meta.dirname, "..");
const home = mkdtempSync(join(tmpdir(), "quire-bench-"));
const stack = new Stack({ root, home, ports: { gateway: await getPort(), prefect: await getPort(), redis: await getPort() }, env: { QUIRE_POLL_MS: "250" }, say: (m) => console.log(`[bench stack] ${m}`) });
process.on("SIGINT", () => void stack.stop().then(() => process.exit(130)));
await stack.start();
try {
  const book = JSON.parse(readFileSync(resolve(root, "config/hello-world.json"), "utf8"));
  console.log("warm-up run ...");
  await measureSseLatency(stack, book);
  console.log("measured run ...");
  const sse = await measureSseLatency(stack, { ...book, idea: { ...book.idea, premise: `${book.idea.premise} (bench ${Date.now()})` } });

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, Prefect 2.20.25 on SQLite`;
  const lines = [
    "# Benchmarks",
    "",
    `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Machine: ${machine}.`,
    "Each run starts its own stack (Redis, Prefect server and worker, gateway, one agent worker) on free ports,",
    "runs the hello-world book once to warm up, then measures a second run. Mock provider throughout.",
    "",
    "## Hello-world book",
    "",
    "| measure | value |",
    "| --- | --- |",
    `| wall time, submit → run.completed | ${fmtMs(sse.wallMs)} |`,
    `| step completion in the worker → event at an SSE client, p50 | ${fmtMs(sse.p50)} |`,
    `| same, p95 | ${fmtMs(sse.p95)} |`,
    `| same, max | ${fmtMs(sse.max)} |`,
    `| samples (step.completed events) | ${sse.samples} |`,
    "",
    "## Per-stage start-up (flow run created → its first step started)",
    "",
    "| stage | start-up |",
    "| --- | --- |",
    ...sse.stageStartupMs.map((s) => `| ${s.stageId} | ${s.startupMs === null ? "-" : fmtMs(s.startupMs)} |`),
    "",
  ];
  writeFileSync(resolve(root, "docs/benchmarks.md"), lines.join("\n"));
  console.log(lines.join("\n"));
} finally {
  await stack.stop();
}
