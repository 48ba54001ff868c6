import { resolve } from "node:path";
import { execa } from "execa";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventHub, EventNotifier } from "../../api/events/eventNotifier.js";
import { DriveLocks } from "../../api/runs/driveLocks.js";
import { FlowLeases } from "../../api/runs/flowLeases.js";
import { StandbyFlowRuns } from "../../api/runs/standbyFlowRuns.js";
import { startRedis } from "../fixtures/redisServer.js";

// The gateway's small Redis protocols, against a real redis-server.
let server: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  // FlowLeases reads no lease as a lapse only once Redis has been up for a lease period, which it knows
  // in whole seconds (INFO's uptime_in_seconds): the tests below with a 1 ms lease need a second of it.
  while (!/uptime_in_seconds:[1-9]/.test(await redis.info("server"))) await new Promise((r) => setTimeout(r, 100));
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

  it("keeps a lock held past its TTL while the work goes on (a slow Prefect), and lets it go at release", async () => {
    const slow = new DriveLocks(redis, "t6", "host:8080", 300);
    const other = new DriveLocks(redis, "t6", "host:8081", 300);
    expect(await slow.acquire("run-1")).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000)); // more than three TTLs
    expect(await other.acquire("run-1")).toBe(false);
    await slow.release("run-1");
    expect(await other.acquire("run-1")).toBe(true);
    await other.release("run-1");
    // No renewal survives its release: a lock of the same owner, set by hand, lapses as set.
    await redis.set("t6:drive:run-1", "host:8080", "PX", 200);
    await new Promise((r) => setTimeout(r, 500));
    expect(await redis.exists("t6:drive:run-1")).toBe(0);
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

describe("a flow process's lease, written by the Python side", () => {
  // prefect-flows/flow_lease.py holds the lease while a block runs and marks it ended after; the gateway
  // must read both the same way, or it would crash a live flow run or wait on a dead one.
  const holdLease = `
import asyncio, sys
sys.path.insert(0, "prefect-flows")
from redis.asyncio import Redis
from flow_lease import FlowLease
async def main():
    async with FlowLease(Redis.from_url(sys.argv[1]), "fr-py", lease_seconds=30, heartbeat_seconds=0.2, prefix="t9"):
        print("held", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print("released", flush=True)
asyncio.run(main())
`;

  it("counts a held lease as a live flow process, and an ended one as none, without lapsing it", async () => {
    const root = resolve(import.meta.dirname, "../..");
    const leases = new FlowLeases(redis, "t9", 1);
    const flow = execa(resolve(root, ".venv/bin/python"), ["-c", holdLease, server.url], { cwd: root, stdin: "pipe" });
    const lines = flow.iterable();
    expect((await lines.next()).value).toBe("held");
    expect(await leases.held("fr-py")).toBe(true);
    flow.stdin.write("\n");
    expect((await lines.next()).value).toBe("released");
    await flow;
    expect(await leases.held("fr-py")).toBe(false);
    // Ended is not lapsed: the key stays until Prefect has recorded the flow run's end.
    expect(await leases.gone("fr-py", new Date(Date.now() - 60_000).toISOString())).toBeNull();
    expect(await leases.gone("fr-never", new Date(Date.now() - 60_000).toISOString())).toBe("lapsed");
  });

  it("reads a lease whose process was told to stop (SIGTERM) as gone at once, not held until it lapses", async () => {
    const root = resolve(import.meta.dirname, "../..");
    const leases = new FlowLeases(redis, "t9", 1);
    // The handler warm_zygote.py installs in every flow process (prefect-flows/termination.py).
    const script = holdLease.replace("async def main():", "import termination\ntermination.install()\nasync def main():").replace(/fr-py/g, "fr-stopped");
    const flow = execa(resolve(root, ".venv/bin/python"), ["-c", script, server.url], { cwd: root, stdin: "pipe", reject: false });
    expect((await flow.iterable().next()).value).toBe("held");
    const longRunning = new Date(Date.now() - 60_000).toISOString();
    expect(await leases.gone("fr-stopped", longRunning)).toBeNull();
    flow.kill("SIGTERM");
    expect((await flow).signal).toBe("SIGTERM");
    expect(await leases.held("fr-stopped")).toBe(false);
    expect(await leases.gone("fr-stopped", longRunning)).toBe("stopped");
    // A flow run that has only just started gets its grace (a lease period; a minute here, as this check's
    // 1 ms grace above could pass between the two clocks): a resumed run's new process overwrites the word.
    expect(await new FlowLeases(redis, "t9", 60_000).gone("fr-stopped", new Date().toISOString())).toBeNull();
  });

  it("reads no lease as no proof of death for a lease period after Redis started (its leases come back expired)", async () => {
    // This Redis started moments ago (beforeAll): with a lease period of a minute, a flow process that
    // renews every twelve seconds may not have written its lease since.
    const longRunning = new Date(Date.now() - 120_000).toISOString();
    expect(await new FlowLeases(redis, "t10", 60_000).gone("fr-after-restart", longRunning)).toBeNull();
    expect(await new FlowLeases(redis, "t10", 1).gone("fr-after-restart", longRunning)).toBe("lapsed");
  });
});

describe("the gateway's event announcements (EventHub)", () => {
  it("passes each run's announcement on, and wakes every listener for any run when its connection comes back (what was announced meanwhile never came)", async () => {
    const subscriber = new Redis(server.url);
    const hub = new EventHub(subscriber, "t11:events");
    await hub.start();
    const heard: (string | null)[] = [];
    hub.listen((runId) => heard.push(runId));
    try {
      await new EventNotifier(redis, "t11:events").notify("run-1");
      await expect.poll(() => heard).toEqual(["run-1"]);
      // A dropped connection, as a Redis restart drops it: ioredis reconnects and subscribes again.
      await redis.client("KILL", "TYPE", "pubsub");
      await expect.poll(() => heard, { timeout: 5000 }).toEqual(["run-1", null]);
      await new EventNotifier(redis, "t11:events").notify("run-2");
      await expect.poll(() => heard, { timeout: 5000 }).toEqual(["run-1", null, "run-2"]);
    } finally {
      await hub.stop();
    }
  });
});
