/** A named dependency check; `check` throws (or times out) when the dependency is not usable. */
export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

export interface HealthReport {
  status: "ok" | "unavailable";
  checks: Record<string, "ok" | string>;
}

/** Runs every check at once, each bounded by `timeoutMs`, and reports which failed and why. */
export async function runHealthChecks(checks: HealthCheck[], timeoutMs = 2000): Promise<HealthReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [c.name, "ok"] as const;
      } catch (err) {
        return [c.name, (err as Error).message || "failed"] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const report = Object.fromEntries(results);
  return { status: results.every(([, r]) => r === "ok") ? "ok" : "unavailable", checks: report };
}

/**
 * A check that is costly for the dependency (Prefect's /ready opens a database connection) run at most
 * once per `freshMs` while it passes: concurrent and frequent /health calls share its last success. A
 * failure is not kept, so a recovered dependency shows at the next call.
 */
export function sharedCheck(check: () => Promise<void>, freshMs: number, now = () => Date.now()): () => Promise<void> {
  let inFlight: Promise<void> | undefined;
  let passedAt = -Infinity;
  return () => {
    if (now() - passedAt < freshMs) return Promise.resolve();
    inFlight ??= check()
      .then(() => void (passedAt = now()))
      .finally(() => (inFlight = undefined));
    return inFlight;
  };
}
