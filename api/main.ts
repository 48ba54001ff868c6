// Gateway process: HTTP API + the run driver. Started by the launcher (scripts/stack/) or by hand.
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { loadStageGraph } from "./config/stageGraph.js";
import { loadSettings } from "./config/settings.js";
import { EventHub, EventNotifier, eventsChannel } from "./events/eventNotifier.js";
import { createApp } from "./http/app.js";
import { GatewayMetrics } from "./http/metrics.js";
import { notifyingStore } from "./store/notifyingStore.js";
import { createLogger } from "./logging.js";
import { createPrefectClient } from "./prefect/client.js";
import { PrefectRuns } from "./prefect/prefectRuns.js";
import { HoldFlags } from "./runs/holdFlags.js";
import { RunControl } from "./runs/runControl.js";
import { RunDriver } from "./runs/runDriver.js";
import { StageLauncher } from "./runs/stageLauncher.js";
import { RunService, type ProviderAvailability } from "./runs/runService.js";
import type { ProviderDefaults } from "./runs/stagePlan.js";
import { SqliteStore } from "./store/sqliteStore.js";
import { stepQueueName } from "../workers/queueNames.js";

const settings = loadSettings();
const log = createLogger("gateway", settings.logLevel);
const graph = loadStageGraph(settings.stagesFile);
const prefect = new PrefectRuns(createPrefectClient(settings.prefect.apiUrl), settings.prefect.deployment);
const redis = new Redis(settings.redis.url, { maxRetriesPerRequest: 1, lazyConnect: false });
redis.on("error", (err) => log.warn({ err: err.message }, "redis connection error"));
const notifier = new EventNotifier(redis, eventsChannel(settings.redis.queuePrefix));
const store = notifyingStore(await SqliteStore.open(settings.store.sqlitePath, { migrate: true }), notifier);
const hub = new EventHub(redis.duplicate(), eventsChannel(settings.redis.queuePrefix));
await hub.start();
const metrics = new GatewayMetrics(store);
metrics.start(hub);
const mockQueue = new Queue(stepQueueName("mock"), { connection: redis, prefix: settings.redis.queuePrefix });

// OpenAI and Gemini adapters are not built yet: runs asking for them are refused at submit time.
const availability: ProviderAvailability = {
  mock: { available: true },
  openai: { available: false, missing: "OPENAI_API_KEY and the OpenAI adapter (not built yet)" },
  gemini: { available: false, missing: "GEMINI_API_KEY and the Gemini adapter (not built yet)" },
};
const providerDefaults: ProviderDefaults = { provider: settings.defaultProvider, models: { mock: "mock-writer-1", openai: "gpt-4o-mini", gemini: "gemini-2.0-flash" } };
const holds = new HoldFlags(redis, settings.redis.queuePrefix);
const launcher = new StageLauncher({ store, prefect, graph, providerDefaults, log });
const control = new RunControl({ store, prefect, holds, graph, launcher, log });
const gatewayUrl = `http://${settings.http.host}:${settings.http.port}`;
const links = { gatewayUrl, prefectUiUrl: settings.prefect.uiUrl };

const app = createApp({
  runs: new RunService(store, graph, providerDefaults, availability),
  control,
  hub,
  metrics,
  sse: { heartbeatMs: settings.http.sseHeartbeatMs, pollMs: 2000 },
  store,
  graph,
  providerDefaults,
  links,
  log,
  apiKey: settings.http.apiKey,
  bodyLimit: settings.http.bodyLimit,
  healthChecks: [
    { name: "prefect", check: () => prefect.health() },
    { name: "redis", check: async () => void (await redis.ping()) },
    { name: "store", check: () => store.ping() },
    {
      name: "workers",
      check: async () => {
        if ((await mockQueue.getWorkersCount()) === 0) throw new Error("no live agent worker is connected to Redis");
      },
    },
  ],
});

const driver = new RunDriver({ store, prefect, holds, launcher, graph, log, pollMs: settings.prefect.pollMs });
const server = app.listen(settings.http.port, settings.http.host, () => {
  log.info({ url: gatewayUrl, prefect: settings.prefect.apiUrl }, "gateway listening");
  driver.start();
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "gateway stopping");
  driver.stop();
  server.closeAllConnections();
  server.close();
  await hub.stop();
  await mockQueue.close();
  redis.disconnect();
  await store.close();
  process.exit(0);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
