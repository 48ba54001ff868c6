import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { auditOf, call, eventually, events, helloWorld, outputsOf, stackControl, stackPids, waitForRun } from "./gatewayClient.js";

// Postgres only (tests/vitest.e2e-postgres.config.ts): there a write can be held half-done from outside,
// with a table lock, and the agent worker killed while it is inside its transaction.
describe("an agent worker killed inside its write transaction", () => {
  it("leaves the whole output with its audit entry and event, or none of them; the step is redone once", async () => {
    const holder = new pg.Client({ connectionString: inject("databaseUrl") });
    // pg_stat_activity is read once per transaction, so the watching happens on a connection of its own.
    const watcher = new pg.Client({ connectionString: inject("databaseUrl") });
    await Promise.all([holder.connect(), watcher.connect()]);
    let victim: string | undefined;
    // The worker to kill is found by what it waits on: no other book may be writing (earlier files leave some going).
    await eventually("no other book running", async () => {
      const live = await Promise.all(["queued", "running", "pausing", "cancelling"].map(async (status) => (await call(`/orchestrator/runs?status=${status}&limit=1`)).body.runs.length));
      return live.every((n) => n === 0);
    }, 120_000);
    try {
      // SHARE mode lets everyone read and blocks every INSERT into the audit table: the worker's
      // transaction gets as far as its output row, then waits on its audit entry.
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE audit_entries IN SHARE MODE");
      const runId = (await call("/orchestrator/run", { body: { ...helloWorld(`crash-in-write ${Date.now()}`), stages: ["idea_intake"] } })).body.runId as string;
      const writer = await eventually("an agent worker waiting inside its write", async () => {
        const { rows } = await watcher.query(
          "SELECT pid, application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND state = 'active' AND query ILIKE 'insert into \"audit_entries\"%' AND application_name LIKE 'quire-agent-worker-%'",
        );
        return rows[0] as { pid: number; application_name: string } | undefined;
      });
      // Its transaction has already inserted the output row (it holds the row lock of that insert).
      const { rows: held } = await watcher.query(
        "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = $1 AND c.relname = 'step_outputs' AND l.mode = 'RowExclusiveLock' AND l.granted",
        [writer.pid],
      );
      expect(held).toHaveLength(1);
      const pid = Number(writer.application_name.split("-").at(-1));
      const pids = await stackPids();
      victim = Object.keys(pids).find((name) => pids[name] === pid);
      expect(victim).toMatch(/^agent-worker-/);
      await stackControl("kill", victim!); // SIGKILL, with the step's output row written and not committed
      await holder.query("ROLLBACK"); // let the database go on; the dead worker's transaction is rolled back

      const run = await waitForRun(runId);
      expect(run.status).toBe("completed");
      const history = await outputsOf(runId, true);
      expect(history.map((o) => [o.stepId, o.version, o.status])).toEqual([["IDEA", 1, "accepted"]]);
      expect((await auditOf(runId)).map((a) => [a.stepId, a.outcome])).toEqual([["IDEA", "accepted"]]);
      const idea = (await events(runId)).filter((e) => e.stepId === "IDEA");
      expect(idea.filter((e) => e.type === "step.started")).toHaveLength(2); // the killed try and the redo
      expect(idea.filter((e) => e.type === "step.completed")).toHaveLength(1);
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      await Promise.all([holder.end(), watcher.end()]);
      if (victim) await stackControl("restart", victim);
    }
  });
});
