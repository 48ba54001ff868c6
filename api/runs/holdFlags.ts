import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { redisName } from "../config/redisNames.js";

/**
 * The hold flag of a run, in Redis: the run-stage flow reads it before each step and, when set,
 * suspends itself with Prefect's own suspend_flow_run using the flag's value as the pause key. It holds a
 * run whose flow run is not Running yet (Prefect accepts an outside suspend only from Running). The
 * same pause key on the gateway's own suspend makes the two one pause; after a resume Prefect refuses
 * a used key, so a flag still set after a resume in the Prefect UI does not pause the run again.
 */
const HOLD_PAUSE_KEY_PREFIX = "quire-";

/** Whether a pause key is one a hold flag gave (the gateway's pause), not an operator's Suspend in Prefect. */
export const isHoldPauseKey = (key: string | null): boolean => Boolean(key?.startsWith(HOLD_PAUSE_KEY_PREFIX));

export class HoldFlags {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  private key(runId: string) {
    return redisName("hold", { prefix: this.prefix, runId });
  }

  /** Sets the flag (keeping an existing pause key) and returns the pause key. */
  async hold(runId: string): Promise<string> {
    const pauseKey = `${HOLD_PAUSE_KEY_PREFIX}${randomUUID()}`;
    await this.redis.set(this.key(runId), pauseKey, "NX");
    return (await this.redis.get(this.key(runId))) ?? pauseKey;
  }

  async pauseKey(runId: string): Promise<string | null> {
    return this.redis.get(this.key(runId));
  }

  async release(runId: string): Promise<void> {
    await this.redis.del(this.key(runId));
  }
}
