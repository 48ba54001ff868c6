import type { EventRecord, StageRunRecord } from "../store/records.js";

export interface StageTiming {
  stageId: string;
  attempt: number;
  /** Flow run created → its first step started: Prefect scheduling, worker poll and process start-up. */
  startupMs: number | null;
  /** Flow run created → stage completed. */
  totalMs: number | null;
}

const ms = (from: string | null | undefined, to: string | null | undefined) => (from && to ? Date.parse(to) - Date.parse(from) : null);

/** Per-stage timings from the stored stage runs and events. Pure. */
export function stageTimings(stageRuns: StageRunRecord[], events: EventRecord[]): StageTiming[] {
  return stageRuns.map((s) => {
    const firstStep = events.find((e) => e.type === "step.started" && e.stageId === s.stageId && Date.parse(e.at) >= Date.parse(s.createdAt));
    return { stageId: s.stageId, attempt: s.attempt, startupMs: ms(s.createdAt, firstStep?.at), totalMs: ms(s.createdAt, s.endedAt) };
  });
}
