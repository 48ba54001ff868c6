import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepClaims } from "../../workers/stepClaims.js";
import { startRedis } from "../fixtures/redisServer.js";

// The per-step claim on a real redis-server.
let server: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const step = (stepId: string) => ({ runId: "r", stageId: "structure", stepId, iteration: 1 });
const keyOf = (stepId: string) => `sc:step-claim:r:structure:${stepId}:1`;
const needed = async () => true;

describe("a step's claim", () => {
  it("keeps a second job waiting until the first releases it, and lets it go once the step no longer needs a call", async () => {
    const claims = new StepClaims(redis, "sc", 5_000, 20);
    const first = (await claims.claim(step("S1"), "job-a", needed))!;
    let answered = false;
    const second = claims.claim(step("S1"), "job-b", async () => !answered);
    await new Promise((r) => setTimeout(r, 100));
    answered = true; // the first call's answer is accepted
    expect(await second).toBeNull();
    await first.release();
    expect(await redis.exists(keyOf("S1"))).toBe(0);
  });

  it("is not freed by a stale delivery of the same job (BullMQ handed it on after its lock lapsed)", async () => {
    const claims = new StepClaims(redis, "sc", 5_000, 20);
    const stale = (await claims.claim(step("S2"), "job-a", needed))!;
    await redis.del(keyOf("S2")); // lapsed
    const fresh = (await claims.claim(step("S2"), "job-a", needed))!;
    await stale.release();
    expect(await redis.exists(keyOf("S2"))).toBe(1);
    await fresh.release();
  });

  it("lapses once its job is aborted (its deadline passed) though the job is stuck: it is no longer renewed", async () => {
    const claims = new StepClaims(redis, "sc", 300, 20);
    const job = new AbortController();
    const stuck = (await claims.claim(step("S3"), "job-a", needed, job.signal))!;
    await new Promise((r) => setTimeout(r, 500));
    expect(await redis.exists(keyOf("S3"))).toBe(1); // renewed while its job runs
    job.abort();
    await new Promise((r) => setTimeout(r, 500));
    expect(await redis.exists(keyOf("S3"))).toBe(0);
    await stuck.release();
  });
});
