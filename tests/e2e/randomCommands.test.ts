import { describe, expect, it } from "vitest";
import { call, eventually, helloWorld, outputsOf, waitForRun } from "./gatewayClient.js";
import { prefect } from "./prefectView.js";
import { book } from "../fixtures/bookShape.js";

// Commands in a random order, at random moments, on books at every point of their life: the sequences
// no hand-written test thinks of. A fixed seed gives the same commands each time (their timing varies);
// RANDOM_COMMANDS_SEED tries others.
const seed = Number(process.env.RANDOM_COMMANDS_SEED ?? 20261126);
const stages = ["idea_intake", "structure", "title"];
const finished = new Set(["completed", "failed", "cancelled"]);

/** mulberry32: a small seeded generator, so a failing sequence can be replayed. */
function random(state: number) {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`random commands (seed ${seed})`, () => {
  it("leaves every book settled and whole: no 5xx, every output once, no flow run left live in Prefect, no attempt left open", async () => {
    const rand = random(seed);
    const pick = <T>(items: T[]) => items[Math.floor(rand() * items.length)]!;
    const runIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call("/orchestrator/run", { body: { ...helloWorld(`random ${seed}-${i} ${Date.now()} [mock:delay=${pick([80, 200, 300])}]`), mode: i === 2 ? "manual" : "auto" } });
      expect(res.status).toBe(202);
      runIds.push(res.body.runId);
    }

    const serverErrors: string[] = [];
    const applied: Record<string, number> = {};
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const runId = pick(runIds);
      const command = pick(["pause", "pause", "resume", "resume", "advance", "rollback", "cancel", "wait", "wait", "wait"]);
      if (command === "wait" || (command === "cancel" && rand() < 0.97)) {
        await sleep(50 + rand() * 500);
        continue;
      }
      const body = command === "rollback" ? { toStage: pick(stages) } : undefined; // stages a book has likely reached
      const res = await call(`/orchestrator/runs/${runId}/${command}`, { method: "POST", body });
      // 409 (not now) and 503 (busy, try again) are answers; a 500 is a bug.
      if (res.status >= 500 && res.status !== 503) serverErrors.push(`${command} ${JSON.stringify(body ?? {})} → ${res.status} ${JSON.stringify(res.body)}`);
      if (res.status === 200) applied[command] = (applied[command] ?? 0) + 1;
    }
    console.log(`random commands (seed ${seed}) applied: ${JSON.stringify(applied)}`);
    expect(serverErrors).toEqual([]);
    // The sequence did something: pauses and resumes took effect, not only refusals.
    for (const command of ["pause", "resume"]) expect(applied[command] ?? 0, `${command}s applied: ${JSON.stringify(applied)}`).toBeGreaterThan(0);

    // Settle: every paused book is told to go on until all are finished.
    const deadline = Date.now() + 180_000;
    let runs: any[] = [];
    while (Date.now() < deadline) {
      runs = await Promise.all(runIds.map(async (id) => (await call(`/orchestrator/runs/${id}`)).body));
      if (runs.every((r) => finished.has(r.status))) break;
      for (const run of runs.filter((r) => r.status === "paused" || r.status === "failed")) {
        await call(`/orchestrator/runs/${run.runId}/advance`, { method: "POST" });
        await call(`/orchestrator/runs/${run.runId}/resume`, { method: "POST" });
      }
      await sleep(1000);
    }
    expect(runs.map((r) => r.status).filter((s) => !finished.has(s))).toEqual([]);

    for (const [i, runId] of runIds.entries()) {
      const run = await waitForRun(runId);
      expect(["completed", "cancelled"]).toContain(run.status);
      // Only a book's latest stage attempt may be unfinished, and none once the book is.
      expect(run.stages.filter((s: any) => ["scheduled", "running", "paused"].includes(s.status))).toEqual([]);
      const steps = (await outputsOf(runId)).map((o) => o.stepId);
      expect(new Set(steps).size, `book ${i}: an output accepted twice`).toBe(steps.length);
      if (run.status === "completed") expect(steps).toHaveLength(book.steps);
      // Its waiting standby too: one left by a pause or cancel with no flow run live waited out its 10 minutes.
      await eventually(`book ${i}'s flow runs (and its standby) to end in Prefect`, async () => {
        const ours = [...(await prefect().flowRunsTagged([`book:${runId}`])), ...(await prefect().flowRunsTagged([`standby-for:${runId}`]))];
        return ours.filter((f) => !["COMPLETED", "FAILED", "CANCELLED", "CRASHED"].includes(f.stateType ?? "")).length === 0;
      }, 45_000);
    }
  });
});
