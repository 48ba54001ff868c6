import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, openSqliteStore } from "../../api/store/openStore.js";
import { RunBundle } from "../../api/store/runBundle.js";
import type { RunRequest } from "../../api/store/records.js";
import type { Store } from "../../api/store/store.js";
import { startPostgres, type PostgresServer } from "../fixtures/postgresServer.js";

const request: RunRequest = { idea: { premise: "p", category: "cat-a" }, stages: ["idea_intake"], mode: "auto" };
const output = (runId: string, stepId = "IDEA", stageAttempt = 1) => ({ runId, stageId: "idea_intake", stageAttempt, stepId, iteration: 1, content: { heading: "h", body: "b" }, provider: "mock", model: "m", jobId: "j" });
const audit = (runId: string, stepId = "IDEA") => ({ runId, stageId: "idea_intake", stageAttempt: 1, stepId, iteration: 1, jobId: "j", attempt: 1, provider: "mock", model: "m", temperature: 0.5, maxTokens: 10, request: { prompt: "x" }, response: { text: "y" }, outcome: "accepted" as const, error: null, inputTokens: 1, outputTokens: 2, latencyMs: 3, finishReason: "stop" });
const event = (runId: string) => ({ runId, type: "step.completed", stageId: "idea_intake", stepId: "IDEA", status: "completed", percent: 100 });

/**
 * Reads pages of ids after the last one seen (as GET /events and audit paging do) while `write` runs, and
 * once more after it: the ids the reader saw. Ids must become visible in order, or a reader that saw a
 * later id skips an earlier one committed after it.
 */
async function followWhile(start: number, page: (after: number) => Promise<number[]>, write: () => Promise<unknown>): Promise<number[]> {
  const seen: number[] = [];
  let writing = true;
  const reader = (async () => {
    let after = start;
    for (;;) {
      const last = !writing;
      const ids = await page(after);
      seen.push(...ids);
      after = ids.at(-1) ?? after;
      if (last) return;
    }
  })();
  await write();
  writing = false;
  await reader;
  return seen;
}

/** One suite every store implementation must pass; `rawSql` runs a statement on the same database from outside the store. */
function storeConformance(name: string, open: () => Promise<Store>, rawSql: (statement: string) => Promise<unknown>) {
  describe(`${name} store`, () => {
    let store: Store;
    const newRun = async (extra: Partial<RunRequest> = {}, idempotencyKey?: string) => (await store.createRun({ id: randomUUID(), request: { ...request, ...extra }, idempotencyKey })).run;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(() => store.close());

    it("creates a run with its run.queued event, once per idempotency key", async () => {
      const key = randomUUID();
      const first = await store.createRun({ id: randomUUID(), request, idempotencyKey: key });
      const again = await store.createRun({ id: randomUUID(), request, idempotencyKey: key });
      expect(first.created).toBe(true);
      expect(again).toMatchObject({ created: false, run: { id: first.run.id } });
      expect((await store.listEvents(first.run.id)).map((e) => [e.seq, e.type])).toEqual([[1, "run.queued"]]);
    });

    it("changes a run only from the expected status", async () => {
      const run = await newRun();
      expect(await store.updateRun(run.id, ["running"], { status: "completed" })).toBe(false);
      expect(await store.updateRun(run.id, ["queued"], { status: "running", currentStageId: "idea_intake" })).toBe(true);
      expect(await store.getRun(run.id)).toMatchObject({ status: "running", currentStageId: "idea_intake" });
    });

    it("commits a change with its event, or neither when something fails in between", async () => {
      const run = await newRun();
      await store.atomically(run.id, async (tx) => {
        expect(await tx.updateRun(run.id, ["queued"], { status: "running" })).toBe(true);
        await tx.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
        await tx.appendEvent({ runId: run.id, type: "run.started", status: "running", percent: 0 });
      });
      const crash = store.atomically(run.id, async (tx) => {
        await tx.updateRun(run.id, ["running"], { status: "paused" });
        await tx.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 2, plannedSteps: 1 });
        await tx.appendEvent({ runId: run.id, type: "run.paused", status: "paused", percent: 0 });
        throw new Error("the gateway died here");
      });
      await expect(crash).rejects.toThrow("the gateway died here");
      expect((await store.getRun(run.id))?.status).toBe("running");
      expect((await store.listStageRuns(run.id)).map((s) => [s.attempt, s.status])).toEqual([[1, "scheduled"]]);
      expect((await store.listEvents(run.id)).map((e) => e.type)).toEqual(["run.queued", "run.started"]);
      // The store is usable at once after a transaction that failed.
      expect(await store.updateRun(run.id, ["running"], { status: "paused" })).toBe(true);
    });

    it("accepts one output per step: a duplicate returns the first, versions never overwrite", async () => {
      const run = await newRun();
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
      const first = await store.acceptOutput(output(run.id), audit(run.id), event(run.id));
      const dup = await store.acceptOutput(output(run.id), audit(run.id), event(run.id));
      expect(first).toMatchObject({ created: true, output: { version: 1 } });
      expect(dup).toMatchObject({ created: false, output: { version: 1 } });
      // The second exchange (two tries of one step at once) is audited, as abandoned.
      expect((await store.listAudit({ runId: run.id })).map((a) => [a.outcome, a.error])).toEqual([["accepted", null], ["abandoned", expect.stringContaining("already has an accepted output (version 1)")]]);
      const superseded = await store.supersedeStages(run.id, ["idea_intake"], { runId: run.id, type: "run.rolled_back", percent: 0 });
      expect(superseded).toBe(1);
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 2, plannedSteps: 1 });
      const second = await store.acceptOutput(output(run.id, "IDEA", 2), audit(run.id), event(run.id));
      expect(second).toMatchObject({ created: true, output: { version: 2, stageAttempt: 2 } });
      expect((await store.listOutputs(run.id, { history: true })).map((o) => [o.version, o.status])).toEqual([[1, "superseded"], [2, "accepted"]]);
      expect((await store.latestAcceptedOutputs(run.id, ["IDEA"]))[0]!.version).toBe(2);
    });

    it("abandons a late result for a cancelled run, keeping only its audit entry", async () => {
      const run = await newRun();
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
      await store.updateRun(run.id, ["queued"], { status: "cancelled" });
      expect(await store.acceptOutput(output(run.id, "IDEA", 1), audit(run.id), event(run.id))).toEqual({ abandoned: "run is cancelled" });
      expect(await store.listOutputs(run.id, { history: true })).toHaveLength(0);
      expect((await store.listAudit({ runId: run.id })).map((a) => a.outcome)).toEqual(["abandoned"]);
    });

    it("takes the late answer of an attempt a later one replaced without a rollback (a crash restart): the step is not paid for again", async () => {
      const run = await newRun();
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 2, plannedSteps: 1 });
      expect(await store.acceptOutput(output(run.id, "IDEA", 1), audit(run.id), event(run.id))).toMatchObject({ created: true, output: { stageAttempt: 1 } });
      // Attempt 2's job for the step then finds it.
      expect(await store.findAcceptedOutput({ runId: run.id, stageId: "idea_intake", stepId: "IDEA", iteration: 1 })).toMatchObject({ stageAttempt: 1, version: 1 });
    });

    it("abandons a late result of a stage attempt that a rollback over its stage came after, though its stage has no newer attempt yet", async () => {
      const run = await newRun();
      const started = (attempt: number) => store.appendEvent({ runId: run.id, type: "stage.started", stageId: "idea_intake", status: "running", percent: 0, data: { attempt } });
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
      await started(1);
      // A rollback to this stage or an earlier one: written before the new attempt is recorded.
      await store.supersedeStages(run.id, ["idea_intake"], { runId: run.id, type: "run.rolled_back", status: "running", percent: 0, data: { toStage: "idea_intake", stages: ["idea_intake"] } });
      expect(await store.acceptOutput(output(run.id, "IDEA", 1), audit(run.id), event(run.id))).toEqual({ abandoned: "attempt 1 of idea_intake was rolled back" });
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 2, plannedSteps: 1 });
      await started(2);
      expect(await store.acceptOutput(output(run.id, "IDEA", 2), audit(run.id), event(run.id))).toMatchObject({ created: true, output: { stageAttempt: 2 } });
    });

    it("keeps one stage run open per run: a new attempt supersedes an open one, a finished one keeps its status", async () => {
      const run = await newRun({ stages: ["idea_intake", "structure"] });
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
      await store.updateStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1 }, { status: "completed" });
      await store.insertStageRun({ runId: run.id, stageId: "structure", attempt: 1, plannedSteps: 7 });
      await store.updateStageRun({ runId: run.id, stageId: "structure", attempt: 1 }, { status: "paused" });
      await store.insertStageRun({ runId: run.id, stageId: "structure", attempt: 2, plannedSteps: 7 });
      await store.insertStageRun({ runId: run.id, stageId: "structure", attempt: 2, plannedSteps: 7 }); // a repeat leaves it open
      const statuses = async () => (await store.listStageRuns(run.id)).map((s) => [s.stageId, s.attempt, s.status, s.endedAt !== null]);
      expect(await statuses()).toEqual([["idea_intake", 1, "completed", false], ["structure", 1, "superseded", true], ["structure", 2, "scheduled", false]]);
      await store.endOpenStageRuns(run.id, "cancelled");
      expect((await statuses()).map((s) => s[2])).toEqual(["completed", "superseded", "cancelled"]);
    });

    it("writes an output, its audit entry and its event together or not at all", async () => {
      const run = await newRun();
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
      const broken = { ...event(run.id), type: null as unknown as string }; // violates NOT NULL inside the transaction
      await expect(store.acceptOutput(output(run.id), audit(run.id), broken)).rejects.toThrow();
      expect(await store.listOutputs(run.id, { history: true })).toHaveLength(0);
      expect(await store.listAudit({ runId: run.id })).toHaveLength(0);
      expect(await store.listEvents(run.id)).toHaveLength(1); // run.queued only
    });

    it("numbers a run's events 1, 2, 3 ... even when written at once", async () => {
      const run = await newRun();
      await Promise.all(Array.from({ length: 20 }, () => store.appendEvent({ runId: run.id, type: "step.heartbeat", percent: 0 })));
      expect((await store.listEvents(run.id)).map((e) => e.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
      expect((await store.listEvents(run.id, 19)).map((e) => e.seq)).toEqual([20, 21]);
    });

    it("queries audit entries by run, step, provider and time range", async () => {
      const run = await newRun();
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
      const before = new Date(Date.now() - 1000).toISOString();
      await store.recordAudit({ ...audit(run.id, "IDEA"), provider: "openai", outcome: "error", error: "429" });
      await store.acceptOutput(output(run.id), audit(run.id), event(run.id));
      expect((await store.listAudit({ runId: run.id })).map((a) => a.provider)).toEqual(["openai", "mock"]);
      expect(await store.listAudit({ runId: run.id, provider: "openai" })).toHaveLength(1);
      expect(await store.listAudit({ runId: run.id, stepId: "S1" })).toHaveLength(0);
      expect(await store.listAudit({ runId: run.id, from: before })).toHaveLength(2);
      expect(await store.listAudit({ runId: run.id, to: before })).toHaveLength(0);
      // Bounds in whole seconds, as a client may write them: the second an entry was made in includes it.
      const first = (await store.listAudit({ runId: run.id }))[0]!.createdAt;
      const itsSecond = first.replace(/\.\d+Z$/, "Z");
      expect(await store.listAudit({ runId: run.id, from: itsSecond })).toHaveLength(2);
      expect(await store.listAudit({ runId: run.id, to: itsSecond })).toHaveLength(0);
    });

    it("refuses to change or delete an audit entry, even by hand in SQL", async () => {
      const run = await newRun();
      await store.recordAudit(audit(run.id));
      await expect(rawSql(`UPDATE audit_entries SET outcome = 'error' WHERE run_id = '${run.id}'`)).rejects.toThrow(/immutable: UPDATE refused/);
      await expect(rawSql(`DELETE FROM audit_entries WHERE run_id = '${run.id}'`)).rejects.toThrow(/immutable: DELETE refused/);
      expect((await store.listAudit({ runId: run.id })).map((a) => a.outcome)).toEqual(["accepted"]);
    });

    it("hands a reader that follows events across runs by id each event once, while runs write at the same time", async () => {
      // As GET /events does: read after the last id seen. Ids must become visible in order, or a reader
      // that saw a later id skips an earlier one committed after it (Postgres: one lock per run).
      const runs = await Promise.all(Array.from({ length: 8 }, () => newRun()));
      const start = await store.latestEventId();
      const page = async (after: number) => (await store.listEventsAfter(after, { limit: 1000 })).map((e) => e.id);
      const seen = await followWhile(start, page, () =>
        Promise.all(runs.map(async (run) => {
          for (let i = 0; i < 25; i++) await store.appendEvent({ runId: run.id, type: "step.heartbeat", status: "running", percent: 0 });
        })),
      );
      const written = await page(start);
      expect(written).toHaveLength(200);
      expect(seen).toEqual(written);
    });

    it("works out an accepted output's percent in the write's own transaction: outputs accepted at once each count the others before them", async () => {
      const run = await newRun();
      await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 4 });
      const planned = ["S0", "S1", "S2", "S3"];
      const percentOf = (accepted: string[]) => 25 * planned.filter((id) => accepted.includes(id)).length;
      await Promise.all(planned.map((stepId) => store.acceptOutput(output(run.id, stepId), audit(run.id, stepId), { ...event(run.id), stepId, percent: percentOf })));
      expect((await store.listEvents(run.id)).filter((e) => e.type === "step.completed").map((e) => e.percent)).toEqual([25, 50, 75, 100]);
    });

    it("hands a reader that pages the audit by afterId each entry once, while runs write entries at the same time", async () => {
      // Entries written with an output (a longer transaction) and alone (an error) race for ids.
      const runs = await Promise.all(Array.from({ length: 8 }, () => newRun()));
      for (const run of runs) await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
      const start = (await store.listAudit({ limit: Number.MAX_SAFE_INTEGER })).at(-1)?.id ?? 0;
      const page = async (after: number) => (await store.listAudit({ afterId: after, limit: 1000 })).map((a) => a.id);
      const seen = await followWhile(start, page, () =>
        Promise.all(runs.map(async (run) => {
          for (let i = 0; i < 10; i++) {
            await Promise.all([
              store.acceptOutput(output(run.id, `S${i}`), audit(run.id, `S${i}`), event(run.id)),
              store.recordAudit({ ...audit(run.id, `S${i}`), outcome: "error", error: "call 1; called again" }),
            ]);
          }
        })),
      );
      const written = await page(start);
      expect(written).toHaveLength(160);
      expect(seen).toEqual(written);
    });

    it("lists events across runs by id and category, and runs with filters and a cursor", async () => {
      const before = await store.latestEventId();
      const a = await newRun({ idea: { premise: "a", category: "cat-x" } });
      const b = await newRun({ idea: { premise: "b", category: "cat-y" } });
      const all = await store.listEventsAfter(before, { limit: 100 });
      expect(all.map((e) => e.runId)).toEqual([a.id, b.id]);
      expect((await store.listEventsAfter(before, { category: "cat-y", limit: 100 })).map((e) => e.runId)).toEqual([b.id]);
      expect(await store.latestEventId()).toBe(all.at(-1)!.id);
      const page = await store.listRuns({ category: "cat-x", limit: 10 });
      expect(page.map((r) => r.id)).toContain(a.id);
      expect((await store.countRunsByStatus()).queued).toBeGreaterThanOrEqual(2);
    });

    it("lists runs newest first, page by page, whatever their ids, missing none submitted meanwhile", async () => {
      const category = `recent-${Date.now()}`;
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        made.push((await newRun({ idea: { premise: `r${i}`, category } })).id);
        await new Promise((r) => setTimeout(r, 3)); // distinct creation times (one same-millisecond pair is ordered by id)
      }
      const first = await store.listRecentRuns({ category, limit: 2 });
      expect(first.map((r) => r.id)).toEqual([made[4], made[3]]);
      const later = (await newRun({ idea: { premise: "later", category } })).id; // on page one, not between pages
      const second = await store.listRecentRuns({ category, limit: 10, before: { createdAt: first[1]!.createdAt, id: first[1]!.id } });
      expect(second.map((r) => r.id)).toEqual([made[2], made[1], made[0]]);
      expect((await store.listRecentRuns({ category, limit: 1 }))[0]!.id).toBe(later);
    });
  });
}

const sqliteFile = join(mkdtempSync(join(tmpdir(), "quire-store-")), "store.db");
storeConformance(
  "SQLite",
  () => openSqliteStore(sqliteFile, { migrate: true }),
  async (statement) => {
    const db = new BetterSqlite3(sqliteFile);
    try {
      db.exec(statement);
    } finally {
      db.close();
    }
  },
);

let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(() => postgres?.destroy());
storeConformance(
  "Postgres",
  () => openPostgresStore(postgres.url, { migrate: true }),
  async (statement) => {
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  },
);

describe("moving a run to another installation", () => {
  const FLOW_RUN = "0b6a3f4e-8c1d-4e2a-9f3b-1c2d3e4f5a6b";
  it("exports a run from SQLite and imports it into Postgres whole, once; an unfinished one arrives failed and resumable", async () => {
    const from = await openSqliteStore(":memory:", { migrate: true });
    const to = await openPostgresStore(postgres.url, { migrate: true });
    try {
      const { run } = await from.createRun({ id: randomUUID(), request });
      await from.updateRun(run.id, ["queued"], { status: "running", currentStageId: "idea_intake" });
      await from.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
      await from.acceptOutput(output(run.id), audit(run.id), event(run.id));
      const bundle = (await from.exportRun(run.id))!;
      expect(JSON.parse(JSON.stringify(bundle)).format).toBe("quire-run/1");

      // As POST /orchestrator/import reads it: through the document's schema.
      const document = () => RunBundle.parse(JSON.parse(JSON.stringify({ ...bundle, stageRuns: bundle.stageRuns.map((s) => ({ ...s, flowRunId: FLOW_RUN })) })));
      expect(await to.importRun(document())).toBe(true);
      expect(await to.importRun(document())).toBe(false);
      const imported = (await to.getRun(run.id))!;
      expect(imported).toMatchObject({ status: "failed", error: expect.stringContaining("imported while running") });
      expect((await to.listOutputs(run.id, { history: true })).map((o) => [o.stepId, o.version, o.content])).toEqual([["IDEA", 1, { heading: "h", body: "b" }]]);
      expect((await to.listAudit({ runId: run.id })).map((a) => a.outcome)).toEqual(["accepted"]);
      // Its stream ends as its status says: failed, with the reason.
      const sent = (await from.listEvents(run.id)).map((e) => [e.seq, e.type]);
      expect((await to.listEvents(run.id)).map((e) => [e.seq, e.type])).toEqual([...sent, [sent.length + 1, "run.failed"]]);
      expect((await to.listEvents(run.id)).at(-1)?.data).toMatchObject({ reason: expect.stringContaining("imported while running") });
      // Without its flow run: that was the other installation's Prefect's (a cancel here would act on it).
      expect((await to.listStageRuns(run.id)).map((s) => [s.stageId, s.attempt, s.status, s.flowRunId])).toEqual([["idea_intake", 1, "failed", null]]);

      // From a machine whose clock ran ahead: the attempt recorded here next is still the current one.
      const ahead = document();
      ahead.run.id = randomUUID();
      ahead.stageRuns[0]!.createdAt = new Date(Date.now() + 86_400_000).toISOString();
      expect(await to.importRun(ahead)).toBe(true);
      await to.insertStageRun({ runId: ahead.run.id, stageId: "idea_intake", attempt: 2, plannedSteps: 1 });
      expect((await to.listStageRuns(ahead.run.id)).at(-1)?.attempt).toBe(2);
    } finally {
      await from.close();
      await to.close();
    }
  });
});
