import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createPrefectClient } from "../../api/prefect/client.js";
import { FlowLeases } from "../../api/runs/flowLeases.js";
import { isStandbyTag, standbyTags } from "../../api/runs/standbyFlowRuns.js";
import { call, eventually, helloWorld, midStructure, stackControl, submitRun, waitForRun } from "./gatewayClient.js";
import { prefect } from "./prefectView.js";

const isSpare = (f: { name: string }) => f.name === "spare";
const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1 });
afterAll(() => redis.disconnect());
// Whether a flow process holds the flow run's lease now (as the gateway judges a waiting flow run alive).
const leases = new FlowLeases(redis, "quire-e2e", 0);
const submit = async (premise: string) => (await call("/orchestrator/run", { body: { ...helloWorld(premise), stages: ["idea_intake", "structure", "title"] } })).body.runId as string;

describe("standby flow runs (the next stage's flow run starts while the current one runs)", () => {
  it("gives each later stage a flow run that was already up, renamed and retagged for it", async () => {
    const runId = await submit(`standby ${Date.now()} [mock:delay=1000]`); // stages long enough for a flow process to start
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    const flowRuns = await Promise.all(run.stages.map((s: any) => prefect().readFlowRun(s.flowRunId)));
    expect(flowRuns.map((f) => f.name)).toEqual(["idea_intake", "structure", "title"].map((s) => `${runId.slice(0, 8)}-${s}-a1`));
    for (const [i, f] of flowRuns.entries()) expect(f.tags).toEqual(expect.arrayContaining([`book:${runId}`, `stage:${run.stages[i].stageId}`]));
    for (let i = 1; i < flowRuns.length; i++) {
      // Created, and started, while the stage before it ran: its process start overlapped that stage.
      expect(Date.parse(flowRuns[i]!.createdAt!)).toBeLessThan(Date.parse(flowRuns[i - 1]!.endTime!));
      expect(Date.parse(flowRuns[i]!.startTime!)).toBeLessThan(Date.parse(flowRuns[i - 1]!.endTime!));
    }
    // Every standby was taken by a stage; none is left over, and the book's flow runs are its three stages.
    expect(await prefect().flowRunsTagged([`standby-for:${runId}`])).toEqual([]);
    expect(await prefect().flowRunsTagged([`book:${runId}`])).toHaveLength(3);
  });

  it("gives a book's first stage a spare flow run that was already up, and starts another spare in its place", async () => {
    // Running in Prefect is not enough: one whose worker an earlier test killed stays Running until its
    // lease is known to have lapsed (up to a lease period after a Redis restart). The gateway skips those.
    const spares = await eventually("a spare up and waiting", async () => {
      const running = (await prefect().flowRunsTagged(["standby"], ["RUNNING"])).filter(isSpare);
      const alive = (await Promise.all(running.map(async (f) => ((await leases.held(f.id)) ? f : null)))).filter((f) => f !== null);
      return alive.length ? alive : undefined;
    });
    const submitted = Date.now();
    const runId = await submit(`spare ${Date.now()}`);
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    const spare = spares.find((s) => s.id === run.stages[0].flowRunId);
    expect(spare, "the first stage ran on one of the spares that were up").toBeDefined();
    expect(Date.parse(spare!.startTime!)).toBeLessThan(submitted); // its process started before the book existed
    const taken = await prefect().readFlowRun(spare!.id);
    expect(taken.name).toBe(`${runId.slice(0, 8)}-idea_intake-a1`);
    expect(taken.tags).toEqual(expect.arrayContaining([`book:${runId}`, "stage:idea_intake"]));
    expect(taken.tags).not.toContain("standby");
    await eventually("another spare", async () => (await prefect().flowRunsTagged(["standby"], ["RUNNING"])).some((f) => isSpare(f) && f.id !== spare!.id));
  });

  it("ends the waiting standby when the run is cancelled, so no flow process is left behind", async () => {
    const runId = await submit(`standby-cancel ${Date.now()} [mock:delay=800]`);
    await waitForRun(runId, { until: midStructure });
    const [waiting] = await prefect().flowRunsTagged([`standby-for:${runId}`]);
    expect(waiting?.stateType).toBe("RUNNING"); // the title stage's flow run, up and waiting
    await call(`/orchestrator/runs/${runId}/cancel`, { method: "POST" });
    expect((await waitForRun(runId)).status).toBe("cancelled");
    const ended = await eventually("the standby to end", async () => {
      const standby = await prefect().readFlowRun(waiting!.id);
      return standby.stateType === "COMPLETED" ? standby : undefined;
    });
    expect(ended.name).toBe(`${runId.slice(0, 8)}-standby`); // never given a stage
    expect((await prefect().taskRunsOf(ended.id))).toEqual([]);
  });

  it("ends the standby of a run cancelled while its first stage had just started", async () => {
    const runId = await submit(`standby-early-cancel ${Date.now()} [mock:delay=500]`);
    await waitForRun(runId, { until: (r) => r.stages.length >= 1 }); // the first stage started: its standby is on its way
    await call(`/orchestrator/runs/${runId}/cancel`, { method: "POST" });
    expect((await waitForRun(runId)).status).toBe("cancelled");
    const ended = await eventually("the book's standbys to end unused", async () => {
      const standbys = await prefect().flowRunsTagged([`standby-for:${runId}`]);
      return standbys.length >= 1 && standbys.every((f) => f.stateType === "COMPLETED") ? standbys : undefined;
    });
    for (const standby of ended) expect(await prefect().taskRunsOf(standby.id)).toEqual([]);
  });

  it("marks a standby whose process was killed Crashed, so it does not stay Running, and the book still completes", async () => {
    const runId = await submit(`standby-kill ${Date.now()} [mock:delay=800]`);
    await waitForRun(runId, { until: midStructure });
    const [waiting] = await prefect().flowRunsTagged([`standby-for:${runId}`]);
    expect(waiting?.stateType).toBe("RUNNING");
    await stackControl("kill", "prefect-worker-1"); // its process group: the stage's flow process and the standby
    await stackControl("restart", "prefect-worker-1");
    expect((await waitForRun(runId)).status).toBe("completed");
    await eventually("the dead standby to be marked Crashed", async () => (await prefect().readFlowRun(waiting!.id)).stateType === "CRASHED", 60_000);
  });

  it("names a stage's flow run that kept its waiting name (the gateway stopped before the rename), so a rerun after a pause runs the stage instead of waiting", async () => {
    const runId = await submit(`standby-unnamed ${Date.now()} [mock:delay=700]`);
    const run = await waitForRun(runId, { until: midStructure });
    const flowRunId = run.stages.at(-1).flowRunId as string;
    // What the gateway leaves when it stops between recording the stage and renaming its flow run.
    await prefect().updateFlowRun(flowRunId, { name: `${runId.slice(0, 8)}-standby`, tags: standbyTags(runId), parameters: { runId, stageId: "", attempt: 0, steps: [], standby: true } });
    const named = await eventually("the driver to name it as the stage's", async () => {
      const flowRun = await prefect().readFlowRun(flowRunId);
      return flowRun.name === `${runId.slice(0, 8)}-structure-a1` ? flowRun : undefined;
    }, 30_000);
    expect(named.tags).toEqual(expect.arrayContaining([`book:${runId}`, "stage:structure"]));
    expect(named.tags.filter(isStandbyTag)).toEqual([]);
    const { data } = await createPrefectClient(inject("prefectApiUrl")).GET("/flow_runs/{id}", { params: { path: { id: flowRunId } } });
    expect(data?.parameters).toMatchObject({ runId, stageId: "structure", attempt: 1 });
    expect(data?.parameters).not.toHaveProperty("standby");
    // A pause ends the flow process; the resume reruns the flow run with its parameters in Prefect.
    expect((await call(`/orchestrator/runs/${runId}/pause`, { method: "POST" })).status).toBe(200);
    await waitForRun(runId, { until: (r) => r.status === "paused" });
    expect((await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" })).status).toBe(200);
    const done = await waitForRun(runId, { timeoutMs: 90_000 });
    expect(done.status).toBe("completed");
    expect(done.stages.map((s: any) => [s.stageId, s.attempt])).toEqual([["idea_intake", 1], ["structure", 1], ["title", 1]]);
  });

  it("gives no stage to a spare whose worker was just stopped: a waiting flow process says so as it ends", async () => {
    const oneStage = (name: string) => submitRun({ ...helloWorld(`${name} ${Date.now()}`), stages: ["idea_intake"] });
    expect((await waitForRun(await oneStage("before-stop"))).status).toBe("completed"); // a stage looked for a spare: the line is topped up
    const spares = await eventually("spares up and waiting", async () => {
      const up = (await prefect().flowRunsTagged(["standby"], ["RUNNING"])).filter(isSpare);
      return up.length ? up : undefined;
    });
    // Their processes end with the worker, their leases still held for seconds: a stack stopped and started again at once.
    await stackControl("stop", "prefect-worker-1");
    const runId = await oneStage("after-stop");
    await stackControl("restart", "prefect-worker-1");
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    // Given to a gone spare, the stage would wait for its lease to lapse, then start again as attempt 2.
    expect(run.stages.map((s: any) => [s.stageId, s.attempt, s.status])).toEqual([["idea_intake", 1, "completed"]]);
    expect(spares.map((s) => s.id)).not.toContain(run.stages[0].flowRunId);
  });
});

describe("a work pool or work queue with a concurrency limit (set by an operator in Prefect)", () => {
  /** An operator's change, tried again while Prefect on SQLite answers 503 "database is locked" (a flaky reset left a limit of 2 for the next test). */
  const patch = async (path: string, body: object) => {
    for (let tries = 1; ; tries++) {
      const res = await fetch(`${inject("prefectApiUrl")}${path}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      if (res.status !== 503 || tries === 10) return res;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const onPool = (limit: number | null) => patch("/work_pools/quire", { concurrency_limit: limit });
  const onQueue = (limit: number | null) => patch("/work_pools/quire/queues/default", { concurrency_limit: limit });
  /** A book's flow runs, by stage, with what Prefect says of their times. */
  const flowRunsOf = async (run: any) => Promise.all(run.stages.map((s: any) => prefect().readFlowRun(s.flowRunId)));

  it.each([
    ["pool", onPool],
    ["queue", onQueue],
  ] as const)("that the waiting flow runs fill (a limit of 2 on the %s): the idle ones make room, and a book completes", async (_where, setLimit) => {
    // Spares are topped up when a stage looks for one (and the gateway has seen an earlier limit go: 10 s).
    await eventually("the spares up (2: as many as the limit)", async () => {
      await waitForRun(await submitRun({ ...helloWorld(`before-limit ${Date.now()}`), stages: ["idea_intake"] }));
      return (await prefect().flowRunsTagged(["standby"], ["RUNNING"])).filter(isSpare).length >= 2 ? true : undefined;
    }, 60_000);
    expect((await setLimit(2)).ok).toBe(true);
    try {
      // Before, a stage's flow run queued behind idle waiting ones in the only slots until they gave up
      // (10 min). The gateway sees the limit within its pool read (2 s here), and the idle ones end at its next sweep.
      const runId = await submit(`limit-2 ${Date.now()}`);
      const run = await waitForRun(runId, { timeoutMs: 90_000 });
      expect(run.status).toBe("completed");
    } finally {
      expect((await setLimit(null)).ok).toBe(true);
    }
  });

  it("that leaves room (20 on the pool): each later stage still runs on a flow run started while the stage before it ran", async () => {
    expect((await onPool(20)).ok).toBe(true);
    // The gateway reads the pool and its queue every 2 s here (QUIRE_POOL_READ_SECONDS): it has seen this
    // limit (and the end of the limits of 2 before it) once that has passed. Before, any limit at all
    // turned standbys off.
    await new Promise((r) => setTimeout(r, 3_000));
    try {
      const runId = await submit(`limit-20 ${Date.now()} [mock:delay=1000]`);
      const run = await waitForRun(runId, { timeoutMs: 90_000 });
      expect(run.status).toBe("completed");
      const flowRuns = await flowRunsOf(run);
      for (let i = 1; i < flowRuns.length; i++) expect(Date.parse(flowRuns[i]!.startTime!)).toBeLessThan(Date.parse(flowRuns[i - 1]!.endTime!));
    } finally {
      expect((await onPool(null)).ok).toBe(true);
    }
  });

  it.each([
    ["work pool quire", "/work_pools/quire"],
    ["work queue default of pool quire", "/work_pools/quire/queues/default"],
  ])("paused (the %s): /health says which, and is well again once it is resumed", async (named, path) => {
    expect((await patch(path, { is_paused: true })).ok).toBe(true);
    try {
      const health = await eventually("/health to see the pause", async () => {
        const res = await call("/health");
        return res.status === 503 ? res : undefined;
      }, 30_000);
      expect(JSON.stringify(health.body)).toContain(`${named} is paused in Prefect`);
    } finally {
      expect((await patch(path, { is_paused: false })).ok).toBe(true);
    }
    await eventually("/health well again", async () => (await call("/health")).status === 200, 30_000);
  });
});
