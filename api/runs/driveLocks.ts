import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * One hand at a time moves a given run: before a pass over a run, the driver takes a short lock in Redis
 * (SET NX PX); other gateways skip that run until it is released or lapses. A client's command (pause,
 * rollback...) takes the same lock, waiting for it briefly, so that the driver never sees a command
 * half-applied (e.g. a rolled-back run "running" before its new stage is recorded, which it would
 * finish as completed again). Everything the driver does is idempotent anyway (flow runs keyed by stage
 * attempt, one output per step, optimistic status changes); the lock keeps two hands from doing the same
 * work, and the same event twice. A lock held is renewed (every third of its TTL) until released: a
 * pass or a command slowed by a Prefect that takes its time (25 s a call, at worst) keeps its run.
 */
export class DriveLocks {
  /** Runs this process holds now: the Redis lock is its own (same owner), so it keeps out this process too. */
  private readonly held = new Set<string>();
  private readonly renewals = new Map<string, NodeJS.Timeout>();

  /**
   * @param owner names this gateway; the same name after a restart (host and port, say) takes back at
   * once the locks its killed predecessor held, instead of waiting for them to lapse.
   */
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly owner: string = randomUUID(), private readonly ttlMs = 15_000) {}

  private key(runId: string) {
    return `${this.prefix}:drive:${runId}`;
  }

  async acquire(runId: string): Promise<boolean> {
    if (this.held.has(runId)) return false;
    this.held.add(runId);
    const script = "local o = redis.call('get', KEYS[1]) if o and o ~= ARGV[1] then return 0 end redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";
    try {
      if ((await this.redis.eval(script, 1, this.key(runId), this.owner, this.ttlMs)) === 1) {
        this.renewals.set(runId, setInterval(() => void this.renew(runId), this.ttlMs / 3).unref());
        return true;
      }
    } catch (err) {
      this.held.delete(runId);
      throw err;
    }
    this.held.delete(runId);
    return false;
  }

  /**
   * Waits (a short while) for the run's lock, runs `work` under it, and releases it; not ok if it never
   * came. Redis not answering counts as got, as in the driver: the lock only spares duplicate work.
   */
  async withLock<T>(runId: string, work: () => Promise<T>, waitMs = 5000): Promise<{ ok: true; value: T } | { ok: false }> {
    const deadline = Date.now() + waitMs;
    while (!(await this.acquire(runId).catch(() => true))) {
      if (Date.now() > deadline) return { ok: false };
      await new Promise((r) => setTimeout(r, 25));
    }
    try {
      return { ok: true, value: await work() };
    } finally {
      await this.release(runId).catch(() => undefined);
    }
  }

  /** Releases only our own lock (compare-and-delete in one step). */
  async release(runId: string): Promise<void> {
    this.held.delete(runId);
    clearInterval(this.renewals.get(runId));
    this.renewals.delete(runId);
    await this.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, this.key(runId), this.owner);
  }

  /** Extends our own lock; one that lapsed meanwhile (Redis away for a TTL) is not taken back. */
  private async renew(runId: string): Promise<void> {
    const script = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
    await this.redis.eval(script, 1, this.key(runId), this.owner, this.ttlMs).catch(() => undefined);
  }
}
