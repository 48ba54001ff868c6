import type { Redis } from "ioredis";
import { redisName, redisValue } from "../config/redisNames.js";

/**
 * The leases that running run-stage flow processes renew in Redis (prefect-flows/flow_lease.py). Prefect 2
 * has no liveness check of its own for flow runs: a flow process killed together with its worker stays
 * Running in Prefect forever. The run driver asks here, and marks such a flow run Crashed.
 */
export class FlowLeases {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly graceMs: number) {}

  /** Whether a flow process runs the flow run now (its flow's code marks the lease ended as it ends); null when Redis cannot say. */
  async held(flowRunId: string): Promise<boolean | null> {
    try {
      const lease = await this.redis.get(redisName("flowLease", { prefix: this.prefix, flowRunId }));
      return lease !== null && lease !== redisValue("flowLeaseEnded");
    } catch {
      return null;
    }
  }

  /**
   * True when the flow run has been Running for longer than the grace period and holds no lease.
   * Unknown (Redis down) counts as alive: a missing answer is no proof of death.
   */
  async lapsed(flowRunId: string, runningSince: string | null): Promise<boolean> {
    if (!runningSince || Date.now() - Date.parse(runningSince) < this.graceMs) return false;
    try {
      return (await this.redis.exists(redisName("flowLease", { prefix: this.prefix, flowRunId }))) === 0;
    } catch {
      return false;
    }
  }
}
