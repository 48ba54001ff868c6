import type { Redis } from "ioredis";
import { redisName, redisValue } from "../config/redisNames.js";

/**
 * The leases that running run-stage flow processes renew in Redis (prefect-flows/flow_lease.py). Prefect 2
 * has no liveness check of its own for flow runs: a flow process killed together with its worker stays
 * Running in Prefect forever. The run driver asks here, and marks such a flow run Crashed.
 */
export class FlowLeases {
  /** When Redis last started, as far as this gateway knows, and when it last asked. */
  private redisStart = { at: 0, askedAt: -Infinity };

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly graceMs: number) {}

  /** Whether a flow process runs the flow run now (its flow's code marks the lease ended as it ends); null when Redis cannot say. */
  async held(flowRunId: string): Promise<boolean | null> {
    try {
      const lease = await this.redis.get(this.key(flowRunId));
      return lease !== null && lease !== redisValue("flowLeaseEnded") && lease !== redisValue("flowLeaseStopped");
    } catch {
      return null;
    }
  }

  /**
   * Why no process runs a flow run that has been Running for longer than the grace period: "stopped" (its
   * process was told to stop, SIGTERM, and said so as it died) or "lapsed" (no lease: killed). Null while
   * a process may run it; unknown (Redis down) counts as alive: a missing answer is no proof of death. The
   * grace covers a process that has just started (a resumed flow run's new process overwrites the last
   * one's word as it starts).
   */
  async gone(flowRunId: string, runningSince: string | null): Promise<"stopped" | "lapsed" | null> {
    if (!runningSince || Date.now() - Date.parse(runningSince) < this.graceMs) return null;
    try {
      const lease = await this.redis.get(this.key(flowRunId));
      if (lease === null) return (await this.redisUpForAGrace()) ? "lapsed" : null;
      return lease === redisValue("flowLeaseStopped") ? "stopped" : null;
    } catch {
      return null;
    }
  }

  /**
   * A missing lease proves nothing for a lease period after Redis started: its append-only file brings
   * leases back with their expiry times, so after an outage longer than a lease every live flow process's
   * lease is gone until its next renewal. Redis's own uptime says when it started (asked at most once a second).
   */
  private async redisUpForAGrace(): Promise<boolean> {
    const now = Date.now();
    if (now - this.redisStart.askedAt > 1000) {
      const uptime = Number(/uptime_in_seconds:(\d+)/.exec(await this.redis.info("server"))?.[1] ?? Number.POSITIVE_INFINITY);
      this.redisStart = { at: now - uptime * 1000, askedAt: now };
    }
    return now - this.redisStart.at >= this.graceMs;
  }

  private key(flowRunId: string): string {
    return redisName("flowLease", { prefix: this.prefix, flowRunId });
  }
}
