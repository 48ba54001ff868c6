import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import { pino } from "pino";
import type { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import { updateStageRunWithEvent } from "../../api/runs/runEvents.js";
import { StageLauncher } from "../../api/runs/stageLauncher.js";
import type { StandbyHandOver } from "../../api/runs/standbyHandOver.js";
import { openSqliteStore } from "../../api/store/openStore.js";
import type { SqlStore } from "../../api/store/sqlStore.js";

// Two gateways on one run, one of whose drive locks lapsed (Redis away for a TTL): the second hand to
// record a stage's flow run or its end changes nothing, on the real store.
const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
let store: SqlStore;
beforeAll(async () => {
  store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), "quire-srw-")), "store.db"), { migrate: true });
});
afterAll(() => store.close());

async function runWithStage() {
  const { run } = await store.createRun({ id: randomUUID(), request: { idea: { premise: "p" }, stages: ["idea_intake", "structure"], mode: "auto" } });
  await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
  return { run, key: { runId: run.id, stageId: "idea_intake", attempt: 1 } };
}
const types = async (runId: string) => (await store.listEvents(runId)).map((e) => e.type);

describe("a stage run's change with its event, only when the stage run still allows it", () => {
  it("gives an attempt one flow run: a second hand's is refused, and stage.started is written once", async () => {
    const { run, key } = await runWithStage();
    const start = (flowRunId: string) =>
      updateStageRunWithEvent(store, graph, run, key, { flowRunId }, { type: "stage.started", stageId: "idea_intake", data: { flowRunId } }, (s) => !s.flowRunId);
    expect(await start("fr-created")).toBe(true);
    expect(await start("fr-spare")).toBe(false);
    expect((await store.listStageRuns(run.id))[0]!.flowRunId).toBe("fr-created");
    expect(await types(run.id)).toEqual(["run.queued", "stage.started"]);
  });

  it("completes a stage once: a second hand's completion is refused, so it does not go on to the next stage again", async () => {
    const { run, key } = await runWithStage();
    const complete = () =>
      updateStageRunWithEvent(store, graph, run, key, { status: "completed", endedAt: new Date().toISOString() }, { type: "stage.completed", stageId: "idea_intake" }, (s) => s.status !== "completed");
    const [first, second] = await Promise.all([complete(), complete()]);
    expect([first, second].sort()).toEqual([false, true]);
    expect(await types(run.id)).toEqual(["run.queued", "stage.completed"]);
  });
});

describe("a stage handed to a waiting flow run", () => {
  it("is recorded, with its stage.started, before the flow run is renamed in Prefect: the flow runs its steps as soon as it is handed the stage", async () => {
    const { run } = await runWithStage();
    const stage = (await store.listStageRuns(run.id))[0]!;
    let atRename: string[] = [];
    const handOver = { handOver: async () => ({ flowRunId: "fr-waiting", describe: async () => void (atRename = await types(run.id)) }) };
    const launcher = new StageLauncher({ store, prefect: {} as PrefectRuns, graph, providerDefaults: { models: { mock: "mock-writer-1", openai: "o", gemini: "g" } }, log: pino({ level: "silent" }), handOver: handOver as unknown as StandbyHandOver });
    await launcher.createFlowRun(run, stage);
    expect(atRename).toEqual(["run.queued", "stage.started"]);
    expect((await store.listStageRuns(run.id))[0]!.flowRunId).toBe("fr-waiting");
  });
});
