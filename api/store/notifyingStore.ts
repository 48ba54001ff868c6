import type { EventNotifier } from "../events/eventNotifier.js";
import type { Store } from "./store.js";

/**
 * Wraps a Store so that every write that appends an event also notifies listeners (after it commits).
 * Gateways and agent workers both use it, so a step event written by a worker reaches SSE clients at once.
 */
export function notifyingStore(store: Store, notifier: EventNotifier): Store {
  const after = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, runIdOf: (...args: A) => string) =>
    async (...args: A): Promise<R> => {
      const result = await fn(...args);
      await notifier.notify(runIdOf(...args));
      return result;
    };
  return Object.assign(Object.create(store) as Store, {
    createRun: after(store.createRun.bind(store), (run) => run.id),
    acceptOutput: after(store.acceptOutput.bind(store), (output) => output.runId),
    supersedeStages: after(store.supersedeStages.bind(store), (runId) => runId),
    appendEvent: after(store.appendEvent.bind(store), (event) => event.runId),
    atomically: after(store.atomically.bind(store), (runId) => runId) as Store["atomically"],
  });
}
