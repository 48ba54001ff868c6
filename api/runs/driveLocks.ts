import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * One gateway at a time drives a given run: before a pass over a run, the driver takes a short lock in
 * Redis (SET NX PX); other gateways skip that run until it is released or lapses. Everything the driver
 * does is idempotent anyway (flow runs keyed by stage attempt, one output per step, optimistic status
 * changes); the lock keeps two gateways from doing the same work, and the same event twice.
 */
export class DriveLocks {
  /**
   * @param owner names this gateway; the same name after a restart (host and port, say) takes back at
   * once the locks its killed predecessor held, instead of waiting for them to lapse.
   */
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly owner: string = randomUUID(), private readonly ttlMs = 15_000) {}

  private key(runId: string) {
    return `${this.prefix}:drive:${runId}`;
  }

  async acquire(runId: string): Promise<boolean> {
    const script = "local o = redis.call('get', KEYS[1]) if o and o ~= ARGV[1] then return 0 end redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";
    return (await this.redis.eval(script, 1, this.key(runId), this.owner, this.ttlMs)) === 1;
  }

  /** Releases only our own lock (compare-and-delete in one step). */
  async release(runId: string): Promise<void> {
    await this.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, this.key(runId), this.owner);
  }
}
