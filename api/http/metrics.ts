import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EventHub } from "../events/eventNotifier.js";
import { providerNames, type ProviderName } from "../config/stageGraphSchema.js";
import { runStatuses, type EventRecord } from "../store/records.js";
import type { Store } from "../store/store.js";

/**
 * Prometheus metrics at /metrics: runs by status (read from the store at scrape time), and step latency
 * and provider errors, observed from the progress events as they arrive (so steps done by agent workers
 * in other processes count too).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private lastEventId = 0;
  private tailing = false;
  private readonly stepLatency = new Histogram({
    name: "quire_step_latency_seconds",
    help: "Provider call latency of accepted steps",
    labelNames: ["provider", "stage"],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  /** Open SSE streams; a stream whose client left is removed at once. */
  readonly streamClients = new Gauge({ name: "quire_event_stream_clients", help: "Open Server-Sent Events streams", registers: [this.registry] });
  private readonly stepFailures = new Counter({ name: "quire_step_failures_total", help: "Step tries that failed (step.failed or step.retrying): a provider error, an answer that fails its schema, a store failure", labelNames: ["provider"], registers: [this.registry] });

  constructor(private readonly store: Store) {
    const countRuns = () => store.countRunsByStatus();
    new Gauge({
      name: "quire_runs",
      help: "Book runs by status",
      labelNames: ["status"],
      registers: [this.registry],
      async collect() {
        const counts = await countRuns();
        for (const status of runStatuses) this.set({ status }, counts[status] ?? 0);
      },
    });
  }

  /** Observes every stored event (history first), then each new one as it is announced. */
  start(hub: EventHub): void {
    // A store that is briefly away (a restart) is read again at the next announcement; its error must not
    // end the gateway as an unhandled rejection.
    const tail = () => void this.tail().catch(() => undefined);
    hub.listen(tail);
    tail();
  }

  private async tail(): Promise<void> {
    if (this.tailing) return;
    this.tailing = true;
    try {
      let batch;
      do {
        batch = await this.store.listEventsAfter(this.lastEventId, { limit: 1000 });
        for (const event of batch) this.observe(event);
      } while (batch.length === 1000);
    } finally {
      this.tailing = false;
    }
  }

  private observe(event: EventRecord): void {
    this.lastEventId = event.id;
    // Labels only from known values: every distinct label is a series kept for the gateway's life.
    const provider = providerNames.includes(event.data?.provider as ProviderName) ? String(event.data?.provider) : "unknown";
    if (event.type === "step.completed" && typeof event.data?.latencyMs === "number") {
      this.stepLatency.observe({ provider, stage: event.stageId ?? "" }, event.data.latencyMs / 1000);
    }
    if (event.type === "step.failed" || event.type === "step.retrying") this.stepFailures.inc({ provider });
  }
}
