import type { EventRecord, StageRunRecord } from "../store/records.js";

export interface StageTiming {
  stageId: string;
  attempt: number;
  /**
   * Stage recorded → its first step started: the hand-over to a waiting flow run, or a new flow run's
   * scheduling, worker poll and process start-up.
   */
  startupMs: number | null;
  /** Stage recorded → stage completed. */
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

/**
 * When a stage started running: its flow run's start, or the stage's own creation for a standby flow run
 * that started before the stage was given to it. Now when Prefect has no start yet.
 */
export function stageStartedAt(stage: Pick<StageRunRecord, "createdAt">, flowRunStart: string | null): string {
  const started = flowRunStart ?? new Date().toISOString();
  return Date.parse(started) < Date.parse(stage.createdAt) ? stage.createdAt : started;
}
