import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import type { StepKey } from "../api/store/records.js";

/** A held claim, renewed while held. */
export interface StepClaim {
  /** Gives it up, if it is still this claim's (a lapsed one may have been taken by another job since). */
  release(): Promise<void>;
}

const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

/**
 * One provider call per step at a time, across agent workers. Two jobs can ask for the same step: a
 * second flow process of one flow run (an operator's Resume in Prefect while the gateway's pause waits
 * for the step in flight), or a stage's next attempt started while its previous attempt's call is still
 * under way (a crash restart, a resume after a failure). The second job waits for the first call's end,
 * then takes its accepted answer instead of paying for the step again; if that call failed, it calls.
 * A claim lapses `ttlMs` after its holder stops renewing it: its worker was killed, or its job was
 * aborted (its deadline passed, its run was cancelled) but is stuck somewhere the abort does not reach.
 */
export class StepClaims {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly ttlMs = 30_000, private readonly pollMs = 250) {}

  private key(k: StepKey) {
    return `${this.prefix}:step-claim:${k.runId}:${k.stageId}:${k.stepId}:${k.iteration}`;
  }

  /**
   * The step's claim, waiting while another call holds it; null when, meanwhile, the step no longer
   * needs a call (`stillNeeded` says false: its output was accepted). An abort ends the wait.
   */
  async claim(k: StepKey, jobId: string, stillNeeded: () => Promise<boolean>, signal?: AbortSignal): Promise<StepClaim | null> {
    const key = this.key(k);
    // Each claim its own token: a job BullMQ handed on keeps its id, and its stale delivery's release must
    // not free the claim its new delivery holds.
    const token = `${jobId}:${randomUUID()}`;
    for (;;) {
      signal?.throwIfAborted();
      if ((await this.redis.set(key, token, "PX", this.ttlMs, "NX")) === "OK") break;
      await sleep(this.pollMs, undefined, { signal });
      if (!(await stillNeeded())) return null;
    }
    const renewal = setInterval(() => void this.redis.eval(RENEW, 1, key, token, this.ttlMs).catch(() => undefined), this.ttlMs / 3);
    renewal.unref();
    const stopRenewing = () => clearInterval(renewal);
    signal?.addEventListener("abort", stopRenewing, { once: true });
    return {
      release: async () => {
        stopRenewing();
        signal?.removeEventListener("abort", stopRenewing);
        await this.redis.eval(RELEASE, 1, key, token).catch(() => undefined);
      },
    };
  }
}
