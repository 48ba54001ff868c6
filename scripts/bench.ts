// `npm run bench` (not part of `npm test`): starts a stack of its own on free ports, measures, and
// writes docs/benchmarks.md and docs/img/benchmarks.png. `-- --quick` skips the 20-book load.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import getPort from "get-port";
import { Stack } from "./stack/stack.js";
import { removeStaleHomes } from "./stack/staleHomes.js";
import { renderBarChart } from "./bench/chart.js";
import { dispatchOverhead } from "./bench/dispatchOverhead.js";
import { runLoad, type LoadResult } from "./bench/loadRun.js";
import { runNativeBaseline, runNativeChain } from "./bench/nativeBaseline.js";
import { loadStageGraph } from "../api/config/stageGraph.js";
import { measureSseLatency, type SseLatencyResult } from "./bench/sseLatency.js";
import { cpuSeconds, fmtMs } from "./bench/stats.js";

const root = resolve(import.meta.dirname, "..");
const quick = process.argv.includes("--quick");
const NOTES_MARKER = "<!-- written by hand below this line; npm run bench keeps it -->";
const book = JSON.parse(readFileSync(resolve(root, "config/hello-world.json"), "utf8"));
const premise = (tag: string) => ({ ...book, idea: { ...book.idea, premise: `${book.idea.premise} (bench ${tag} ${Date.now()})` } });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
removeStaleHomes("quire-bench-"); // earlier benches' stacks (each keeps its logs until the next run)
const newStack = async (kind: "warm" | "process", standby: boolean) =>
  new Stack({ root, home: mkdtempSync(join(tmpdir(), "quire-bench-")), ports: { gateway: await getPort(), prefect: await getPort(), redis: await getPort() }, prefectWorkerKind: kind, env: { QUIRE_STANDBY_FLOW_RUNS: String(standby) }, say: (m) => console.log(`[bench stack, ${kind} worker] ${m}`) });

const ROUNDS = 5;
// The hello-world book's steps, stage by stage, for the native chain (a flow run per stage).
const stageSteps = loadStageGraph(resolve(root, "config/stages.yaml")).stages.map((s) => s.steps.map((step) => step.id));

/**
 * Hello-world through Quire and the Prefect-native baseline, after a warm-up, in turns (so both see the
 * same machine), five times each; with the Prefect server's CPU time for each, since that one Python
 * process is what both wait on most. With `chain`, also the native chain (a flow run per stage) in turn.
 */
async function wallTimes(stack: Stack, chain = false) {
  console.log("warm-up ...");
  await measureSseLatency(stack, premise("warm-up"));
  await runNativeBaseline(stack, "warm-up", stageSteps.flat());
  console.log(`hello-world through Quire, and the Prefect-native baseline, ${ROUNDS} times each, in turns ...`);
  const serverPid = stack.processes.get("prefect-server")!.pid!;
  const withServerCpu = async <T>(work: () => Promise<T>) => {
    const before = cpuSeconds(serverPid);
    const value = await work();
    return { value, serverCpuMs: (cpuSeconds(serverPid) - before) * 1000 };
  };
  const ours: { value: SseLatencyResult; serverCpuMs: number }[] = [];
  const native: { value: number; serverCpuMs: number }[] = [];
  const chained: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    ours.push(await withServerCpu(() => measureSseLatency(stack, premise(`wall ${i}`))));
    native.push(await withServerCpu(() => runNativeBaseline(stack, `baseline ${i}`, stageSteps.flat())));
    if (chain) chained.push(await runNativeChain(stack, `chain ${i}`, stageSteps));
  }
  return {
    sse: ours[0]!.value,
    ours: median(ours.map((o) => o.value.wallMs)),
    native: median(native.map((n) => n.value)),
    oursServerCpu: median(ours.map((o) => o.serverCpuMs)),
    nativeServerCpu: median(native.map((n) => n.serverCpuMs)),
    chain: chain ? median(chained) : null,
  };
}

// First the stock process worker (a new Python process per flow run) without standby flow runs, to show
// what the warm worker and the standby flow runs gain together.
const stockStack = await newStack("process", false);
let stopping: Stack = stockStack;
process.on("SIGINT", () => void stopping.stop().then(() => process.exit(130)));
await stockStack.start();
const stock = await wallTimes(stockStack).finally(() => stockStack.stop());

const stack = await newStack("warm", true);
stopping = stack;
await stack.start();
try {
  const { sse, ours, native, oursServerCpu, nativeServerCpu, chain } = await wallTimes(stack, true);
  const dispatch = await dispatchOverhead(stack, sse.runId);

  const loads: LoadResult[] = [];
  for (const books of quick ? [1, 5] : [1, 5, 20]) {
    console.log(`${books} concurrent book(s) ...`);
    loads.push(await runLoad(stack, books, book));
  }

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, Prefect 2.20.25 on SQLite`;
  const ratio = ours / native;
  const rssNames = [...new Set(loads.flatMap((l) => Object.keys(l.peakRssMiB)))];
  const lines = [
    "# Benchmarks",
    "",
    `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Machine: ${machine}.`,
    "The bench starts its own stack (Redis, Prefect server and one worker, gateway, one agent worker) on free",
    "ports, warms it up, then measures. Mock provider throughout. Median of five runs where a run is repeated.",
    "",
    "## Hello-world book vs. Prefect used natively",
    "",
    "| measure | value |",
    "| --- | --- |",
    `| Quire: submit → run.completed (7 flow runs, 29 steps via Redis and an agent worker) | ${fmtMs(ours)} |`,
    `| Prefect-native baseline: the same 29 mock steps as tasks in one flow run, same server and worker | ${fmtMs(native)} |`,
    `| ratio | ${ratio.toFixed(2)}× |`,
    `| Prefect server CPU time per book: Quire / native baseline | ${fmtMs(oursServerCpu)} / ${fmtMs(nativeServerCpu)} (${(oursServerCpu / nativeServerCpu).toFixed(2)}×) |`,
    `| Prefect-native, a flow run per stage: the same steps as ${stageSteps.length} flow runs of the baseline's deployment, each created when the previous one is seen Completed (100 ms poll) | ${fmtMs(chain!)} (${(chain! / native).toFixed(2)}× the baseline; Quire is ${(ours / chain!).toFixed(2)}× this) |`,
    "",
    "The same two measurements with Prefect's stock process worker (every flow run a new `python -m prefect.engine`)",
    "and no standby flow runs (each stage creates its flow run when it is due),",
    "on a second stack started by the bench for this:",
    "",
    "| set-up | Quire | native baseline | ratio |",
    "| --- | --- | --- | --- |",
    `| stock process worker, no standby flow runs | ${fmtMs(stock.ours)} | ${fmtMs(stock.native)} | ${(stock.ours / stock.native).toFixed(2)}× |`,
    `| warm process worker (prefect-flows/warm_worker.py) and standby flow runs | ${fmtMs(ours)} | ${fmtMs(native)} | ${ratio.toFixed(2)}× |`,
    "",
    "## Overheads",
    "",
    "| measure | p50 | p95 |",
    "| --- | --- | --- |",
    `| per stage: stage started → its first step started (hand-over to the standby flow run, or a new flow run's start) | ${fmtMs(median(sse.stageStartupMs.map((s) => s.startupMs ?? 0)))} | ${fmtMs(Math.max(...sse.stageStartupMs.map((s) => s.startupMs ?? 0)))} (max) |`,
    `| per step: Prefect task start → agent worker starts the step (job via Redis) | ${fmtMs(dispatch.toWorkerP50)} | ${fmtMs(dispatch.toWorkerP95)} |`,
    `| per step: step done in the worker → Prefect task ends (result via Redis) | ${fmtMs(dispatch.backP50)} | ${fmtMs(dispatch.backP95)} |`,
    `| step done in the worker → its event at an SSE client | ${fmtMs(sse.p50)} | ${fmtMs(sse.p95)} |`,
    "",
    "## Concurrent books",
    "",
    "| books at once | all done in | books / minute | completed | /health p50 | /health p95 |",
    "| --- | --- | --- | --- | --- | --- |",
    ...loads.map((l) => `| ${l.books} | ${fmtMs(l.wallMs)} | ${l.booksPerMinute.toFixed(1)} | ${l.completed}/${l.books} | ${fmtMs(l.healthP50)} | ${fmtMs(l.healthP95)} |`),
    "",
    "## Peak memory (MiB) during the load runs",
    "",
    "RSS of each long-lived process (with its helpers, e.g. the warm worker with its fork server), and of the",
    "largest flow process; PSS splits the pages a forked flow process shares with its parent.",
    "",
    `| process | ${loads.map((l) => `${l.books} book(s)`).join(" | ")} |`,
    `| --- | ${loads.map(() => "---").join(" | ")} |`,
    ...rssNames.map((n) => `| ${n} | ${loads.map((l) => l.peakRssMiB[n] ?? "-").join(" | ")} |`),
    "",
    "![benchmarks](img/benchmarks.png)",
    "",
  ];
  // The hand-written reading of the numbers below the marker survives a new bench run.
  const docFile = resolve(root, "docs/benchmarks.md");
  const previous = existsSync(docFile) ? readFileSync(docFile, "utf8") : "";
  const notes = previous.includes(NOTES_MARKER) ? previous.slice(previous.indexOf(NOTES_MARKER)) : `${NOTES_MARKER}\n`;
  writeFileSync(docFile, `${lines.join("\n")}\n${notes}`);
  await renderBarChart(resolve(root, "docs/img/benchmarks.png"), "Hello-world book: wall time (s)", [
    { label: "Native, stock worker", value: stock.native / 1000, unit: "s" },
    { label: "Quire, stock worker", value: stock.ours / 1000, unit: "s" },
    { label: "Native, warm worker", value: native / 1000, unit: "s" },
    { label: "Native, a flow run per stage", value: chain! / 1000, unit: "s" },
    { label: "Quire, warm worker", value: ours / 1000, unit: "s" },
    ...loads.filter((l) => l.books > 1).map((l) => ({ label: `Quire, ${l.books} books at once`, value: l.wallMs / 1000, unit: "s" })),
  ]);
  console.log(lines.join("\n"));
} finally {
  await stack.stop();
}
