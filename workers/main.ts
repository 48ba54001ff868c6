// Agent worker process: consumes step jobs from Redis, calls the provider, writes outputs and audit.
import { loadStageGraph } from "../api/config/stageGraph.js";
import { loadSettings } from "../api/config/settings.js";
import { loadOrExit } from "../api/config/loadOrExit.js";
import { createLogger, withoutPassword } from "../api/logging.js";
import { Redis } from "ioredis";
import { EventNotifier, eventsChannel, flowFinishedChannel } from "../api/events/eventNotifier.js";
import { notifyingStore } from "../api/store/notifyingStore.js";
import { openStore } from "../api/store/openStore.js";
import { AgentWorker } from "./agentWorker.js";
import { ProviderRegistry } from "./providers/providerRegistry.js";
import { Credentials } from "../api/config/credentials.js";
import { createPrefectClient } from "../api/prefect/client.js";
import { PrefectSecrets } from "../api/prefect/prefectSecrets.js";

const settings = loadOrExit(() => loadSettings());
const log = createLogger("agent-worker", settings.logLevel);
const graph = loadOrExit(() => loadStageGraph(settings.stagesFile));
const publisher = new Redis(settings.redis.url, { maxRetriesPerRequest: 1 });
publisher.on("error", (err) => log.warn({ err: err.message }, "redis connection error"));
const store = notifyingStore(await openStore(settings.store, { migrate: false, clientName: `quire-agent-worker-${process.pid}` }), new EventNotifier(publisher, eventsChannel(settings.redis.queuePrefix)));
const secrets = new PrefectSecrets(createPrefectClient(settings.prefect.apiUrl));
const credentials = new Credentials(settings.providers, (name) => secrets.read(name));
const providers = new ProviderRegistry({ mockDelayMs: settings.worker.mockDelayMs, settings: settings.providers, credentials });
// A stage's last step accepted: the gateway's driver looks at the run now (the channel flow runs announce their end on).
const lastStepAccepted = async (runId: string) => void (await publisher.publish(flowFinishedChannel(settings.redis.queuePrefix), runId));
const worker = new AgentWorker({ store, providers, graph, log, lastStepAccepted }, {
  redisUrl: settings.redis.url,
  queuePrefix: settings.redis.queuePrefix,
  lockDurationMs: settings.worker.jobLockMs,
  concurrency: { mock: settings.worker.concurrency, openai: settings.providers.openai.concurrency, gemini: settings.providers.gemini.concurrency },
});
worker.start();
log.info({ providers: providers.names(), redis: withoutPassword(settings.redis.url) }, "agent worker started");

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "agent worker stopping");
  await worker.close();
  await store.close();
  publisher.disconnect();
  process.exit(0);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
