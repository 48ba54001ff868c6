import { redisName, redisValue } from "../api/config/redisNames.js";
import type { ProviderName } from "../api/config/stageGraphSchema.js";

/** One BullMQ queue per provider (each with its own workers and rate limit); run_stage.py adds to it. */
export const stepQueueName = (provider: ProviderName) => redisName("stepQueue", { provider });

/** Marks a failure no retry can fix; run_stage.py's retry condition looks for it in the job's failedReason. */
export const PERMANENT_MARK = redisValue("permanentMark");
