import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { FlowRunView, PrefectRuns } from "../../api/prefect/prefectRuns.js";
import { FlowRunLiveness } from "../../api/runs/flowRunLiveness.js";

// The liveness rules on flow run views; Prefect's side (markCrashed) is recorded, not called.
const view = (over: Partial<FlowRunView>): FlowRunView => ({
  id: "fr", name: "fr", stateType: "SCHEDULED", stateName: "Scheduled", message: null, stateTimestamp: new Date().toISOString(),
  createdAt: null, startTime: null, endTime: null, tags: [], pauseKey: null, workQueueId: "wq", ...over,
});

function liveness() {
  const crashed: { id: string; message: string }[] = [];
  const prefect = { markCrashed: async (id: string, message: string) => void crashed.push({ id, message }) } as unknown as PrefectRuns;
  return { crashed, liveness: new FlowRunLiveness({ prefect, log: pino({ level: "silent" }), startGraceMs: 60_000 }) };
}

describe("a flow run no worker will ever start", () => {
  it("is marked Crashed when it has no work queue (created while its deployment had no work pool), saying what to do", async () => {
    const { crashed, liveness: l } = liveness();
    expect(await l.crashIfDead(view({ workQueueId: null }), {})).toBe(true);
    expect(crashed[0]!.message).toMatch(/no work queue.*deploy run-stage again/);
  });

  it("is not one that waits in a queue for a worker, however new", async () => {
    const { crashed, liveness: l } = liveness();
    expect(await l.crashIfDead(view({}), {})).toBe(false);
    expect(crashed).toEqual([]);
  });
});
