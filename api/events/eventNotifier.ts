import type { Redis } from "ioredis";
import { redisName } from "../config/redisNames.js";

/**
 * Tells every gateway that a run has new events, over Redis pub/sub (the message is the run id). The
 * store stays the source of truth: a listener reads what it missed from there, so a lost message costs
 * latency, never an event (the hub wakes every listener when its connection comes back; streams also
 * read the store now and then).
 */
export class EventNotifier {
  constructor(private readonly publisher: Redis, private readonly channel: string) {}

  async notify(runId: string): Promise<void> {
    await this.publisher.publish(this.channel, runId).catch(() => undefined);
  }
}

/** Called with the run that has news, or null for "any run may have": announcements may have been lost. */
export type RunEventsListener = (runId: string | null) => void;

/** The gateway's side: one subscriber connection fanned out to every open stream. */
export class EventHub {
  private readonly listeners = new Set<RunEventsListener>();

  constructor(private readonly subscriber: Redis, private readonly channel: string) {}

  async start(): Promise<void> {
    this.subscriber.on("message", (_channel: string, runId: string) => this.listeners.forEach((l) => l(runId)));
    // Back after a drop (a Redis restart): what was announced meanwhile never came. Every listener reads
    // the store again, at once, rather than at its next poll.
    this.subscriber.on("ready", () => this.listeners.forEach((l) => l(null)));
    await this.subscriber.subscribe(this.channel);
  }

  listen(listener: RunEventsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    await this.subscriber.quit().catch(() => undefined);
  }
}

export const eventsChannel = (prefix: string) => `${prefix}:events`;
/** Where the gateway wakes warm Prefect workers when a flow run awaits one (prefect-flows/warm_worker.py listens). */
export const flowRunsReadyChannel = (prefix: string) => redisName("flowRunsReady", { prefix });
/**
 * Where run-stage flow runs announce (with their book run's id) that they reached a final state, and agent
 * workers that a stage's last step is done: either way, the run driver looks at that run now.
 */
export const flowFinishedChannel = (prefix: string) => redisName("flowFinished", { prefix });
