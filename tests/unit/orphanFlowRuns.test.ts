import { describe, expect, it } from "vitest";
import type { FlowRunView, PrefectStateType } from "../../api/prefect/prefectRuns.js";
import { orphanFlowRuns } from "../../api/runs/orphanFlowRuns.js";
import type { StageRunRecord } from "../../api/store/records.js";

const now = Date.parse("2026-11-26T12:00:00Z");
const ago = (ms: number) => new Date(now - ms).toISOString();
const stage = (stageId: string, attempt: number, flowRunId: string | null): StageRunRecord => ({
  runId: "book", stageId, attempt, flowRunId, status: "running", plannedSteps: 1, createdAt: ago(60_000), startedAt: null, endedAt: null,
});
const flowRun = (id: string, stateType: PrefectStateType, sinceMs = 60_000): FlowRunView => ({
  id, name: id, stateType, stateName: stateType, message: null, stateTimestamp: ago(sinceMs), createdAt: ago(sinceMs), startTime: null, endTime: null, tags: ["book:book"], pauseKey: null, workQueueId: "wq",
});
const ids = (runs: FlowRunView[]) => runs.map((r) => r.id);

describe("a book's orphan flow runs", () => {
  const stages = [stage("idea_intake", 1, "fr-idea-1"), stage("idea_intake", 2, "fr-idea-2"), stage("structure", 1, "fr-structure-1")];

  it("are the live flow runs of its earlier stage attempts, not of the attempt it is at", () => {
    const live = [flowRun("fr-idea-1", "PAUSED"), flowRun("fr-idea-2", "RUNNING"), flowRun("fr-structure-1", "PENDING")];
    expect(ids(orphanFlowRuns(stages, false, live, now, 10_000))).toEqual(["fr-idea-1", "fr-idea-2"]);
  });

  it("are all of its live flow runs once the book has finished", () => {
    expect(ids(orphanFlowRuns(stages, true, [flowRun("fr-structure-1", "PAUSED")], now, 10_000))).toEqual(["fr-structure-1"]);
  });

  it("leave out flow runs that are ending, or that changed state within the grace period", () => {
    const live = [flowRun("fr-idea-1", "CANCELLING"), flowRun("fr-idea-2", "RUNNING", 2_000)];
    expect(orphanFlowRuns(stages, false, live, now, 10_000)).toEqual([]);
    expect(orphanFlowRuns(stages, true, [flowRun("fr-idea-1", "COMPLETED"), flowRun("fr-idea-2", "CRASHED")], now, 10_000)).toEqual([]);
  });

  it("leave out the flow run of a stage that ended within the grace period, though it has been Running longer (a stage ends when its last output is in)", () => {
    const ended = [{ ...stage("idea_intake", 1, "fr-idea-1"), status: "completed" as const, endedAt: ago(2_000) }, stage("structure", 1, "fr-structure-1")];
    expect(orphanFlowRuns(ended, false, [flowRun("fr-idea-1", "RUNNING", 120_000)], now, 10_000)).toEqual([]);
    expect(ids(orphanFlowRuns(ended, false, [flowRun("fr-idea-1", "RUNNING", 120_000)], now + 20_000, 10_000))).toEqual(["fr-idea-1"]);
  });

  it("leave out flow runs no stage attempt records: a standby or spare, or one being handed its stage", () => {
    expect(orphanFlowRuns(stages, true, [flowRun("fr-standby", "RUNNING")], now, 10_000)).toEqual([]);
  });
});
