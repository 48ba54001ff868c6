// Gateway process: HTTP API + the run driver. Started by the launcher (scripts/stack/) or by hand.
import { hostname } from "node:os";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { loadStageGraph } from "./config/stageGraph.js";
import { loadSettings } from "./config/settings.js";
import { loadOrExit } from "./config/loadOrExit.js";
import { EventHub, EventNotifier, eventsChannel, flowFinishedChannel, flowRunsReadyChannel } from "./events/eventNotifier.js";
import { createApp } from "./http/app.js";
import { sharedCheck } from "./http/healthChecks.js";
import { GatewayMetrics } from "./http/metrics.js";
import { notifyingStore } from "./store/notifyingStore.js";
import { createLogger } from "./logging.js";
import { createPrefectClient } from "./prefect/client.js";
import { PrefectRuns } from "./prefect/prefectRuns.js";
import { PrefectWorkers } from "./prefect/prefectWorkers.js";
import { DriveLocks } from "./runs/driveLocks.js";
import { FlowRunLiveness } from "./runs/flowRunLiveness.js";
import { FlowLeases } from "./runs/flowLeases.js";
import { OrphanSweep } from "./runs/orphanSweep.js";
import { HoldFlags } from "./runs/holdFlags.js";
import { cancelAnnouncer } from "./runs/runCancellations.js";
import { RunControl } from "./runs/runControl.js";
import { RunDriver } from "./runs/runDriver.js";
import { StageLauncher } from "./runs/stageLauncher.js";
import { StandbyFlowRuns } from "./runs/standbyFlowRuns.js";
import { StandbyHandOver } from "./runs/standbyHandOver.js";
import { RunService } from "./runs/runService.js";
import { Credentials } from "./config/credentials.js";
import { PrefectSecrets } from "./prefect/prefectSecrets.js";
import type { ProviderDefaults } from "./runs/stagePlan.js";
import { openStore } from "./store/openStore.js";
import { allowedHostsFor, isLoopbackHost } from "./http/requestSource.js";
import { stepQueueName } from "../workers/queueNames.js";

const settings = loadOrExit(() => loadSettings());
const log = createLogger("gateway", settings.logLevel);
const graph = loadOrExit(() => loadStageGraph(settings.stagesFile));
const redis = new Redis(settings.redis.url, { maxRetriesPerRequest: 1, lazyConnect: false });
// ioredis reconnects by itself; unheard, each failed attempt would go to stderr as "Unhandled error event".
const heard = (client: Redis, connection: string) => client.on("error", (err) => log.warn({ err: err.message, connection }, "redis connection error"));
heard(redis, "commands");
// A woken worker fetches the flow run now instead of at its next poll of the work pool (best effort).
const wakeWorkers = () => void redis.publish(flowRunsReadyChannel(settings.redis.queuePrefix), "1").catch(() => undefined);
const prefectClient = createPrefectClient(settings.prefect.apiUrl);
const prefect = new PrefectRuns(prefectClient, settings.prefect.deployment, wakeWorkers);
const prefectDatabase = sharedCheck(() => prefect.ready(), 5000);
const poolWorkers = new PrefectWorkers(prefectClient, () => prefect.workPoolName(), () => prefect.workQueueName(), settings.prefect.poolReadSeconds * 1000);
const prefectWorkers = sharedCheck(() => poolWorkers.check(), 5000);
const prefectReady = async () => {
  await prefect.health();
  await prefectDatabase();
};
const notifier = new EventNotifier(redis, eventsChannel(settings.redis.queuePrefix));
const store = notifyingStore(await openStore(settings.store, { migrate: true, clientName: `quire-gateway-${process.pid}` }), notifier);
const hub = new EventHub(heard(redis.duplicate(), "events subscriber"), eventsChannel(settings.redis.queuePrefix));
await hub.start();
const metrics = new GatewayMetrics(store);
metrics.start(hub);
const mockQueue = new Queue(stepQueueName("mock"), { connection: redis, prefix: settings.redis.queuePrefix });

const secrets = new PrefectSecrets(prefectClient);
const credentials = new Credentials(settings.providers, (name) => secrets.read(name));
const providerDefaults: ProviderDefaults = { provider: settings.defaultProvider, models: { mock: "mock-writer-1", openai: settings.providers.openai.model, gemini: settings.providers.gemini.model } };
const holds = new HoldFlags(redis, settings.redis.queuePrefix);
// A flow run counts as dead when its lease has been missing for a lease period after it went Running.
const leases = new FlowLeases(redis, settings.redis.queuePrefix, settings.prefect.flowLeaseSeconds * 1000);
// Each stage starts the book's next flow run ahead, so the next stage does not wait for a flow process to start.
// Spares wait for any book's stage (a first stage, say) the same way.
const standby = settings.prefect.standbyFlowRuns ? new StandbyFlowRuns(redis, settings.redis.queuePrefix) : undefined;
const handOver = standby && new StandbyHandOver({ standby, prefect, leases, log, spares: settings.prefect.spareFlowRuns, occupancy: () => poolWorkers.occupancy() });
const launcher = new StageLauncher({ store, prefect, graph, providerDefaults, log, handOver });
const announceCancel = cancelAnnouncer(redis, settings.redis.queuePrefix);
const locks = new DriveLocks(redis, settings.redis.queuePrefix, `${hostname()}:${settings.http.port}`);
const control = new RunControl({ store, prefect, holds, graph, launcher, log, announceCancel, locks, leases, standby });
const liveness = new FlowRunLiveness({ prefect, log, leases, startGraceMs: settings.prefect.flowStartSeconds * 1000 });
// A book's flow run is left alone for two lease periods after its last change: it may be recording its end.
const orphans = new OrphanSweep({ store, prefect, liveness, log, graceMs: 2 * settings.prefect.flowLeaseSeconds * 1000 });
const driver = new RunDriver({ store, prefect, holds, launcher, graph, log, announceCancel, liveness, leases, locks, standby, handOver, orphans, pollMs: settings.prefect.pollMs });
// Flow runs announce their end (prefect-flows/run_stage.py hooks), agent workers a stage's last step: the driver moves on at once, polling stays the fallback.
const flowsFinished = new EventHub(heard(redis.duplicate(), "flow ends subscriber"), flowFinishedChannel(settings.redis.queuePrefix));
await flowsFinished.start();
flowsFinished.listen(() => driver.nudge());
const gatewayUrl = settings.http.publicUrl;
const links = { gatewayUrl, prefectUiUrl: settings.prefect.uiUrl };

const app = createApp({
  runs: new RunService(store, graph, providerDefaults, (provider) => credentials.availability(provider), () => driver.nudge()),
  control,
  hub,
  metrics,
  // The safety net for a lost announcement: the hub wakes every stream when Redis comes back, so this is
  // rare; at the stream limit, every 2 s was ~500 store reads a second.
  sse: { heartbeatMs: settings.http.sseHeartbeatMs, pollMs: 15_000 },
  store,
  graph,
  providerDefaults,
  links,
  log,
  apiKey: settings.http.apiKey,
  bodyLimit: settings.http.bodyLimit,
  allowedHosts: allowedHostsFor(settings.http.host, gatewayUrl, settings.http.allowedHosts),
  maxStreams: settings.http.maxStreams,
  healthChecks: [
    // Its API on every call; its database (/ready) at most every 5 s while it answers.
    { name: "prefect", check: prefectReady },
    { name: "prefectWorkers", check: prefectWorkers },
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

const server = app.listen(settings.http.port, settings.http.host, () => {
  log.info({ url: gatewayUrl, prefect: settings.prefect.apiUrl }, "gateway listening");
  if (!settings.http.apiKey && !isLoopbackHost(settings.http.host)) {
    log.warn({ host: settings.http.host }, "listening beyond this machine without QUIRE_API_KEY: whoever reaches this port can read every book and drive every run (docs/security.md)");
  }
  driver.start();
});
// A request must arrive whole within 2 minutes (Node's default: 5): a client that sends its body slowly
// holds the import route, which takes one import at a time. Streams' responses are not limited by this.
server.requestTimeout = 120_000;

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "gateway stopping");
  driver.stop();
  server.closeAllConnections();
  server.close();
  await hub.stop();
  await flowsFinished.stop();
  await mockQueue.close();
  redis.disconnect();
  await store.close();
  process.exit(0);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
