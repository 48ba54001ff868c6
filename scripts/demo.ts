// `npm run demo`: starts the stack, submits the hello-world book, shows progress until it completes,
// prints timings and where to look, then stops the stack (`-- --keep` leaves it running).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import cliProgress from "cli-progress";
import { defaultStackOptions } from "./stack/defaultStackOptions.js";
import { runInForeground } from "./stack/runInForeground.js";
import { stageTimings } from "../api/runs/stageTimings.js";
import type { EventRecord, StageRunRecord } from "../api/store/records.js";

const root = resolve(import.meta.dirname, "..");
const keep = process.argv.includes("--keep");
const terminal = new Set(["completed", "failed", "cancelled"]);
// A mock book takes seconds, and a real provider's step sends a heartbeat event every 10 s: this long
// without any new event means something is stuck (e.g. no Prefect worker takes the flow runs).
const stuckAfterMs = 5 * 60_000;

interface RunView {
  status: string;
  percent: number;
  currentStage: string | null;
  currentStep: string | null;
  completedSteps: number;
  plannedSteps: number;
  error: string | null;
  stages: (StageRunRecord & { completedSteps: number; prefectUrl: string | null })[];
}

await runInForeground(() => defaultStackOptions(root), async (stack) => {
  const api = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${stack.gatewayUrl}${path}`, { ...init, headers: { "content-type": "application/json", ...stack.gatewayHeaders }, signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  const stages = (await api<{ stages: { id: string; name: string; steps: unknown[] }[] }>("/stages/defaults")).stages;
  const book = JSON.parse(readFileSync(resolve(root, "config/hello-world.json"), "utf8"));
  const submittedAt = Date.now();
  const { runId } = await api<{ runId: string }>("/orchestrator/run", { method: "POST", body: JSON.stringify(book) });
  console.log(`\nsubmitted the hello-world book: run ${runId}\n`);

  const bars = new cliProgress.MultiBar({ format: " {label} |{bar}| {value}/{total} {detail}", hideCursor: true, clearOnComplete: false, stopOnComplete: false }, cliProgress.Presets.shades_classic);
  const bookBar = bars.create(0, 0, { label: "book ".padEnd(24), detail: "" });
  const stageBar = bars.create(1, 0, { label: "stage".padEnd(24), detail: "" });
  let view: RunView;
  let lastSeq = 0;
  let lastProgressAt = Date.now();
  let lastEvent = "none yet";
  let stuck = false;
  for (;;) {
    const fresh = (await api<{ events: EventRecord[] }>(`/orchestrator/runs/${runId}/events?lastEventId=${lastSeq}`)).events;
    const newest = fresh.at(-1);
    if (newest) [lastSeq, lastProgressAt, lastEvent] = [newest.seq, Date.now(), `${newest.type}${newest.stepId ? ` ${newest.stepId}` : ""}`];
    view = await api<RunView>(`/orchestrator/runs/${runId}`);
    bookBar.setTotal(view.plannedSteps);
    bookBar.update(view.completedSteps, { label: "book".padEnd(24), detail: `${view.percent}% ${view.status}` });
    const current = view.stages.at(-1);
    const stage = stages.find((s) => s.id === view.currentStage);
    if (current && stage) {
      stageBar.setTotal(current.plannedSteps);
      stageBar.update(current.completedSteps, { label: stage.name.padEnd(24), detail: view.currentStep ? `step ${view.currentStep}` : current.status });
    }
    if (terminal.has(view.status)) break;
    if (view.status === "paused") lastProgressAt = Date.now(); // paused by hand (UI or API): waits for a resume
    if (Date.now() - lastProgressAt > stuckAfterMs) {
      stuck = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  bars.stop();
  if (stuck) {
    console.error(`\nthe book made no progress for ${stuckAfterMs / 60_000} minutes (no new event; the last: ${lastEvent}); giving up.
  run:  ${stack.gatewayUrl}/orchestrator/runs/${runId}
  logs: ${stack.home}/logs/ (prefect-worker-1.log, agent-worker-1.log, gateway.log)`);
    process.exitCode = 1;
    return keep ? "keep" : "stop";
  }
  const wallMs = Date.now() - submittedAt;
  const { events } = await api<{ events: EventRecord[] }>(`/orchestrator/runs/${runId}/events`);
  console.log(`\nrun ${runId} ${view.status} in ${(wallMs / 1000).toFixed(1)} s${view.error ? `: ${view.error}` : ""}\n`);
  console.log("  stage              start-up (flow run created -> first step)   total");
  for (const t of stageTimings(view.stages, events)) {
    const fmt = (v: number | null) => (v === null ? "-" : `${(v / 1000).toFixed(1)} s`);
    console.log(`  ${t.stageId.padEnd(18)} ${fmt(t.startupMs).padStart(10)}${" ".repeat(33)}${fmt(t.totalMs).padStart(8)}`);
  }
  console.log(`
  outputs:    ${stack.gatewayUrl}/orchestrator/runs/${runId}/outputs
  audit:      ${stack.gatewayUrl}/orchestrator/runs/${runId}/audit
  Prefect UI: ${stack.prefectUiUrl}/flow-runs?tags=book:${runId}   (first stage: ${view.stages[0]?.prefectUrl ?? "-"})
`);
  if (view.status !== "completed") process.exitCode = 1;
  if (keep) console.log("the stack keeps running (--keep); Ctrl-C stops it");
  return keep ? "keep" : "stop";
});
