import { describe, expect, it } from "vitest";
import type { EventHub } from "../../api/events/eventNotifier.js";
import { GatewayMetrics } from "../../api/http/metrics.js";
import type { EventRecord } from "../../api/store/records.js";
import type { Store } from "../../api/store/store.js";

const event = (id: number, provider: string, stageId = "idea_intake"): EventRecord => ({ id, seq: id, runId: "r", at: "2026-11-26T00:00:00.000Z", type: "step.completed", stageId, stepId: "IDEA", percent: 1, data: { provider, latencyMs: 10 } });

/** A store with only what the metrics read; `events` is what listEventsAfter answers (or throws). */
const storeWith = (events: () => EventRecord[]) =>
  ({ countRunsByStatus: async () => ({}), listEventsAfter: async (after: number) => events().filter((e) => e.id > after) }) as unknown as Store;
const hub = () => {
  const listeners: (() => void)[] = [];
  return { hub: { listen: (l: () => void) => listeners.push(l) } as unknown as EventHub, announce: () => listeners.forEach((l) => l()) };
};

describe("the gateway's metrics", () => {
  it("outlive a store that fails while they read the events (no unhandled rejection ends the gateway)", async () => {
    let failing = true;
    const { hub: h, announce } = hub();
    const metrics = new GatewayMetrics(storeWith(() => (failing ? (() => { throw new Error("store restarting"); })() : [event(1, "mock")])));
    metrics.start(h);
    announce();
    await new Promise((r) => setTimeout(r, 20));
    failing = false;
    announce();
    await expect.poll(async () => (await metrics.registry.metrics()).includes('quire_step_latency_seconds_count{provider="mock",stage="idea_intake"} 1')).toBe(true);
  });

  it("label steps only with known providers, whatever an event says (each label value is a series for good)", async () => {
    const { hub: h } = hub();
    const metrics = new GatewayMetrics(storeWith(() => [event(1, "mock"), event(2, "made-up-1"), event(3, "made-up-2")]));
    metrics.start(h);
    await expect.poll(async () => (await metrics.registry.metrics()).includes('provider="unknown"')).toBe(true);
    expect(await metrics.registry.metrics()).not.toContain("made-up");
  });
});
