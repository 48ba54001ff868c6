import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import type { EventHub } from "../../api/events/eventNotifier.js";
import { createApp } from "../../api/http/app.js";
import { GatewayMetrics } from "../../api/http/metrics.js";
import type { RunControl } from "../../api/runs/runControl.js";
import { RunService } from "../../api/runs/runService.js";
import { openSqliteStore } from "../../api/store/openStore.js";
import type { SqlStore } from "../../api/store/sqlStore.js";

// The gateway's bearer token (QUIRE_API_KEY), on the real app and store.
const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
const providerDefaults = { models: { mock: "mock-writer-1", openai: "o", gemini: "g" } };
const KEY = "quire-test-key-0123";
let store: SqlStore;
const servers: { close(): void }[] = [];

async function gateway(apiKey?: string) {
  const runs = new RunService(store, graph, providerDefaults, async () => ({ available: true }));
  const app = createApp({
    runs, store, graph, providerDefaults, apiKey,
    control: {} as RunControl, hub: {} as EventHub, metrics: new GatewayMetrics(store),
    sse: { heartbeatMs: 1000, pollMs: 1000 }, links: { gatewayUrl: "http://gw", prefectUiUrl: "http://prefect" },
    log: pino({ level: "silent" }), bodyLimit: "256kb", healthChecks: [],
  });
  const server = app.listen(0);
  servers.push(server);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, init);
}

beforeAll(async () => {
  store = await openSqliteStore(":memory:", { migrate: true });
});
afterAll(async () => {
  for (const s of servers) s.close();
  await store.close();
});

describe("a gateway with QUIRE_API_KEY set", () => {
  it("answers 401 unauthorized without the token or with a wrong one, and serves the request with it", async () => {
    const call = await gateway(KEY);
    for (const authorization of [undefined, "Bearer wrong-key-0123456", `Bearer ${KEY}x`, KEY, `bearer ${KEY}`]) {
      const res = await call("/orchestrator/runs", { headers: authorization ? { authorization } : {} });
      expect(res.status, String(authorization)).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
    expect((await call("/orchestrator/runs", { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
  });

  it("stores nothing for a submission without the token", async () => {
    const call = await gateway(KEY);
    const body = JSON.stringify({ idea: { premise: "Habits compound" } });
    const res = await call("/orchestrator/run", { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(401);
    expect(await store.listRuns({ limit: 10 })).toEqual([]);
  });

  it("leaves /health, /openapi.json, /metrics and /dashboard open", async () => {
    const call = await gateway(KEY);
    for (const path of ["/health", "/openapi.json", "/metrics", "/dashboard"]) expect((await call(path)).status, path).toBe(200);
  });
});

describe("a gateway without QUIRE_API_KEY", () => {
  it("asks for no token", async () => {
    const call = await gateway();
    expect((await call("/orchestrator/runs")).status).toBe(200);
  });
});
