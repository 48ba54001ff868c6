import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ProgressEvent } from "../../api/events/progressEvent.js";
import { call, eventually, gatewayUrl, helloWorld, waitForRun } from "./gatewayClient.js";
import { openSse } from "./sseClient.js";
import { book } from "../fixtures/bookShape.js";

describe("progress events over Server-Sent Events", () => {
  it("streams a whole run in order, and a late client with Last-Event-ID gets exactly what it missed", async () => {
    const category = `sse-${Date.now()}`;
    const dashboard = openSse(`${gatewayUrl()}/events?category=${category}`);
    await dashboard.opened;
    const body = helloWorld(`events ${Date.now()} [mock:delay=50]`);
    const { body: submitted } = await call("/orchestrator/run", { body: { ...body, idea: { ...body.idea, category } } });
    const runId = submitted.runId;

    // A second client joins mid-run, on the run's own stream, resuming after seq 10.
    await eventually("ten events", async () => dashboard.messages.length >= 10);
    const late = openSse(`${gatewayUrl()}/orchestrator/runs/${runId}/events`, { lastEventId: 10 });

    await waitForRun(runId);
    await eventually("run.completed on both streams", async () =>
      dashboard.messages.some((m) => m.data.type === "run.completed") && late.messages.some((m) => m.data.type === "run.completed"),
    );
    await dashboard.close();
    await late.close();

    const events = dashboard.messages.map((m) => m.data);
    for (const e of events) expect(ProgressEvent.safeParse(e).success).toBe(true);
    expect(dashboard.messages.every((m) => Number(m.id) === m.data.id)).toBe(true);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("run.queued");
    expect(types[1]).toBe("run.started");
    expect(types.at(-1)).toBe("run.completed");
    expect(types.filter((t) => t === "stage.started")).toHaveLength(book.stages);
    expect(types.filter((t) => t === "stage.completed")).toHaveLength(book.stages);
    expect(types.filter((t) => t === "step.completed")).toHaveLength(book.steps);
    expect(events.at(-1).percent).toBe(100);
    const percents = events.map((e) => e.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    // Each stage starts before any event of its steps (a waiting flow run runs them as soon as it is handed
    // the stage) and completes after them.
    for (const stageId of new Set(events.filter((e) => e.type === "stage.started").map((e) => e.stageId))) {
      const start = types.findIndex((t, i) => t === "stage.started" && events[i].stageId === stageId);
      const end = types.findIndex((t, i) => t === "stage.completed" && events[i].stageId === stageId);
      const steps = events.map((e, i) => [e, i] as const).filter(([e]) => e.type.startsWith("step.") && e.stageId === stageId).map(([, i]) => i);
      expect(start).toBeLessThan(Math.min(...steps));
      expect(end).toBeGreaterThan(Math.max(...steps));
    }

    const stored = (await call(`/orchestrator/runs/${runId}/events`)).body.events;
    expect(late.messages.map((m) => Number(m.id))).toEqual(stored.filter((e: any) => e.seq > 10).map((e: any) => e.seq));
    expect(events.map((e) => e.seq)).toEqual(stored.map((e: any) => e.seq));
  });

  it("sends heartbeat comments on an idle stream and stops work when the client leaves", async () => {
    const { body } = await call("/orchestrator/run", { body: { ...helloWorld(`idle ${Date.now()}`), stages: ["idea_intake"] } });
    await waitForRun(body.runId);
    const stream = openSse(`${gatewayUrl()}/orchestrator/runs/${body.runId}/events`);
    await eventually("the replayed history", async () => stream.messages.some((m) => m.data.type === "run.completed"));
    await eventually("a heartbeat", async () => stream.comments.some((c) => c.startsWith(": heartbeat")), 10_000);
    const clients = async () => Number(/quire_event_stream_clients (\d+)/.exec(await (await fetch(`${gatewayUrl()}/metrics`)).text())?.[1]);
    const open = await clients();
    expect(open).toBeGreaterThanOrEqual(1);
    await stream.close();
    await eventually("the closed stream released", async () => (await clients()) === open - 1);
    const metrics = await (await fetch(`${gatewayUrl()}/metrics`)).text();
    expect(metrics).toMatch(/quire_runs\{status="completed"\} [1-9]/);
    expect(metrics).toMatch(/quire_step_latency_seconds_count\{provider="mock",stage="idea_intake"\} [1-9]/);
  });

  it("gives a /events client a resume point before its first event, so a reconnect in between misses nothing", async () => {
    const category = `gap-${Date.now()}`;
    const first = openSse(`${gatewayUrl()}/events?category=${category}`);
    await eventually("the stream's opening id", async () => first.lastId !== null);
    expect(first.messages).toHaveLength(0);
    await first.close();
    // While the client is away, a run of its category starts and ends.
    const body = helloWorld(`gap ${Date.now()}`);
    const { body: submitted } = await call("/orchestrator/run", { body: { ...body, idea: { ...body.idea, category }, stages: ["idea_intake"] } });
    await waitForRun(submitted.runId);
    const again = openSse(`${gatewayUrl()}/events?category=${category}`, { lastEventId: Number(first.lastId) });
    await eventually("run.completed after the reconnect", async () => again.messages.some((m) => m.data.type === "run.completed"));
    await again.close();
    const stored = (await call(`/orchestrator/runs/${submitted.runId}/events`)).body.events;
    expect(again.messages.map((m) => m.data.seq)).toEqual(stored.map((e: any) => e.seq));
    // 0 means "from the very first event", on the stream as in JSON.
    const fromStart = openSse(`${gatewayUrl()}/events?category=${category}`, { lastEventId: 0 });
    await eventually("the whole category replayed", async () => fromStart.messages.some((m) => m.data.type === "run.completed"));
    await fromStart.close();
    expect(fromStart.messages[0]?.data.type).toBe("run.queued");
  });

  it("exports the event contract as JSON Schema in docs/", () => {
    const schema = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../docs/events.schema.json"), "utf8"));
    expect(schema.properties.type.enum).toContain("run.rolled_back");
  });
});
