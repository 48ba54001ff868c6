import { Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import type { ProviderName } from "../api/config/stageGraphSchema.js";
import { cancelChannel } from "../api/runs/runCancellations.js";
import { stepQueueName } from "./queueNames.js";
import { StepJobData, type StepJobResult } from "./stepJob.js";
import { StepClaims } from "./stepClaims.js";
import { JobLockLost, PermanentStepError, RunCancelled, runStep, StepDeadlinePassed, type StepRunnerDeps } from "./stepRunner.js";

export const AGENT_WORKER_NAME = "quire-agent";

export interface AgentWorkerOptions {
  redisUrl: string;
  queuePrefix: string;
  /** Jobs of each provider this worker runs at once (a per-provider limit, so many books do not trip a rate limit). */
  concurrency: Record<ProviderName, number>;
  /** How long a job's lock lasts; BullMQ renews it at half that while the step runs (the heartbeat). */
  lockDurationMs?: number;
  /** How long finished jobs (with their data and results) stay in Redis: a day if completed, a week if failed. */
  keepJobsSeconds?: { completed: number; failed: number };
}

const DAY_SECONDS = 24 * 3600;

/**
 * Consumes the step queues of every provider this worker has. BullMQ holds the worker's lock on a job
 * and renews it while the step runs; a job whose lock lapses (worker died) is "stalled" and handed to
 * another worker, where the accepted-output check keeps the step from being done twice. A worker that is
 * alive but could not renew a lock in time (Redis away for longer than the lock) stops that job's provider
 * call: the job is another worker's now, and the call would be paid for twice.
 */
export class AgentWorker {
  private readonly workers: Worker<unknown, StepJobResult>[] = [];
  private readonly connection: Redis;
  private readonly cancelSubscriber: Redis;
  private readonly claims: StepClaims;
  /** Provider calls in flight, by run, so a cancel can abort them. */
  private readonly inFlight = new Map<string, Set<AbortController>>();
  /** The same calls by job id, oldest first (a job handed back after its lock lapsed can come here again). */
  private readonly byJob = new Map<string, AbortController[]>();

  constructor(private readonly deps: StepRunnerDeps, private readonly opts: AgentWorkerOptions) {
    this.connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    this.cancelSubscriber = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    this.claims = new StepClaims(this.connection, opts.queuePrefix, opts.lockDurationMs ?? 30_000);
    // ioredis reconnects by itself; unheard, each failed attempt would go to stderr as "Unhandled error event".
    for (const [client, role] of [[this.connection, "jobs"], [this.cancelSubscriber, "cancel subscriber"]] as const) {
      client.on("error", (err) => deps.log.warn({ err: err.message, connection: role }, "redis connection error"));
    }
  }

  start(): void {
    this.cancelSubscriber.on("message", (_channel: string, runId: string) => {
      for (const controller of this.inFlight.get(runId) ?? []) controller.abort(new RunCancelled(runId));
    });
    void this.cancelSubscriber.subscribe(cancelChannel(this.opts.queuePrefix));
    for (const provider of this.deps.providers.names()) {
      const worker = new Worker<unknown, StepJobResult>(stepQueueName(provider), (job, token, signal) => this.process(job, signal), {
        connection: this.connection,
        prefix: this.opts.queuePrefix,
        concurrency: this.opts.concurrency[provider],
        lockDuration: this.opts.lockDurationMs ?? 30_000,
        // How often stalled jobs (whose worker's lock lapsed) are looked for and handed to a live worker.
        stalledInterval: this.opts.lockDurationMs ?? 30_000,
        name: AGENT_WORKER_NAME,
        // Each job holds a step's settings and its whole output: kept for ever, Redis (and its append-only
        // file) would grow with every book. A flow run again later adds the job again, and gets the stored output.
        removeOnComplete: { age: this.opts.keepJobsSeconds?.completed ?? DAY_SECONDS },
        removeOnFail: { age: this.opts.keepJobsSeconds?.failed ?? 7 * DAY_SECONDS },
      });
      worker.on("failed", (job, err) => this.deps.log.warn({ jobId: job?.id, err: err.message }, "step job failed"));
      // BullMQ only reports a lock it could not renew; the call goes on unless stopped here.
      // A lock that lapsed is the oldest call's: a newer one of the same job took a fresh lock.
      worker.on("lockRenewalFailed", (jobIds) => {
        for (const id of jobIds) this.byJob.get(id)?.[0]?.abort(new JobLockLost(id));
      });
      worker.on("error", (err) => this.deps.log.error({ err: err.message }, "agent worker error"));
      this.workers.push(worker);
    }
  }

  private async process(job: Job<unknown, StepJobResult>, signal?: AbortSignal): Promise<StepJobResult> {
    const parsed = StepJobData.safeParse(job.data);
    if (!parsed.success) throw new PermanentStepError(`job ${job.id} has invalid data: ${parsed.error.message}`);
    const data = parsed.data;
    const log = this.deps.log.child({ runId: data.runId, stageId: data.stageId, stepId: data.stepId, jobId: job.id });
    // The flow waits `timeoutSeconds` from the job's creation, then gives up on this try and Prefect starts
    // the next: the try stops then too, rather than call on (or start) beside its successor.
    const deadline = new StepDeadlinePassed(data.stepId, data.timeoutSeconds);
    const msLeft = job.timestamp + data.timeoutSeconds * 1000 - Date.now();
    if (msLeft <= 0) throw deadline;
    const controller = new AbortController();
    signal?.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
    const timer = setTimeout(() => controller.abort(deadline), msLeft);
    const running = this.inFlight.get(data.runId) ?? new Set();
    this.inFlight.set(data.runId, running.add(controller));
    // The same job here again while an older call of it runs: BullMQ handed it back after that call's lock
    // lapsed, maybe before the call learnt so (lockRenewalFailed): that call is no longer ours.
    const sameJob = this.byJob.get(String(job.id)) ?? [];
    for (const older of sameJob) older.abort(new JobLockLost(String(job.id)));
    this.byJob.set(String(job.id), [...sameJob, controller]);
    try {
      return await runStep(data, String(job.id), { claims: this.claims, ...this.deps, log }, controller.signal);
    } finally {
      clearTimeout(timer);
      const left = (this.byJob.get(String(job.id)) ?? []).filter((c) => c !== controller);
      if (left.length) this.byJob.set(String(job.id), left);
      else this.byJob.delete(String(job.id));
      running.delete(controller);
      if (!running.size) this.inFlight.delete(data.runId);
    }
  }

  async close(): Promise<void> {
    // With Redis away, a graceful close would wait for it to come back (BullMQ queues its QUIT): a forced
    // one does not, and jobs in flight are handed to another worker once their locks lapse.
    const force = this.connection.status !== "ready";
    if (force) this.deps.log.warn({ redis: this.connection.status }, "closing without Redis: jobs in flight are handed on when their locks lapse");
    await Promise.all(this.workers.map((w) => w.close(force)));
    this.connection.disconnect();
    this.cancelSubscriber.disconnect();
  }
}
