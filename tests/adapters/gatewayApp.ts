import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { pino } from "pino";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import type { EventHub } from "../../api/events/eventNotifier.js";
import { type AppDeps, createApp } from "../../api/http/app.js";
import { allowedHostsFor } from "../../api/http/requestSource.js";
import { GatewayMetrics } from "../../api/http/metrics.js";
import type { RunControl } from "../../api/runs/runControl.js";
import { RunService } from "../../api/runs/runService.js";
import { afterAll, beforeAll } from "vitest";
import { openSqliteStore } from "../../api/store/openStore.js";
import type { SqlStore } from "../../api/store/sqlStore.js";

// The real Express app on a real store, listening on a free port, without Prefect or Redis: for what the
// HTTP layer decides by itself (auth, where requests may come from, limits).
const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
const providerDefaults = { models: { mock: "mock-writer-1", openai: "o", gemini: "g" } };

export async function startGatewayApp(store: SqlStore, opts: Partial<Pick<AppDeps, "apiKey" | "allowedHosts" | "maxStreams" | "healthChecks" | "links" | "hub">> = {}) {
  const runs = new RunService(store, graph, providerDefaults, async () => ({ available: true }));
  const app = createApp({
    runs, store, graph, providerDefaults,
    control: {} as RunControl, hub: {} as EventHub, metrics: new GatewayMetrics(store),
    sse: { heartbeatMs: 1000, pollMs: 1000 }, links: { gatewayUrl: "http://gw.example", prefectUiUrl: "http://prefect" },
    log: pino({ level: "silent" }), bodyLimit: "256kb", healthChecks: [], allowedHosts: allowedHostsFor("127.0.0.1", "http://gw.example"), maxStreams: 1000,
    ...opts,
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    call: (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, init),
    close: () => new Promise<void>((r) => server.close(() => r())),
    server,
  };
}

type AppOptions = Parameters<typeof startGatewayApp>[1];

/** For a test file: one in-memory store, and `start` for apps on it; all closed after the file's tests. */
export function gatewayAppsOnOneStore() {
  const apps: { close(): Promise<void> }[] = [];
  const shared = { store: undefined as unknown as SqlStore };
  beforeAll(async () => {
    shared.store = await openSqliteStore(":memory:", { migrate: true });
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    await shared.store.close();
  });
  return {
    get store() {
      return shared.store;
    },
    async start(opts: AppOptions = {}) {
      const app = await startGatewayApp(shared.store, opts);
      apps.push(app);
      return app;
    },
  };
}
