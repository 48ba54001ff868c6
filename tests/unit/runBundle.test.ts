import { describe, expect, it } from "vitest";
import { intoThePast } from "../../api/store/bundleClock.js";
import { RunBundle } from "../../api/store/runBundle.js";

const at = "2026-11-20T10:00:00.000Z";
const document = () => ({
  format: "quire-run/1",
  exportedAt: at,
  run: { id: "r1", status: "completed", mode: "auto", request: { idea: { premise: "p" }, stages: ["idea_intake"], mode: "auto" }, createdAt: at, completedAt: at },
  stageRuns: [{ stageId: "idea_intake", attempt: 1, flowRunId: "0b6a3f4e-8c1d-4e2a-9f3b-1c2d3e4f5a6b", status: "completed", plannedSteps: 1, createdAt: at, startedAt: at, firstStepAt: at, endedAt: at }],
  outputs: [],
  audit: [],
  events: [{ seq: 1, at, type: "run.queued", percent: 0 }],
});
const issuesOf = (doc: unknown) => {
  const parsed = RunBundle.safeParse(doc);
  return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join("."));
};

describe("the run export document", () => {
  it("takes a document as exported", () => {
    expect(issuesOf(document())).toEqual([]);
  });

  it("names what the store could not keep or order: a timestamp that is not one, a flow run id Prefect never gives, an event type outside the contract, a number too large for its column", () => {
    const bad = document();
    bad.stageRuns[0]!.createdAt = "yesterday";
    bad.stageRuns[0]!.flowRunId = "not-a-flow-run";
    bad.events[0]!.type = "run.exploded";
    bad.stageRuns[0]!.attempt = 3_000_000_000;
    bad.run.id = `"><img src=x onerror=alert(1)>`; // it ends up in URLs and pages
    expect(issuesOf(bad).sort()).toEqual(["events.0.type", "run.id", "stageRuns.0.attempt", "stageRuns.0.createdAt", "stageRuns.0.flowRunId"]);
  });

  it("keeps timestamps as UTC text, so they compare in time order", () => {
    const shifted = document();
    shifted.stageRuns[0]!.createdAt = "2026-11-20T12:00:00+02:00";
    expect(RunBundle.parse(shifted).stageRuns[0]!.createdAt).toBe("2026-11-20T10:00:00.000Z");
  });

  it("moves a document from a clock that ran ahead back as a whole, keeping its order and spacing", () => {
    const doc = RunBundle.parse(document());
    const stage = doc.stageRuns[0]!;
    const hour = 3_600_000;
    const t = (ms: number) => new Date(Date.parse(at) + ms).toISOString();
    doc.stageRuns = [
      { ...stage, stageId: "idea_intake", attempt: 1, createdAt: t(0) },
      { ...stage, stageId: "idea_intake", attempt: 2, createdAt: t(2 * hour) },
      { ...stage, stageId: "structure", attempt: 1, createdAt: t(3 * hour) },
    ];
    const now = new Date(Date.parse(at) + hour); // the document's last two stage runs lie in this machine's future
    const moved = intoThePast(doc, now);
    expect(moved.stageRuns.map((s) => s.createdAt)).toEqual([t(-2 * hour), t(0), t(hour)]);
    expect(moved.events[0]!.at).toBe(t(-2 * hour));
    // A document in the past is left as it is.
    expect(intoThePast(doc, new Date(Date.parse(at) + 4 * hour))).toBe(doc);
  });
});
