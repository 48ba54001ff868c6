import { describe, expect, it } from "vitest";
import { intoThePast } from "../../api/store/bundleClock.js";
import { nestingDepth, RunBundle } from "../../api/store/runBundle.js";

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

  it("bounds an imported run's request as a submission is bounded: its text, category, model and token limit feed every prompt", () => {
    const big = document() as ReturnType<typeof document> & { run: { category?: string; request: { overrides?: unknown } } };
    big.run.request.idea.premise = "Q".repeat(5001);
    big.run.category = "Not A <b>Category</b>";
    big.run.request.overrides = { model: "a#frag", maxTokens: 10_000_000, stages: { idea_intake: { model: "../../x" } } };
    expect(issuesOf(big).sort()).toEqual(["run.category", "run.request.idea.premise", "run.request.overrides.maxTokens", "run.request.overrides.model", "run.request.overrides.stages.idea_intake.model"]);
  });

  it("refuses JSON nested more than 64 deep where the store writes it (it would overflow JSON.stringify's stack: a 500)", () => {
    const deep = (n: number) => {
      let value: unknown = "x";
      for (let i = 0; i < n; i++) value = [value];
      return value;
    };
    const doc = document() as Record<string, unknown> & ReturnType<typeof document>;
    const audit = { stageId: "idea_intake", stageAttempt: 1, stepId: "I1", iteration: 1, jobId: "j", attempt: 1, provider: "mock", model: "m", temperature: 0, maxTokens: 1, request: deep(64), response: deep(65), outcome: "accepted", error: null, inputTokens: null, outputTokens: null, latencyMs: 1, finishReason: null, createdAt: at };
    (doc as { audit: unknown[] }).audit = [audit];
    (doc.events[0] as { data?: unknown }).data = { a: deep(100_000) };
    expect(issuesOf(doc).sort()).toEqual(["audit.0.response", "events.0.data"]);
  });

  it("counts nesting without recursion, and stops counting past its limit", () => {
    let value: unknown = 1;
    for (let i = 0; i < 1_000_000; i++) value = { v: value };
    expect(nestingDepth(value, 64)).toBe(65);
    expect(nestingDepth({ a: [1, { b: null }], c: "x" }, 64)).toBe(3);
    expect(nestingDepth("scalar", 64)).toBe(0);
  });

  it("finds a clock that ran ahead among hundreds of thousands of timestamps (Math.max(...) overflowed the stack)", () => {
    const doc = RunBundle.parse(document());
    const ahead = new Date(Date.parse(at) + 60_000).toISOString();
    doc.events = Array.from({ length: 300_000 }, (_, i) => ({ seq: i + 1, at: i === 299_999 ? ahead : at, type: "step.heartbeat" as const, percent: 0 }));
    expect(intoThePast(doc, new Date(at)).events.at(-1)!.at).toBe(at);
  });
});
