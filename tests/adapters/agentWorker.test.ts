import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import { planStage } from "../../api/runs/stagePlan.js";
import { openSqliteStore } from "../../api/store/openStore.js";
import type { SqlStore } from "../../api/store/sqlStore.js";
import type { Store } from "../../api/store/store.js";
import { AgentWorker } from "../../workers/agentWorker.js";
import { ProviderRegistry } from "../../workers/providers/providerRegistry.js";
import { runStep } from "../../workers/stepRunner.js";
import { stepQueueName } from "../../workers/queueNames.js";
import { startRedis } from "../fixtures/redisServer.js";
import { startFakeOpenAi } from "../fixtures/fakeLlmServers.js";
import { loadSettings } from "../../api/config/settings.js";
import { Credentials } from "../../api/config/credentials.js";

// The agent worker on a real redis-server, BullMQ and store, with the mock provider.
const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
const prefix = "aw";
let server: Awaited<ReturnType<typeof startRedis>>;
let connection: Redis;
let eventsConnection: Redis;
let store: SqlStore;
let worker: AgentWorker;
let queue: Queue;
let events: QueueEvents;

beforeAll(async () => {
  server = await startRedis();
  connection = new Redis(server.url, { maxRetriesPerRequest: null });
  store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), "quire-aw-")), "store.db"), { migrate: true });
  worker = new AgentWorker({ store, providers: new ProviderRegistry(), graph, log: pino({ level: "silent" }) }, { redisUrl: server.url, queuePrefix: prefix, concurrency: { mock: 2, openai: 1, gemini: 1 } });
  worker.start();
  queue = new Queue(stepQueueName("mock"), { connection, prefix });
  eventsConnection = new Redis(server.url, { maxRetriesPerRequest: null });
  events = new QueueEvents(stepQueueName("mock"), { connection: eventsConnection, prefix });
  await events.waitUntilReady();
});
afterAll(async () => {
  await worker.close();
  await events.close();
  await queue.close();
  connection.disconnect();
  eventsConnection.disconnect();
  await store.close();
  await server.stop();
});

/** A new run of the idea stage alone, its first attempt recorded, and that stage's one step (IDEA) as planned. */
async function ideaRun(request: Parameters<typeof planStage>[1], openaiModel = "o") {
  const { run } = await store.createRun({ id: randomUUID(), request });
  await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 1, plannedSteps: 1 });
  const step = planStage(graph, request, "idea_intake", { models: { mock: "mock-writer-1", openai: openaiModel, gemini: "g" } }).steps[0]!;
  return { run, step };
}

/** The IDEA step of a new run whose mock answers take `delayMs`, as run_stage.py adds it, with a timeout of `timeoutSeconds`. */
async function ideaJob(delayMs: number, timeoutSeconds: number, extra: { timestamp?: number } = {}) {
  const request = { idea: { premise: `slow [mock:delay=${delayMs}]` }, stages: ["idea_intake"], mode: "auto" as const };
  const { run, step } = await ideaRun(request);
  const data = { ...step, timeoutSeconds, runId: run.id, stageId: "idea_intake", stageAttempt: 1, iteration: 1, try: 1 };
  const job = await queue.add("IDEA", data, { jobId: `${run.id}.IDEA.1`, attempts: 1, ...extra });
  return { runId: run.id, finished: job.waitUntilFinished(events, 15_000) };
}

describe("a step whose input has no accepted output", () => {
  it("fails for good, naming the missing step, without calling the provider: its prompt would silently lack that work", async () => {
    // An imported run (or a graph changed under a paused book) can reach structure without IDEA's output.
    const request = { idea: { premise: "habits" }, stages: ["idea_intake", "structure"], mode: "auto" as const };
    const { run } = await store.createRun({ id: randomUUID(), request });
    await store.insertStageRun({ runId: run.id, stageId: "structure", attempt: 1, plannedSteps: 7 });
    const s1 = planStage(graph, request, "structure", { models: { mock: "mock-writer-1", openai: "o", gemini: "g" } }).steps[0]!;
    expect(s1).toMatchObject({ stepId: "S1", inputs: ["IDEA"] });
    const job = await queue.add("S1", { ...s1, runId: run.id, stageId: "structure", stageAttempt: 1, iteration: 1, try: 1 }, { jobId: `${run.id}.S1.1`, attempts: 1 });
    await expect(job.waitUntilFinished(events, 15_000)).rejects.toThrow("step S1 reads IDEA, which has no accepted output in this run");
    expect(await store.listAudit({ runId: run.id })).toEqual([]);
    expect(await store.listOutputs(run.id, { history: true })).toEqual([]);
    expect((await store.listEvents(run.id)).map((e) => e.type)).not.toContain("step.started");
  });

  it("runs without a step of a stage the run left out: a book from structure on has no IDEA, and reads none", async () => {
    const request = { idea: { premise: "habits" }, stages: ["structure"], mode: "auto" as const };
    const { run } = await store.createRun({ id: randomUUID(), request });
    await store.insertStageRun({ runId: run.id, stageId: "structure", attempt: 1, plannedSteps: 7 });
    const s1 = planStage(graph, request, "structure", { models: { mock: "mock-writer-1", openai: "o", gemini: "g" } }).steps[0]!;
    const job = await queue.add("S1", { ...s1, runId: run.id, stageId: "structure", stageAttempt: 1, iteration: 1, try: 1 }, { jobId: `${run.id}.S1.1`, attempts: 1 });
    await expect(job.waitUntilFinished(events, 15_000)).resolves.toMatchObject({ version: 1, reused: false });
    expect((await store.listAudit({ runId: run.id })).map((a) => a.outcome)).toEqual(["accepted"]);
  });
});

describe("an agent worker's step deadline", () => {
  it("stops a try at its step's timeout, as the flow gives up on it, instead of calling on beside the flow's next try", async () => {
    const { runId, finished } = await ideaJob(20_000, 1);
    await expect(finished).rejects.toThrow(/took longer than its timeout of 1 s/);
    const audit = await store.listAudit({ runId });
    expect(audit.map((a) => [a.outcome, a.error])).toEqual([["error", expect.stringContaining("the flow has moved on to its next try")]]);
    expect(await store.listOutputs(runId, { history: true })).toEqual([]);
    // Not a cancel: the step is reported as retrying (the flow's next try follows), not failed for good.
    expect((await store.listEvents(runId)).map((e) => e.type)).toEqual(["run.queued", "step.started", "step.retrying"]);
  });

  it("does not start a try whose deadline passed while it waited in the queue: no provider call", async () => {
    const { runId, finished } = await ideaJob(0, 1, { timestamp: Date.now() - 5_000 });
    await expect(finished).rejects.toThrow(/took longer than its timeout/);
    expect(await store.listAudit({ runId })).toEqual([]);
    expect((await store.listEvents(runId)).map((e) => e.type)).toEqual(["run.queued"]);
  });

  it("runs a try that ends within its time as usual", async () => {
    const { runId, finished } = await ideaJob(0, 30);
    await expect(finished).resolves.toMatchObject({ version: 1, reused: false });
    expect((await store.listAudit({ runId })).map((a) => a.outcome)).toEqual(["accepted"]);
  });
});

/** The mock provider, each call counted (and whether it was aborted). */
class CountingRegistry extends ProviderRegistry {
  constructor(private readonly calls: { aborted: boolean }[]) {
    super();
  }

  override async get(name: Parameters<ProviderRegistry["get"]>[0]) {
    const inner = await super.get(name);
    return {
      name: inner.name,
      generate: (req: Parameters<typeof inner.generate>[0]) => {
        const call = { aborted: false };
        this.calls.push(call);
        req.signal?.addEventListener("abort", () => (call.aborted = true));
        return inner.generate(req);
      },
    };
  }
}

describe("two jobs for one step at once (a second flow process of one flow run; a stage's next attempt while the last one's call runs)", () => {
  for (const [what, secondAttempt] of [["the same stage attempt", 1], ["the stage's next attempt", 2]] as const) {
    it(`calls the provider once, and both get its answer: ${what}`, async () => {
      const claimPrefix = `awc${secondAttempt}`;
      const claimQueue = new Queue(stepQueueName("mock"), { connection, prefix: claimPrefix });
      const claimEventsConnection = new Redis(server.url, { maxRetriesPerRequest: null });
      const claimEvents = new QueueEvents(stepQueueName("mock"), { connection: claimEventsConnection, prefix: claimPrefix });
      await claimEvents.waitUntilReady();
      const calls: { aborted: boolean }[] = [];
      const claimWorker = new AgentWorker({ store, providers: new CountingRegistry(calls), graph, log: pino({ level: "silent" }) }, { redisUrl: server.url, queuePrefix: claimPrefix, concurrency: { mock: 2, openai: 1, gemini: 1 } });
      claimWorker.start();
      try {
        const request = { idea: { premise: "slow [mock:delay=1500]" }, stages: ["idea_intake"], mode: "auto" as const };
        const { run, step } = await ideaRun(request);
        const data = (stageAttempt: number, tryNo: number) => ({ ...step, timeoutSeconds: 60, runId: run.id, stageId: "idea_intake", stageAttempt, iteration: 1, try: tryNo });
        // The job ids differ as the flow makes them: the task's run count, or the stage attempt, is in them.
        const first = await claimQueue.add("IDEA", data(1, 1), { jobId: `${run.id}.IDEA.a1.1`, attempts: 1 });
        await expect.poll(() => calls.length, { timeout: 5_000 }).toBe(1);
        if (secondAttempt === 2) await store.insertStageRun({ runId: run.id, stageId: "idea_intake", attempt: 2, plannedSteps: 1 });
        const second = await claimQueue.add("IDEA", data(secondAttempt, 2), { jobId: `${run.id}.IDEA.a${secondAttempt}.2`, attempts: 1 });
        const [a, b] = await Promise.all([first.waitUntilFinished(claimEvents, 15_000), second.waitUntilFinished(claimEvents, 15_000)]);
        expect(calls).toHaveLength(1);
        expect(b).toMatchObject({ outputId: a.outputId, reused: true });
        expect((await store.listAudit({ runId: run.id })).map((e) => e.outcome)).toEqual(["accepted"]);
        expect((await store.listEvents(run.id)).map((e) => e.type)).toEqual(["run.queued", "step.started", "step.completed"]);
      } finally {
        await claimWorker.close();
        await claimEvents.close();
        await claimQueue.close();
        claimEventsConnection.disconnect();
      }
    });
  }
});

describe("an agent worker that loses a job's lock while it is alive (Redis out of reach for longer than the lock)", () => {
  it("stops its provider call, as the job is handed on: the step is answered once, and not reported failed", async () => {
    const lossPrefix = "awl";
    const lossQueue = new Queue(stepQueueName("mock"), { connection, prefix: lossPrefix });
    const calls: { aborted: boolean }[] = [];
    const lossWorker = new AgentWorker({ store, providers: new CountingRegistry(calls), graph, log: pino({ level: "silent" }) }, { redisUrl: server.url, queuePrefix: lossPrefix, concurrency: { mock: 2, openai: 1, gemini: 1 }, lockDurationMs: 1_000 });
    lossWorker.start();
    try {
      const request = { idea: { premise: "slow [mock:delay=2500]" }, stages: ["idea_intake"], mode: "auto" as const };
      const { run, step } = await ideaRun(request);
      const jobId = `${run.id}.IDEA.1`;
      await lossQueue.add("IDEA", { ...step, timeoutSeconds: 60, runId: run.id, stageId: "idea_intake", stageAttempt: 1, iteration: 1, try: 1 }, { jobId, attempts: 1 });
      await expect.poll(() => calls.length, { timeout: 5_000 }).toBe(1);
      // What a lock that lapsed looks like to its worker: the key is gone when it renews.
      await connection.del(`${lossPrefix}:${stepQueueName("mock")}:${jobId}:lock`);
      await expect.poll(() => calls[0]!.aborted, { timeout: 3_000 }).toBe(true);
      // The job is handed on (here, back to the same worker) and answered by that call.
      await expect.poll(async () => (await store.listAudit({ runId: run.id })).map((a) => a.outcome), { timeout: 10_000 }).toEqual(["error", "accepted"]);
      expect(calls.map((c) => c.aborted)).toEqual([true, false]);
      expect((await store.listAudit({ runId: run.id }))[0]!.error).toContain("lost the lock");
      expect((await store.listEvents(run.id)).map((e) => e.type)).toEqual(["run.queued", "step.started", "step.started", "step.completed"]);
    } finally {
      await lossWorker.close();
      await lossQueue.close();
    }
  });
});

describe("a step whose answer cannot be stored (a locked database, a lost connection)", () => {
  it("still audits the paid-for exchange, outside the failed transaction, and reports the step as retrying", async () => {
    const request = { idea: { premise: "Habits compound" }, stages: ["idea_intake"], mode: "auto" as const };
    const { run, step } = await ideaRun(request);
    const failingWrites: Store = Object.create(store);
    failingWrites.acceptOutput = async () => {
      throw new Error("SQLITE_BUSY: database is locked");
    };
    const job = { ...step, timeoutSeconds: 60, runId: run.id, stageId: "idea_intake", stageAttempt: 1, iteration: 1, try: 1 };
    await expect(runStep(job, "j-store", { store: failingWrites, providers: new ProviderRegistry(), graph, log: pino({ level: "silent" }) })).rejects.toThrow(/could not be stored: SQLITE_BUSY/);
    const audit = await store.listAudit({ runId: run.id });
    expect(audit.map((a) => [a.outcome, a.error])).toEqual([["error", expect.stringContaining("could not be stored")]]);
    expect(audit[0]!.response).toMatchObject({ text: expect.stringContaining("Habits compound") });
    expect(audit[0]!.outputTokens).toBeGreaterThan(0);
    expect((await store.listEvents(run.id)).map((e) => e.type)).toEqual(["run.queued", "step.started", "step.retrying"]);
    expect(await store.listOutputs(run.id, { history: true })).toEqual([]);
  });
});

describe("a step on an OpenAI reasoning model (one that takes only its default temperature)", () => {
  it("is sent no temperature, and its audited answer says so", async () => {
    const openai = await startFakeOpenAi("sk-test-reasoning");
    try {
      const settings = loadSettings({ OPENAI_API_KEY: "sk-test-reasoning", OPENAI_BASE_URL: openai.url, QUIRE_SECRET_BLOCKS: "false" }).providers;
      const providers = new ProviderRegistry({ settings, credentials: new Credentials(settings, undefined) });
      const request = { idea: { premise: "Habits compound" }, stages: ["idea_intake"], mode: "auto" as const, provider: "openai" as const, overrides: { model: "o3-mini", temperature: 0.4 } };
      const { run, step } = await ideaRun(request, "gpt-4o-mini");
      const job = { ...step, timeoutSeconds: 60, runId: run.id, stageId: "idea_intake", stageAttempt: 1, iteration: 1, try: 1 };
      await runStep(job, "j-reasoning", { store, providers, graph, log: pino({ level: "silent" }) });
      expect(openai.requests.map((r) => [r.body.model, "temperature" in r.body])).toEqual([["o3-mini", false]]);
      const [entry] = await store.listAudit({ runId: run.id });
      expect(entry).toMatchObject({ outcome: "accepted", model: "o3-mini", temperature: 0.4 });
      expect(entry!.response).toMatchObject({ notes: [expect.stringContaining("temperature 0.4 not sent: o3-mini takes only its default")] });
    } finally {
      await openai.close();
    }
  });
});

describe("an agent worker while Redis is away", () => {
  it("logs each connection's errors as warnings, none left unhandled for ioredis to print, and closes without waiting for Redis", async () => {
    const own = await startRedis();
    const lines: { msg: string; connection?: string }[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const printed = vi.spyOn(console, "error");
    const away = new AgentWorker({ store, providers: new ProviderRegistry(), graph, log }, { redisUrl: own.url, queuePrefix: "awr", concurrency: { mock: 1, openai: 1, gemini: 1 } });
    away.start();
    try {
      await own.stop();
      await expect.poll(() => new Set(lines.filter((l) => l.msg === "redis connection error").map((l) => l.connection)), { timeout: 10_000 }).toEqual(new Set(["jobs", "cancel subscriber"]));
      expect(printed.mock.calls.filter((args) => String(args[0]).includes("Unhandled error event"))).toEqual([]);
      // A graceful close would queue BullMQ's QUIT until Redis came back; the test's timeout would end it.
      await away.close();
      expect(lines.map((l) => l.msg)).toContain("closing without Redis: jobs in flight are handed on when their locks lapse");
    } finally {
      printed.mockRestore();
    }
  });
});

describe("finished step jobs in Redis", () => {
  it("are removed once older than their retention, so Redis does not grow with every book", async () => {
    const keepPrefix = "awk";
    const keepQueue = new Queue(stepQueueName("mock"), { connection, prefix: keepPrefix });
    const keepEventsConnection = new Redis(server.url, { maxRetriesPerRequest: null });
    const keepEvents = new QueueEvents(stepQueueName("mock"), { connection: keepEventsConnection, prefix: keepPrefix });
    await keepEvents.waitUntilReady();
    const keepWorker = new AgentWorker({ store, providers: new ProviderRegistry(), graph, log: pino({ level: "silent" }) }, { redisUrl: server.url, queuePrefix: keepPrefix, concurrency: { mock: 1, openai: 1, gemini: 1 }, keepJobsSeconds: { completed: 1, failed: 1 } });
    keepWorker.start();
    const runJob = async () => {
      const request = { idea: { premise: "Habits compound" }, stages: ["idea_intake"], mode: "auto" as const };
      const { run } = await store.createRun({ id: randomUUID(), request });
      const step = planStage(graph, request, "idea_intake", { models: { mock: "mock-writer-1", openai: "o", gemini: "g" } }).steps[0]!;
      const job = await keepQueue.add("IDEA", { ...step, timeoutSeconds: 30, runId: run.id, stageId: "idea_intake", stageAttempt: 1, iteration: 1, try: 1 }, { jobId: `${run.id}.IDEA.1`, attempts: 1 });
      await job.waitUntilFinished(keepEvents, 10_000);
      return job.id!;
    };
    try {
      const first = await runJob();
      expect(await keepQueue.getJob(first)).toBeDefined(); // kept at first: the flow reads its result
      await new Promise((r) => setTimeout(r, 1_500));
      const second = await runJob(); // BullMQ removes the jobs past their age as it finishes another
      expect(await keepQueue.getJob(first)).toBeUndefined();
      expect(await keepQueue.getJob(second)).toBeDefined();
    } finally {
      await keepWorker.close();
      await keepEvents.close();
      await keepQueue.close();
      keepEventsConnection.disconnect();
    }
  });
});
