import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DriveLocks } from "../../api/runs/driveLocks.js";
import { StandbyFlowRuns } from "../../api/runs/standbyFlowRuns.js";
import { startRedis } from "../fixtures/redisServer.js";

// The gateway's small Redis protocols, against a real redis-server.
let server: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const stage = (runId: string, attempt = 1) => ({ runId, stageId: "title", attempt, steps: [] });

describe("standby flow runs in Redis", () => {
  it("hands a waiting flow run its stage once, rings its bell and records the stage attempt's flow run", async () => {
    const standby = new StandbyFlowRuns(redis, "t1");
    expect(await standby.assign("fr-1", stage("run-1"))).toBe(true);
    expect(JSON.parse((await redis.get("t1:standby:fr-1"))!)).toEqual(stage("run-1"));
    expect(await redis.lrange("t1:standby:fr-1:bell", 0, -1)).toEqual(["1"]);
    expect(await standby.handedTo("run-1", "title", 1)).toBe("fr-1");
    expect(await standby.handedTo("run-1", "title", 2)).toBeNull();
    // A second offer loses, and records nothing.
    expect(await standby.assign("fr-1", stage("run-2"))).toBe(false);
    expect(await standby.handedTo("run-2", "title", 1)).toBeNull();
    expect(await standby.claimed("fr-1")).toBe(true);
    // The same stage attempt cannot go to a second flow run.
    expect(await standby.assign("fr-other", stage("run-1"))).toBe(false);
    expect(await standby.claimed("fr-other")).toBe(false);
    expect(await standby.handedTo("run-1", "title", 1)).toBe("fr-1");
  });

  it("cannot hand a stage to a flow run that gave up waiting or was dismissed", async () => {
    const standby = new StandbyFlowRuns(redis, "t2");
    await redis.set("t2:standby:fr-expired", JSON.stringify({ expired: true })); // what the flow's expiry writes
    expect(await standby.assign("fr-expired", stage("run-1"))).toBe(false);
    await standby.remember("run-2", "fr-dismissed");
    await standby.dismiss("run-2");
    expect(await standby.has("run-2")).toBe(false);
    expect(JSON.parse((await redis.get("t2:standby:fr-dismissed"))!)).toEqual({ dismissed: true });
    expect(await standby.assign("fr-dismissed", stage("run-2"))).toBe(false);
  });

  it("keeps spares in line, oldest first, and lets each be taken once", async () => {
    const standby = new StandbyFlowRuns(redis, "t3");
    await standby.addSpare("spare-a");
    await standby.addSpare("spare-b");
    await standby.addSpare("spare-c");
    expect(await standby.spareIds()).toEqual(["spare-a", "spare-b", "spare-c"]);
    // Two gateways after the same spare (the one that is up, not necessarily the oldest): one gets it.
    expect(await Promise.all([standby.takeSpareById("spare-b"), standby.takeSpareById("spare-b")])).toEqual(expect.arrayContaining([true, false]));
    await standby.dropSpare("spare-c");
    expect(await standby.spareIds()).toEqual(["spare-a"]);
    expect(await standby.takeSpareById("spare-c")).toBe(false);
  });
});

describe("drive locks", () => {
  it("lets one gateway at a time drive a run, and a restarted gateway take back its own lock at once", async () => {
    const first = new DriveLocks(redis, "t4", "host:8080");
    const other = new DriveLocks(redis, "t4", "host:8081");
    expect(await first.acquire("run-1")).toBe(true);
    expect(await other.acquire("run-1")).toBe(false);
    // The same gateway (same host and port) after a crash that left its lock behind.
    const restarted = new DriveLocks(redis, "t4", "host:8080");
    expect(await restarted.acquire("run-1")).toBe(true);
    await other.release("run-1"); // not its lock: nothing happens
    expect(await other.acquire("run-1")).toBe(false);
    await restarted.release("run-1");
    expect(await other.acquire("run-1")).toBe(true);
  });

  it("keeps the driver and a command of the same gateway apart: the command waits for the driver's pass", async () => {
    const locks = new DriveLocks(redis, "t5", "host:8080");
    const order: string[] = [];
    expect(await locks.acquire("run-1")).toBe(true); // the driver's pass over the run
    expect(await locks.acquire("run-1")).toBe(false); // the same process cannot take it twice
    const command = locks.withLock("run-1", async () => void order.push("command"));
    await new Promise((r) => setTimeout(r, 100));
    order.push("driver done");
    await locks.release("run-1");
    expect(await command).toEqual({ ok: true, value: undefined });
    expect(order).toEqual(["driver done", "command"]);
    expect(await locks.acquire("run-1")).toBe(true); // released after the command
    expect(await locks.withLock("run-1", async () => "never", 100)).toEqual({ ok: false });
  });
});
