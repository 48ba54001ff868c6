import type { RunBundle } from "./runBundle.js";

/**
 * The document with every timestamp moved back by one offset when its latest lies after `now` (the
 * exporting machine's clock ran ahead). A run's stage runs are ordered by when they were recorded: left
 * in the future, an imported attempt would stay "current" after a resume here records the next one.
 * One offset for all keeps their order and spacing.
 */
export function intoThePast(bundle: RunBundle, now: Date): RunBundle {
  const { run, stageRuns, outputs, audit, events } = bundle;
  const all = [run.createdAt, run.completedAt, ...stageRuns.flatMap((s) => [s.createdAt, s.startedAt, s.endedAt]), ...outputs.flatMap((o) => [o.createdAt, o.supersededAt]), ...audit.map((a) => a.createdAt), ...events.map((e) => e.at)];
  // A loop, not Math.max(...): a long run's hundred thousand timestamps would overflow the call stack.
  const latest = all.reduce((max, t) => (t ? Math.max(max, Date.parse(t)) : max), -Infinity);
  const offset = latest - now.getTime();
  if (!(offset > 0)) return bundle;
  const shift = <T extends string | null | undefined>(t: T): T => (t ? new Date(Date.parse(t) - offset).toISOString() : t) as T;
  return {
    ...bundle,
    run: { ...run, createdAt: shift(run.createdAt), completedAt: shift(run.completedAt) },
    stageRuns: stageRuns.map((s) => ({ ...s, createdAt: shift(s.createdAt), startedAt: shift(s.startedAt), endedAt: shift(s.endedAt) })),
    outputs: outputs.map((o) => ({ ...o, createdAt: shift(o.createdAt), supersededAt: shift(o.supersededAt) })),
    audit: audit.map((a) => ({ ...a, createdAt: shift(a.createdAt) })),
    events: events.map((e) => ({ ...e, at: shift(e.at) })),
  };
}
