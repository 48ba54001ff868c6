import { hostname } from "node:os";
import type { Logger } from "pino";
import type { StageGraph } from "../api/config/stageGraph.js";
import { percentComplete, plannedStepIds } from "../api/runs/progress.js";
import { appendRunEvent } from "../api/runs/runEvents.js";
import { isLastStepOfStage } from "../api/runs/stageSteps.js";
import { withSpan } from "../api/tracing.js";
import type { Store } from "../api/store/store.js";
import { outputJsonSchema, parseOutput, type StepOutputContent } from "./outputSchemas.js";
import { redactSecrets } from "./providers/redact.js";
import { buildStepPrompt } from "./prompts/stepPrompt.js";
import { PermanentProviderError, type FailedCall, type GenerateResponse } from "./providers/provider.js";
import type { ProviderRegistry } from "./providers/providerRegistry.js";
import { PERMANENT_MARK } from "./queueNames.js";
import type { StepClaim, StepClaims } from "./stepClaims.js";
import type { StepJobData, StepJobResult } from "./stepJob.js";

export interface StepRunnerDeps {
  store: Store;
  providers: ProviderRegistry;
  graph: StageGraph;
  log: Logger;
  /**
   * Asks the gateways to look at the run now: the stage's last step (in file order) was accepted, so the
   * stage may be done (a loop may still go back; the gateway checks) and its next stage can start without
   * waiting for Prefect's bookkeeping.
   */
  lastStepAccepted?: (runId: string) => Promise<void>;
  /** One provider call per step at a time, across workers (stepClaims.ts); none in tests that need no Redis. */
  claims?: StepClaims;
}

/** Names this agent worker process in step.started events (which worker holds which step). */
const workerId = `${hostname()}:${process.pid}`;
/** How often a step.heartbeat event is written while a provider call runs (docs/events.md). */
const HEARTBEAT_MS = 10_000;

/** Failure the flow must not retry; the mark travels in the BullMQ job's failedReason. */
export class PermanentStepError extends Error {
  constructor(message: string) {
    super(`${PERMANENT_MARK} ${message}`);
  }
}

/** The flow stopped waiting for this try of the step (its timeout, counted from the job's creation). */
export class StepDeadlinePassed extends Error {
  constructor(stepId: string, timeoutSeconds: number) {
    super(`step ${stepId} took longer than its timeout of ${timeoutSeconds} s; the flow has moved on to its next try`);
  }
}

/** This worker could not renew the job's lock in time: the job is handed to another worker, which does the step. */
export class JobLockLost extends Error {
  constructor(jobId: string) {
    super(`this worker lost the lock of job ${jobId} (Redis out of reach for longer than the lock?); another worker does the step`);
  }
}

/** The step's run was cancelled while its call was under way: the call is aborted. */
export class RunCancelled extends Error {
  constructor(runId: string) {
    super(`run ${runId} was cancelled; the call was aborted`);
  }
}

/** A step of a run in one of these is not worth a provider call. */
const stoppedStatuses = new Set(["completed", "failed", "cancelling", "cancelled"]);

/**
 * Does one step: returns the accepted output if there is one (no provider call), else asks the provider,
 * validates the answer and records output + audit + event in one transaction.
 */
export function runStep(job: StepJobData, jobId: string, deps: StepRunnerDeps, signal?: AbortSignal): Promise<StepJobResult> {
  const attributes = { "quire.run_id": job.runId, "quire.stage_id": job.stageId, "quire.step_id": job.stepId, "quire.provider": job.provider, "quire.try": job.try };
  return withSpan(`step ${job.stageId}.${job.stepId}`, attributes, () => doStep(job, jobId, deps, signal));
}

async function doStep(job: StepJobData, jobId: string, deps: StepRunnerDeps, signal?: AbortSignal): Promise<StepJobResult> {
  const { store, log } = deps;
  const key = { runId: job.runId, stageId: job.stageId, stepId: job.stepId, iteration: job.iteration };
  const reuse = async () => {
    const existing = await store.findAcceptedOutput(key);
    if (existing) log.info({ ...key, version: existing.version }, "step already has an accepted output; not calling the provider");
    return existing ? { outputId: existing.id, version: existing.version, content: existing.content, reused: true } : null;
  };
  // The claim first, then the look for an answer: one accepted by the call that held the claim before is seen.
  let claim: StepClaim | null | undefined;
  try {
    claim = await deps.claims?.claim(key, jobId, async () => !(await store.findAcceptedOutput(key)), signal);
  } catch (err) {
    // Aborted while waiting for another job's call: said as a try's end is said (a deadline, a lost
    // lock), or for good (the run was cancelled).
    if (!signal?.aborted) throw err;
    if (signal.reason instanceof StepDeadlinePassed || signal.reason instanceof JobLockLost) throw signal.reason;
    throw new PermanentStepError(`step ${job.stepId} was not run: ${(signal.reason as Error)?.message ?? "aborted"}`);
  }
  if (claim === null) return (await reuse())!; // another job's call answered the step while this one waited
  try {
    return (await reuse()) ?? (await askProvider(job, jobId, deps, signal));
  } finally {
    await claim?.release();
  }
}

async function askProvider(job: StepJobData, jobId: string, deps: StepRunnerDeps, signal?: AbortSignal): Promise<StepJobResult> {
  const { store, log } = deps;
  const key = { runId: job.runId, stageId: job.stageId, stepId: job.stepId, iteration: job.iteration };
  const run = await store.getRun(job.runId);
  if (!run) throw new PermanentStepError(`run ${job.runId} does not exist`);
  if (stoppedStatuses.has(run.status)) throw new PermanentStepError(`run ${job.runId} is ${run.status}; step ${job.stepId} is not run`);

  const planned = plannedStepIds(deps.graph, run.request.stages);
  const stepEvent = (type: string, status: string, data: Record<string, unknown>) =>
    store.atomically(job.runId, (tx) => appendRunEvent(tx, deps.graph, run, { type, stageId: job.stageId, stepId: job.stepId, status, data: { iteration: job.iteration, try: job.try, provider: job.provider, ...data } }));
  const inputs = await store.latestAcceptedOutputs(job.runId, job.inputs);
  // A step it reads, of a stage this run runs, has no output (an imported run, or a graph changed under a
  // paused book): its prompt would silently lack that work. A clear failure instead; a rollback to that
  // step's stage helps. (A step of a stage the run left out, IDEA for a run from structure on, is not read.)
  const missing = job.inputs.filter((id) => planned.includes(id) && !inputs.some((o) => o.stepId === id));
  if (missing.length) throw new PermanentStepError(`step ${job.stepId} reads ${missing.join(", ")}, which has no accepted output in this run; roll back to the stage that writes it`);
  await stepEvent("step.started", "running", { worker: workerId });

  const { system, prompt } = buildStepPrompt(job, run.request.idea, inputs);
  const request = {
    system,
    prompt,
    model: job.model,
    temperature: job.temperature,
    maxTokens: job.maxTokens,
    signal,
    output: { kind: job.output, jsonSchema: outputJsonSchema(job.output) },
    meta: { stepId: job.stepId, stageAttempt: job.stageAttempt, premise: run.request.idea.premise, inputs: inputs.map((o) => ({ stepId: o.stepId, heading: String(o.content.heading ?? "") })) },
  };
  const audit = {
    ...key,
    stageAttempt: job.stageAttempt,
    jobId,
    attempt: job.try,
    provider: job.provider,
    model: job.model,
    temperature: job.temperature,
    maxTokens: job.maxTokens,
    request: { system, prompt, model: job.model, temperature: job.temperature, maxTokens: job.maxTokens },
  };

  const started = performance.now();
  // While a provider call runs, a heartbeat event shows the step is alive (BullMQ renews the job's lock too).
  // One still being written when the call ends is waited for, so no heartbeat follows the step's end.
  let beating: Promise<unknown> = Promise.resolve();
  const heartbeat = setInterval(() => {
    beating = stepEvent("step.heartbeat", "running", { elapsedMs: Math.round(performance.now() - started) }).catch(() => undefined);
  }, HEARTBEAT_MS);
  const secrets = await deps.providers.secrets();
  let response!: GenerateResponse;
  let content!: StepOutputContent;
  let sent = request;
  try {
    // One repair round: an answer that fails the schema is sent back once with the validation error.
    for (let round = 1; ; round++) {
      const exchange = { ...audit, request: { ...audit.request, prompt: sent.prompt, repair: round > 1 } };
      const callStarted = performance.now();
      // Each HTTP call the adapter makes again (a 429, a 5xx, a timeout) is an exchange of its own.
      const onRetry = (failed: FailedCall) =>
        store.recordAudit({ ...exchange, response: null, outcome: "error", error: `${redactSecrets(failed.error, secrets)} (call ${failed.call}; called again in ${failed.retryInMs} ms)`, inputTokens: null, outputTokens: null, latencyMs: failed.latencyMs, finishReason: null });
      try {
        response = await (await deps.providers.get(job.provider)).generate({ ...sent, onRetry });
      } catch (err) {
        const timedOut = signal?.reason instanceof StepDeadlinePassed;
        const lockLost = signal?.reason instanceof JobLockLost;
        const message = redactSecrets((timedOut || lockLost ? signal.reason : (err as Error)).message, secrets);
        const permanent = err instanceof PermanentProviderError;
        const cancelled = signal?.reason instanceof RunCancelled;
        // A cancel's aborted call is no failure of the step: abandoned, as a late answer to a cancelled run is.
        await store.recordAudit({ ...exchange, response: null, outcome: cancelled ? "abandoned" : "error", error: message, inputTokens: null, outputTokens: null, latencyMs: performance.now() - callStarted, finishReason: null });
        // Not this worker's step any more: the worker that took the job reports on it.
        if (lockLost) throw new Error(message);
        // Aborted by BullMQ (its job cancelled) or by a cancel: no retry.
        const stopped = Boolean(signal?.aborted) && !timedOut && !lockLost;
        const willRetry = !permanent && !stopped && job.try <= job.retries;
        if (cancelled) await stepEvent("step.cancelled", "cancelled", { error: message });
        else await stepEvent(willRetry ? "step.retrying" : "step.failed", willRetry ? "retrying" : "failed", { error: message });
        if (permanent || stopped) throw new PermanentStepError(message);
        throw new Error(message);
      }
      const parsed = parseOutput(job.output, response.text);
      if (parsed.ok) {
        content = parsed.content;
        audit.request = exchange.request;
        break;
      }
      await store.recordAudit({ ...exchange, response: answerOf(response), outcome: "rejected", error: parsed.error, ...usageOf(response) });
      if (round === 2) {
        await stepEvent("step.failed", "failed", { error: parsed.error });
        throw new PermanentStepError(`step ${job.stepId}: the ${job.provider} answer does not match the "${job.output}" schema after one repair: ${parsed.error}`);
      }
      sent = { ...request, prompt: `${request.prompt}\n\n## Your previous answer was not valid\n${parsed.error}\nAnswer again with one JSON object of the kind "${job.output}" and nothing else.` };
    }
  } finally {
    clearInterval(heartbeat);
    await beating;
  }
  const usage = usageOf(response);
  const exchange = { ...audit, model: response.model, response: answerOf(response), ...usage };
  let accepted: Awaited<ReturnType<Store["acceptOutput"]>>;
  try {
    accepted = await store.acceptOutput(
      { ...key, stageAttempt: job.stageAttempt, content, provider: job.provider, model: response.model, jobId },
      { ...exchange, outcome: "accepted", error: null },
      { runId: job.runId, type: "step.completed", stageId: job.stageId, stepId: job.stepId, status: "completed", percent: (acceptedStepIds) => percentComplete(planned, acceptedStepIds), data: { iteration: job.iteration, try: job.try, provider: job.provider, model: response.model, latencyMs: Math.round(response.latencyMs) } },
    );
  } catch (err) {
    // The answer was paid for but not stored (a locked database, a lost connection): its exchange is still
    // audited, outside the failed transaction, and the step reported; best effort, as the store may be down.
    const message = redactSecrets(`the answer could not be stored: ${(err as Error).message}`, secrets);
    await store.recordAudit({ ...exchange, outcome: "error", error: message }).catch(() => undefined);
    const willRetry = job.try <= job.retries;
    await stepEvent(willRetry ? "step.retrying" : "step.failed", willRetry ? "retrying" : "failed", { error: message }).catch(() => undefined);
    throw new Error(message);
  }
  if ("abandoned" in accepted) {
    log.warn({ ...key, reason: accepted.abandoned }, "step result abandoned");
    throw new PermanentStepError(`step ${job.stepId} result abandoned: ${accepted.abandoned}`);
  }
  const { output, created } = accepted;
  log.info({ ...key, version: output.version, created, latencyMs: Math.round(response.latencyMs) }, "step output accepted");
  if (isLastStepOfStage(deps.graph.stages, job.stageId, job.stepId)) await deps.lastStepAccepted?.(job.runId).catch(() => undefined);
  return { outputId: output.id, version: output.version, content: output.content, reused: !created };
}

const answerOf = (r: GenerateResponse) => ({ text: r.text, ...(r.notes ? { notes: r.notes } : {}) });
const usageOf = (r: GenerateResponse) => ({ inputTokens: r.usage.inputTokens, outputTokens: r.usage.outputTokens, latencyMs: r.latencyMs, finishReason: r.finishReason });
