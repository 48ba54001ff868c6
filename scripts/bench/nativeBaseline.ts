import { Redis } from "ioredis";
import { flowRunsReadyChannel } from "../../api/events/eventNotifier.js";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import type { Stack } from "../stack/stack.js";

/**
 * The Prefect-native baseline: the 29 steps as plain tasks in one flow run (prefect-flows/native_baseline.py,
 * deployment native-baseline/bench), on the same server and worker. Wall time from flow run creation to
 * its Completed state (the flow run's own end time, as the gateway's is from submit to run.completed's
 * time stamp), read with a slow poll so that watching it adds no load to the Prefect server it measures.
 * The baseline's flow run wakes the worker as the gateway's do, so neither waits for the worker's poll.
 */
export async function runNativeBaseline(stack: Stack, premise: string): Promise<number> {
  const redis = new Redis(stack.redisUrl);
  const wake = () => void redis.publish(flowRunsReadyChannel("quire"), "1");
  const prefect = new PrefectRuns(createPrefectClient(stack.prefectApiUrl), "native-baseline/bench", wake);
  try {
    const started = Date.now();
    const created = await prefect.createFlowRun({ name: `baseline-${Date.now()}`, parameters: { premise }, tags: ["bench"], idempotencyKey: `baseline-${started}` });
    for (;;) {
      const run = await prefect.readFlowRun(created.id);
      if (run.stateType === "COMPLETED") return Date.parse(run.endTime!) - started;
      if (run.stateType && ["FAILED", "CRASHED", "CANCELLED"].includes(run.stateType)) throw new Error(`baseline flow run ${run.stateType}: ${run.message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    redis.disconnect();
  }
}
