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
