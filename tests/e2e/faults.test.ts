import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { auditOf, call, eventually, events, helloWorld, midStructure, outputsOf, stackControl, stackPids, waitForRun } from "./gatewayClient.js";
import { pausedMidStructure, prefect } from "./prefectView.js";

const submit = async (premise: string, extra: object = {}) => (await call("/orchestrator/run", { body: { ...helloWorld(premise), stages: ["idea_intake", "structure"], ...extra } })).body.runId as string;
const oneOutputPerStep = async (runId: string) => {
  const list = await outputsOf(runId, true);
  expect(list.map((o) => o.stepId).sort()).toEqual(["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7"]);
  expect(list.every((o) => o.status === "accepted")).toBe(true);
};

/** Sends a run command while Redis is down: it answers 503, saying the run's status changed all the same. */
const commandWithoutRedis = async (runId: string, command: string, body: object | undefined, statusNow: string) => {
  const warnedBefore = redisWarnings();
  // Stopped, not killed: the stack starts a process that dies on its own again after 1 s, which could
  // bring Redis back while a command (slowed by its own retries of Redis) is still under way.
  await stackControl("stop", "redis");
  try {
    const res = await call(`/orchestrator/runs/${runId}/${command}`, body ? { body } : { method: "POST" });
    expect(res.status).toBe(503);
    expect(res.body.error.message).toContain(`is ${statusNow} now`);
    // The outage is heard by every connection as a warning in its process's log, none left unhandled
    // for ioredis to print, unstructured, on stderr.
    await eventually("the outage warned of", async () => redisWarnings().every((n, i) => n > warnedBefore[i]!));
    for (const name of loggingProcesses) expect(logOf(name), name).not.toContain("Unhandled error event");
  } finally {
    await stackControl("restart", "redis");
  }
};
const loggingProcesses = ["gateway", "agent-worker-1"];
const logOf = (name: string) => readFileSync(join(inject("stackHome"), "logs", `${name}.log`), "utf8");
const redisWarnings = () => loggingProcesses.map((name) => logOf(name).split("redis connection error").length - 1);

describe("faults on the real stack", () => {
  it("hands a step to another agent worker when its worker is SIGKILLed mid-step, and writes its output once", async () => {
    const runId = await submit(`agent-kill ${Date.now()} [mock:delay=2500@S2]`);
    const started = await eventually("S2 started", async () => (await events(runId)).find((e) => e.type === "step.started" && e.stepId === "S2"));
    const pid = Number(String(started.data.worker).split(":")[1]);
    const pids = await stackPids();
    const victim = Object.keys(pids).find((name) => pids[name] === pid)!;
    expect(victim).toMatch(/^agent-worker-/);
    await stackControl("kill", victim);
    try {
      expect((await waitForRun(runId)).status).toBe("completed");
      const s2Starts = (await events(runId)).filter((e) => e.type === "step.started" && e.stepId === "S2");
      expect(s2Starts.length).toBeGreaterThanOrEqual(2);
      expect(new Set(s2Starts.map((e) => e.data.worker)).size).toBeGreaterThanOrEqual(2);
      await oneOutputPerStep(runId);
    } finally {
      await stackControl("restart", victim);
    }
  });

  it("starts a stage again when its Prefect worker is SIGKILLed mid-stage (the flow run ends Crashed)", async () => {
    const runId = await submit(`prefect-worker-kill ${Date.now()} [mock:delay=1200]`);
    await waitForRun(runId, { until: midStructure });
    await eventually("a step in flight", async () => (await events(runId)).at(-1)?.type === "step.started");
    await stackControl("kill", "prefect-worker-1"); // its process group: the flow process dies with it
    await stackControl("restart", "prefect-worker-1");
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    const structure = run.stages.filter((s: any) => s.stageId === "structure");
    expect(structure.map((s: any) => s.attempt)).toEqual([1, 2]);
    expect((await prefect().readFlowRun(structure[0].flowRunId)).stateType).toBe("CRASHED");
    // A client's stream says attempt 1 failed (once) before attempt 2 started.
    const stageEvents = (await events(runId)).filter((e) => e.type.startsWith("stage.") && e.stageId === "structure").map((e) => [e.type, e.data.attempt, e.data.state]);
    expect(stageEvents).toEqual([["stage.started", 1, undefined], ["stage.failed", 1, "CRASHED"], ["stage.started", 2, undefined], ["stage.completed", 2, undefined]]);
    // The step the kill cut off is marked Crashed too, not left Running in the Prefect UI forever.
    const cutOff = await prefect().taskRunsOf(structure[0].flowRunId);
    expect(cutOff.filter((t) => t.stateType === "RUNNING" || t.stateType === "PENDING")).toEqual([]);
    expect(cutOff.some((t) => t.stateType === "CRASHED")).toBe(true);
    await oneOutputPerStep(runId);
    // Steps done before the crash were not asked of the provider again.
    const accepted = (await auditOf(runId)).filter((a) => a.outcome === "accepted").map((a) => a.stepId);
    expect(accepted.filter((s) => s === "S1")).toHaveLength(1);
  });

  it("starts a stage again when its Prefect worker alone is stopped (SIGTERM) mid-stage: the worker ends its flow process, known at once", async () => {
    const runId = await submit(`prefect-worker-stop ${Date.now()} [mock:delay=1200]`);
    await waitForRun(runId, { until: midStructure });
    // To the worker's process alone, as `docker compose stop` or systemd sends it (the launcher's SIGTERM to
    // the whole group is what the standby test's stop sends). Unless the worker passed it on, its flow
    // process would go on, orphaned, until the supervisor's SIGKILL, and be known only once its lease lapsed.
    await stackControl("term", "prefect-worker-1");
    await stackControl("restart", "prefect-worker-1");
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    const structure = run.stages.filter((s: any) => s.stageId === "structure");
    expect(structure.map((s: any) => s.attempt)).toEqual([1, 2]);
    const first = await prefect().readFlowRun(structure[0].flowRunId);
    expect(first.stateType).toBe("CRASHED");
    // Known at once, not after its lease lapsed ("stopped renewing its lease"): from the flow process's last
    // words in its lease, or from the worker, which outlives its flow processes and reports their end.
    expect(first.message).toMatch(/was stopped \(SIGTERM|exited with non-zero status code -15/);
    await oneOutputPerStep(runId);
  });

  it("pauses, not hangs or fails, when the Prefect worker is SIGKILLed while a pause waits for the step in flight", async () => {
    const runId = await submit(`pause-then-kill ${Date.now()} [mock:delay=1200]`);
    await eventually("a structure step in flight", async () => (await events(runId)).at(-1)?.type === "step.started" && (await events(runId)).at(-1)?.stageId === "structure");
    expect((await call(`/orchestrator/runs/${runId}/pause`, { method: "POST" })).body.status).toBe("pausing");
    await stackControl("kill", "prefect-worker-1"); // the suspended flow run's process dies mid-step
    await stackControl("restart", "prefect-worker-1");
    const paused = await waitForRun(runId, { until: (r) => r.status !== "pausing" && r.status !== "running" });
    expect(paused.status, paused.error).toBe("paused");
    const structure = paused.stages.find((s: any) => s.stageId === "structure");
    // The step the kill cut off is not left Running in the Prefect UI.
    expect((await prefect().taskRunsOf(structure.flowRunId)).filter((t) => t.stateType === "RUNNING")).toEqual([]);
    expect((await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" })).status).toBe(200);
    expect((await waitForRun(runId)).status).toBe("completed");
    await oneOutputPerStep(runId);
    const accepted = (await auditOf(runId)).filter((a) => a.outcome === "accepted").map((a) => a.stepId);
    expect(accepted.sort()).toEqual(["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7"]); // no step asked twice
  });

  it("goes on after the whole stack is killed at once (a power loss) and started again: no book left running, no step asked twice", async () => {
    const runId = await submit(`power-loss ${Date.now()} [mock:delay=800]`);
    await waitForRun(runId, { until: midStructure });
    await stackControl("kill", "all");
    await stackControl("restart", "all");
    const run = await waitForRun(runId);
    expect(run.status, run.error).toBe("completed");
    await oneOutputPerStep(runId);
    const accepted = (await auditOf(runId)).filter((a) => a.outcome === "accepted").map((a) => a.stepId);
    expect(accepted.sort()).toEqual(["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7"]);
    // The stage the power loss cut off ran again as a new attempt; its first one is not left Running in Prefect.
    const structure = run.stages.filter((s: any) => s.stageId === "structure");
    expect(structure.map((s: any) => [s.attempt, s.status])).toEqual([[1, "failed"], [2, "completed"]]);
    expect((await prefect().readFlowRun(structure[0].flowRunId)).stateType).toBe("CRASHED");
    await eventually("healthy again", async () => (await call("/health")).status === 200);
  });

  it("survives a Redis restart mid-run (append-only persistence keeps the queue)", async () => {
    const runId = await submit(`redis-restart ${Date.now()} [mock:delay=800]`);
    await waitForRun(runId, { until: midStructure });
    await stackControl("kill", "redis");
    await stackControl("restart", "redis");
    expect((await waitForRun(runId)).status).toBe("completed");
    await oneOutputPerStep(runId);
    await eventually("healthy again", async () => (await call("/health")).status === 200);
  });

  it("finishes a cancel that Redis cut short: a paused run cancelled while Redis is down ends cancelled once it is back", async () => {
    const { runId, flowRun } = await pausedMidStructure("cancel-without-redis");
    // The run's status is written before Redis is needed (its hold flag): the answer says so.
    await commandWithoutRedis(runId, "cancel", undefined, "cancelling");
    // Not left cancelling for as long as Prefect keeps the suspended flow run (weeks): the driver asks again.
    expect((await waitForRun(runId)).status).toBe("cancelled");
    expect((await prefect().readFlowRun(flowRun.id)).stateType).toBe("CANCELLED");
    await eventually("healthy again", async () => (await call("/health")).status === 200);
  });

  it("finishes a rollback that Redis cut short: the rolled-back stage runs again once Redis is back, not the paused one", async () => {
    const { runId, flowRun } = await pausedMidStructure("rollback-without-redis");
    // The status, the superseded outputs and the new attempt are written before Redis is needed.
    await commandWithoutRedis(runId, "rollback", { toStage: "idea_intake" }, "running");
    const done = await waitForRun(runId);
    expect(done.status, done.error).toBe("completed");
    expect(done.stages.map((s: any) => [s.stageId, s.attempt, s.status])).toEqual([
      ["idea_intake", 1, "completed"],
      ["structure", 1, "superseded"],
      ["idea_intake", 2, "completed"],
      ["structure", 2, "completed"],
    ]);
    const outputs = await outputsOf(runId, true);
    expect(outputs.filter((o) => o.stepId === "IDEA").map((o) => o.status)).toEqual(["superseded", "accepted"]);
    // The paused attempt's flow run is not left suspended in Prefect: the orphan sweep ends it.
    await eventually("the old flow run ended", async () => (await prefect().readFlowRun(flowRun.id)).stateType === "CANCELLED", 60_000);
  });

  it("finishes an advance that Redis cut short: the next stage runs once Redis is back, not paused again at the boundary", async () => {
    const runId = await submit(`advance-without-redis ${Date.now()}`, { mode: "manual" });
    await waitForRun(runId, { until: (r) => r.status === "paused" && r.stages.at(-1)?.status === "completed" });
    // The status, run.resumed and the next stage's attempt are written before Redis is needed (the hold flag).
    await commandWithoutRedis(runId, "advance", undefined, "running");
    const done = await waitForRun(runId);
    expect(done.status, done.error).toBe("completed");
    expect(done.stages.map((s: any) => [s.stageId, s.attempt, s.status])).toEqual([
      ["idea_intake", 1, "completed"],
      ["structure", 1, "completed"],
    ]);
    // One advance, one resume: the driver did not pause the run again at the boundary it was advanced from.
    expect((await events(runId)).filter((e) => e.type === "run.paused" || e.type === "run.resumed").map((e) => e.type)).toEqual(["run.paused", "run.resumed"]);
    await oneOutputPerStep(runId);
  });

  it("survives a Prefect server that is down for seconds mid-run: no step asked twice, no task run left Running", async () => {
    const runId = await submit(`prefect-restart ${Date.now()} [mock:delay=800]`);
    await waitForRun(runId, { until: midStructure });
    await stackControl("kill", "prefect-server");
    // Down long enough for the flow to start or finish a step meanwhile (that once failed the book).
    await new Promise((r) => setTimeout(r, 3000));
    await stackControl("restart", "prefect-server");
    const run = await waitForRun(runId, { timeoutMs: 240_000 });
    expect(run.status, run.error).toBe("completed");
    await oneOutputPerStep(runId);
    const accepted = (await auditOf(runId)).filter((a) => a.outcome === "accepted").map((a) => a.stepId);
    expect(accepted.filter((s) => s === "S1" || s === "S2")).toEqual(["S1", "S2"]);
    for (const stage of run.stages) {
      const taskRuns = await prefect().taskRunsOf(stage.flowRunId);
      expect(taskRuns.filter((t) => t.stateType === "RUNNING" || t.stateType === "PENDING" || t.stateType === "SCHEDULED")).toEqual([]);
    }
  });

  it("fails a step whose provider hangs: each call times out, retries, then the run fails with a clear reason", async () => {
    const origin = inject("fakeOpenAiUrl");
    // 4 calls per try (the retry policy) × 3 tries (Prefect retries) hang, each cut at 2 s (QUIRE_PROVIDER_TIMEOUT_MS in globalSetup.ts).
    await fetch(`${origin}/__script`, { method: "POST", body: JSON.stringify(Array.from({ length: 12 }, () => ({ kind: "hang" }))) });
    const runId = await submit(`hang ${Date.now()}`, { provider: "openai", stages: ["idea_intake"] });
    const run = await waitForRun(runId, { timeoutMs: 200_000 });
    expect(run.status).toBe("failed");
    expect(run.error).toContain("idea_intake");
    // Every HTTP call is an exchange of its own in the audit: four per try, three tries.
    const errors = (await auditOf(runId)).filter((a) => a.outcome === "error");
    expect(errors.map((a) => a.attempt)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(errors.every((a) => /time/i.test(a.error))).toBe(true);
    expect((await events(runId)).filter((e) => e.type === "step.retrying")).toHaveLength(2);
  });
});
