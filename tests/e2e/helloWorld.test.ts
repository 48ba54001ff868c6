import { beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import { call, helloWorld, waitForRun } from "./gatewayClient.js";
import { book } from "../fixtures/bookShape.js";

const premise = `Hello world e2e ${Date.now()}: small habits compound`;

describe("the hello-world book on the real stack", () => {
  let runId: string;
  let run: any;

  beforeAll(async () => {
    const submitted = await call("/orchestrator/run", { body: helloWorld(premise) });
    expect(submitted.status).toBe(202);
    runId = submitted.body.runId;
    run = await waitForRun(runId);
  });

  it("completes all seven stages", () => {
    expect(run).toMatchObject({ status: "completed", percent: 100, completedSteps: book.steps, plannedSteps: book.steps, error: null });
    expect(run.stages.map((s: any) => [s.stageId, s.status])).toEqual(book.stageIds.map((id) => [id, "completed"]));
  });

  it("persists one output per step that a reader can trace back to the idea", async () => {
    const { body } = await call(`/orchestrator/runs/${runId}/outputs`);
    expect(body.outputs).toHaveLength(book.steps);
    for (const output of body.outputs) {
      expect(output).toMatchObject({ status: "accepted", version: 1, provider: "mock" });
      expect(JSON.stringify(output.content)).toContain(premise);
    }
    const w2 = body.outputs.find((o: any) => o.stepId === "W2");
    expect(w2.content.body).toContain("W1"); // W2 reads W1: the chain is visible in the text
  });

  it("serves one stage's outputs", async () => {
    const { status, body } = await call(`/orchestrator/runs/${runId}/outputs/structure`);
    expect(status).toBe(200);
    expect(body.outputs.map((o: any) => o.stepId)).toEqual(["S1", "S2", "S3", "S4", "S5", "S6", "S7"]);
  });

  it("records one audit entry per exchange with the provider's settings", async () => {
    const { body } = await call(`/orchestrator/runs/${runId}/audit`);
    expect(body.entries).toHaveLength(book.steps);
    for (const entry of body.entries) {
      expect(entry).toMatchObject({ outcome: "accepted", provider: "mock", model: "mock-writer-1", attempt: 1 });
      expect(entry.request.prompt).toContain(premise);
      expect(entry.inputTokens).toBeGreaterThan(0);
    }
    expect(body.nextAfterId).toBeUndefined();
    // Page by page: a full page says where the next starts; the pages hold every entry once, in order.
    const paged: number[] = [];
    let after: number | undefined;
    do {
      const page = (await call(`/orchestrator/runs/${runId}/audit?limit=10${after ? `&afterId=${after}` : ""}`)).body;
      paged.push(...page.entries.map((e: any) => e.id));
      after = page.nextAfterId;
    } while (after);
    expect(paged).toEqual(body.entries.map((e: any) => e.id));
  });

  it("holds in Prefect seven completed flow runs tagged with the run, each with its steps as task runs", async () => {
    const prefect = new PrefectRuns(createPrefectClient(inject("prefectApiUrl")), "run-stage/quire");
    const flowRuns = await prefect.flowRunsTagged([`book:${runId}`]);
    expect(flowRuns).toHaveLength(book.stages);
    for (const flowRun of flowRuns) {
      expect(flowRun.stateType).toBe("COMPLETED");
      const stageTag = flowRun.tags.find((t) => t.startsWith("stage:"))!;
      const taskRuns = await prefect.taskRunsOf(flowRun.id);
      expect(taskRuns).toHaveLength(book.stepsOf(stageTag.slice("stage:".length)).length);
      expect(taskRuns.every((t) => t.stateType === "COMPLETED" && t.tags.includes(`book:${runId}`))).toBe(true);
    }
    expect(run.stages.map((s: any) => s.flowRunId).sort()).toEqual(flowRuns.map((f) => f.id).sort());
  });

  it("keeps a progress event log with monotonic seq and percent", async () => {
    const { body } = await call(`/orchestrator/runs/${runId}/events`);
    const types = body.events.map((e: any) => e.type);
    expect(types[0]).toBe("run.queued");
    expect(types.at(-1)).toBe("run.completed");
    expect(types.filter((t: string) => t === "step.completed")).toHaveLength(book.steps);
    expect(types.filter((t: string) => t === "stage.completed")).toHaveLength(book.stages);
    body.events.forEach((e: any, i: number) => expect(e.seq).toBe(i + 1));
    const percents = body.events.map((e: any) => e.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
  });

  it("exports the whole run as one document that another installation can import", async () => {
    const res = await fetch(`${inject("gatewayUrl")}/orchestrator/runs/${runId}/export`);
    expect(res.headers.get("content-disposition")).toContain(`quire-run-${runId}.json`);
    const bundle = await res.json();
    expect(bundle).toMatchObject({ format: "quire-run/1", run: { id: runId, status: "completed" } });
    expect(bundle.outputs).toHaveLength(book.steps);
    expect(bundle.audit).toHaveLength(book.steps);
    expect(bundle.stageRuns).toHaveLength(book.stages);
    expect((await call("/orchestrator/import", { body: bundle })).status).toBe(409);
    const copyId = crypto.randomUUID();
    const copy = { ...bundle, run: { ...bundle.run, id: copyId } };
    const imported = await call("/orchestrator/import", { body: copy });
    expect(imported.status).toBe(201);
    const view = (await call(`/orchestrator/runs/${copyId}`)).body;
    expect(view).toMatchObject({ status: "completed", percent: 100 });
    // Its stage attempts name no flow run: those were the other installation's (or, here, another book's,
    // which a cancel or rollback of the copy would have acted on). Its events still name them.
    expect(view.stages.map((s: any) => [s.flowRunId, s.prefectUrl])).toEqual(view.stages.map(() => [null, null]));
    const started = (await call(`/orchestrator/runs/${copyId}/events`)).body.events.filter((e: any) => e.type === "stage.started");
    expect(started.map((e: any) => e.data.flowRunId)).toEqual(bundle.stageRuns.map((s: any) => s.flowRunId));
    expect((await call(`/orchestrator/runs/${copyId}/outputs`)).body.outputs.map((o: any) => o.content)).toEqual((await call(`/orchestrator/runs/${runId}/outputs`)).body.outputs.map((o: any) => o.content));
    expect((await call("/orchestrator/import", { body: { format: "quire-run/2" } })).status).toBe(400);
    const audit = async (id: string) => (await call(`/orchestrator/runs/${id}/audit`)).body.entries.map((e: any) => [e.stepId, e.createdAt]);
    expect(await audit(copyId)).toEqual(await audit(runId));
  });

  it("imports a run that was mid-stage elsewhere as failed; resume continues it here on a new flow run", async () => {
    const bundle = await (await fetch(`${inject("gatewayUrl")}/orchestrator/runs/${runId}/export`)).json();
    // As the other installation exported it: running its writing stage, on a flow run this Prefect never had.
    const copyId = crypto.randomUUID();
    const copy = {
      ...bundle,
      run: { ...bundle.run, id: copyId, status: "running", completedAt: null, currentStageId: "writing" },
      // Every stage after writing (none in the default graph) not started yet.
      stageRuns: bundle.stageRuns
        .filter((s: any) => book.stageIds.indexOf(s.stageId) <= book.stageIds.indexOf("writing"))
        .map((s: any) => (s.stageId === "writing" ? { ...s, flowRunId: crypto.randomUUID(), status: "running", endedAt: null } : s)),
      outputs: bundle.outputs.filter((o: any) => book.stageIds.indexOf(o.stageId) < book.stageIds.indexOf("writing") || ["G1", "G2", "G3"].includes(o.stepId)),
    };
    expect((await call("/orchestrator/import", { body: copy })).status).toBe(201);
    expect((await call(`/orchestrator/runs/${copyId}`)).body).toMatchObject({ status: "failed", error: expect.stringContaining("resume continues it here") });
    expect((await call(`/orchestrator/runs/${copyId}/resume`, { method: "POST" })).status).toBe(200);
    const continued = await waitForRun(copyId);
    expect(continued.status).toBe("completed");
    expect(continued.stages.filter((s: any) => s.stageId === "writing").map((s: any) => [s.attempt, s.status])).toEqual([[1, "failed"], [2, "completed"]]);
    const outputs = (await call(`/orchestrator/runs/${copyId}/outputs`)).body.outputs;
    expect(outputs).toHaveLength(book.steps);
    // The writing steps done elsewhere were kept, the rest written here.
    expect(outputs.filter((o: any) => o.stageId === "writing" && o.stageAttempt === 1).map((o: any) => o.stepId)).toEqual(["G1", "G2", "G3"]);
  });

  it("refuses a damaged export with a 400 that names the record, and writes nothing of it", async () => {
    const bundle = await (await fetch(`${inject("gatewayUrl")}/orchestrator/runs/${runId}/export`)).json();
    const damaged: [string, (b: any) => void][] = [
      [`outputs.${book.steps}`, (b) => b.outputs.push(b.outputs[0])],
      [`events.${bundle.events.length}`, (b) => b.events.push(b.events[0])],
      [`stageRuns.${book.stages}`, (b) => b.stageRuns.push(b.stageRuns[0])],
      [`run.request.stages.${book.stages}`, (b) => b.run.request.stages.push("poetry")],
      ["run.status", (b) => (b.run.status = "weird")],
      ["outputs.0.stepId", (b) => (b.outputs[0].stepId = "W1")],
      ["audit.0.createdAt", (b) => delete b.audit[0].createdAt],
    ];
    for (const [path, damage] of damaged) {
      const copy = structuredClone(bundle);
      copy.run.id = crypto.randomUUID();
      damage(copy);
      const { status, body } = await call("/orchestrator/import", { body: copy });
      expect({ path, status }).toEqual({ path, status: 400 });
      expect(body.error.details.issues.map((i: any) => i.path)).toContain(path);
      expect((await call(`/orchestrator/runs/${copy.run.id}`)).status).toBe(404);
    }
  });

  it("reports every dependency healthy", async () => {
    const { status, body } = await call("/health");
    expect(status).toBe(200);
    expect(body.checks).toEqual({ prefect: "ok", prefectWorkers: "ok", redis: "ok", store: "ok", workers: "ok" });
  });
});
