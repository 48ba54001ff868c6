import { Redis } from "ioredis";
import { flowRunsReadyChannel } from "../../api/events/eventNotifier.js";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import type { Stack } from "../stack/stack.js";

/**
 * The Prefect-native baseline: the book's steps (from config/stages.yaml, as Quire runs them) as plain tasks in one flow run (prefect-flows/native_baseline.py,
 * deployment native-baseline/bench), on the same server and worker. Wall time from flow run creation to
 * its Completed state (the flow run's own end time, as the gateway's is from submit to run.completed's
 * time stamp), read with a slow poll so that watching it adds no load to the Prefect server it measures.
 * The baseline's flow run wakes the worker as the gateway's do, so neither waits for the worker's poll.
 */
export async function runNativeBaseline(stack: Stack, premise: string, steps: string[]): Promise<number> {
  return withPrefect(stack, async (prefect) => {
    const started = Date.now();
    return (await runToEnd(prefect, `baseline-${started}`, { premise, steps }, 500)) - started;
  });
}

/**
 * The same steps with a flow run per stage, as Prefect alone would chain them: each stage's steps as a
 * flow run of the baseline's deployment, created when the previous one is seen Completed (watched every
 * 100 ms, as a parent flow's `run_deployment` would with `poll_interval=0.1`). What a flow run per stage
 * costs in Prefect itself, without Quire's standby flow runs. Wall time from the first creation to the
 * last flow run's end.
 */
export async function runNativeChain(stack: Stack, premise: string, stages: string[][]): Promise<number> {
  return withPrefect(stack, async (prefect) => {
    const started = Date.now();
    let end = started;
    for (const [i, steps] of stages.entries()) end = await runToEnd(prefect, `chain-${started}-${i}`, { premise, steps }, 100);
    return end - started;
  });
}

async function withPrefect<T>(stack: Stack, work: (prefect: PrefectRuns) => Promise<T>): Promise<T> {
  const redis = new Redis(stack.redisUrl);
  const wake = () => void redis.publish(flowRunsReadyChannel("quire"), "1");
  try {
    return await work(new PrefectRuns(createPrefectClient(stack.prefectApiUrl), "native-baseline/bench", wake));
  } finally {
    redis.disconnect();
  }
}

/** Creates a flow run of the baseline's deployment and waits for it; returns its end (epoch ms). */
async function runToEnd(prefect: PrefectRuns, name: string, parameters: Record<string, unknown>, pollMs: number): Promise<number> {
  const created = await prefect.createFlowRun({ name, parameters, tags: ["bench"], idempotencyKey: name });
  for (;;) {
    const run = await prefect.readFlowRun(created.id);
    if (run.stateType === "COMPLETED") return Date.parse(run.endTime!);
    if (run.stateType && ["FAILED", "CRASHED", "CANCELLED"].includes(run.stateType)) throw new Error(`baseline flow run ${run.stateType}: ${run.message}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
