import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ProgressEvent, progressEventJsonSchema } from "../../api/events/progressEvent.js";

describe("docs/events.schema.json", () => {
  it("matches the zod schema (run `npx tsx scripts/exportEventSchema.ts` after changing it)", () => {
    const checkedIn = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../docs/events.schema.json"), "utf8"));
    expect(checkedIn).toEqual(progressEventJsonSchema());
  });

  it("accepts an event as the gateway writes it and refuses an unknown type", () => {
    const event = { id: 7, seq: 3, runId: "r", at: "2026-11-25T10:00:00.000Z", type: "step.completed", stageId: "structure", stepId: "S1", status: "completed", percent: 10.3, data: { iteration: 1 } };
    expect(ProgressEvent.safeParse(event).success).toBe(true);
    expect(ProgressEvent.safeParse({ ...event, type: "step.exploded" }).success).toBe(false);
  });
});
