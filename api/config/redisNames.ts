import { readFileSync } from "node:fs";
import { z } from "zod";

// Declared once for both languages: prefect-flows/redis_names.py reads the same file.
const RedisNames = z.strictObject({
  $comment: z.string().optional(),
  stepQueue: z.string(),
  hold: z.string(),
  flowLease: z.string(),
  flowFinished: z.string(),
  flowRunsReady: z.string(),
  standby: z.string(),
  standbyBell: z.string(),
  values: z.strictObject({ $comment: z.string().optional(), flowLeaseEnded: z.string(), flowLeaseStopped: z.string(), permanentMark: z.string() }),
});
export type RedisName = Exclude<keyof z.infer<typeof RedisNames>, "$comment" | "values">;
export type RedisValue = Exclude<keyof z.infer<typeof RedisNames>["values"], "$comment">;

const names = RedisNames.parse(JSON.parse(readFileSync(new URL("../../config/redis-names.json", import.meta.url), "utf8")));

/**
 * A Redis key or channel that the run-stage flow or the warm worker also uses (config/redis-names.json),
 * with its `{...}` parts filled in from `values`; throws when one is missing.
 */
export function redisName(name: RedisName, values: Record<string, string | number>): string {
  return names[name].replace(/\{(\w+)\}/g, (_, part: string) => {
    if (!(part in values)) throw new Error(`Redis name ${name} needs a value for {${part}}`);
    return String(values[part]);
  });
}

/** A value both sides write or compare in Redis (config/redis-names.json's "values"). */
export function redisValue(name: RedisValue): string {
  return names.values[name];
}
