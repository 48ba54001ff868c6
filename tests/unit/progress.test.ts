import { describe, expect, it } from "vitest";
import { percentComplete } from "../../api/runs/progress.js";
import { stageStartedAt, stageTimings } from "../../api/runs/stageTimings.js";
import type { EventRecord, StageRunRecord } from "../../api/store/records.js";

describe("percentComplete", () => {
  it("is accepted planned steps over planned steps, to one decimal", () => {
    expect(percentComplete(["A", "B", "C"], ["A"])).toBe(33.3);
    expect(percentComplete(["A", "B"], ["A", "B"])).toBe(100);
  });
  it("counts a repeated (looped) step once and ignores steps outside the plan", () => {
    expect(percentComplete(["A", "B"], ["A", "A", "Z"])).toBe(50);
  });
  it("is 0 for an empty plan", () => {
    expect(percentComplete([], ["A"])).toBe(0);
  });
});

describe("stageTimings", () => {
  const stage = (stageId: string, createdAt: string, endedAt: string | null): StageRunRecord => ({
    runId: "r", stageId, attempt: 1, flowRunId: "f", status: "completed", plannedSteps: 1, createdAt, startedAt: null, endedAt,
  });
  const started = (stageId: string, at: string): EventRecord => ({ id: 1, seq: 1, runId: "r", at, type: "step.started", stageId, percent: 0 });

  it("measures start-up to the stage's first step and the stage's total", () => {
    const timings = stageTimings([stage("a", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:05.000Z")], [started("a", "2026-01-01T00:00:02.500Z"), started("a", "2026-01-01T00:00:03.000Z")]);
    expect(timings).toEqual([{ stageId: "a", attempt: 1, startupMs: 2500, totalMs: 5000 }]);
  });
  it("leaves unknown timings null", () => {
    expect(stageTimings([stage("a", "2026-01-01T00:00:00.000Z", null)], [])[0]).toMatchObject({ startupMs: null, totalMs: null });
  });
});

describe("stageStartedAt", () => {
  const stage = { createdAt: "2026-01-01T00:00:10.000Z" };
  it("is the flow run's start when the flow run started for this stage", () => {
    expect(stageStartedAt(stage, "2026-01-01T00:00:11.000Z")).toBe("2026-01-01T00:00:11.000Z");
  });
  it("is the stage's creation for a standby flow run that was up before the stage was given to it", () => {
    expect(stageStartedAt(stage, "2026-01-01T00:00:02.000Z")).toBe(stage.createdAt);
  });
});
