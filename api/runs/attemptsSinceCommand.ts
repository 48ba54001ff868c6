import type { EventRecord } from "../store/records.js";

/**
 * How many times a stage has been started since a client last moved the run on (a resume, an advance, a
 * rollback): its automatic restarts after a crash, plus the start they followed. Attempt numbers count
 * every start ever, a client's included, so they cannot bound the automatic restarts. Pure.
 */
export function attemptsSinceCommand(events: Pick<EventRecord, "type" | "stageId">[], stageId: string): number {
  let count = 0;
  for (const event of events) {
    if (event.type === "run.resumed" || event.type === "run.rolled_back") count = 0;
    else if (event.type === "stage.started" && event.stageId === stageId) count += 1;
  }
  return Math.max(count, 1);
}
