import { describe, expect, it } from "vitest";
import { sharedCheck } from "../../api/http/healthChecks.js";

describe("a health check shared between calls", () => {
  it("asks the dependency once while a success is fresh, and again at once after a failure", async () => {
    let clock = 0;
    let calls = 0;
    let failing = false;
    const check = sharedCheck(async () => {
      calls++;
      if (failing) throw new Error("database is not available");
    }, 5000, () => clock);

    await Promise.all([check(), check(), check()]); // concurrent calls share one
    expect(calls).toBe(1);
    clock = 4999;
    await check();
    expect(calls).toBe(1); // still fresh
    clock = 5000;
    failing = true;
    await expect(check()).rejects.toThrow("not available");
    await expect(check()).rejects.toThrow("not available"); // a failure is not kept
    expect(calls).toBe(3);
    failing = false;
    await check();
    expect(calls).toBe(4);
  });
});
