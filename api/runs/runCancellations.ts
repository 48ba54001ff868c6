import type { Redis } from "ioredis";

/**
 * Tells every agent worker that a run was cancelled (Redis pub/sub, message = run id), so a provider
 * call in flight for it is aborted at once instead of finishing and being abandoned.
 */
export const cancelChannel = (prefix: string) => `${prefix}:cancel`;

export function cancelAnnouncer(redis: Redis, prefix: string): (runId: string) => Promise<void> {
  return async (runId) => {
    await redis.publish(cancelChannel(prefix), runId).catch(() => undefined);
  };
}
