import { describe, expect, it } from "vitest";
import { mustEndIdleWaiting, waitingRoom, type PoolOccupancy } from "../../api/runs/waitingFlowRunRule.js";

const pool = (o: Partial<PoolOccupancy>): PoolOccupancy => ({ paused: false, limit: null, busy: 0, queued: 0, ...o });

describe("waiting flow runs in a work pool with a concurrency limit", () => {
  it("may always start without a limit, never while the pool is paused", () => {
    expect(waitingRoom(pool({ busy: 500 }))).toBe(Number.POSITIVE_INFINITY);
    expect(waitingRoom(pool({ paused: true }))).toBe(0);
    expect(waitingRoom(pool({ paused: true, limit: 100 }))).toBe(0);
  });

  it("start only as many as leave half the slots free", () => {
    expect(waitingRoom(pool({ limit: 20, busy: 9 }))).toBe(1);
    expect(waitingRoom(pool({ limit: 20, busy: 10 }))).toBe(0);
    expect(waitingRoom(pool({ limit: 20, busy: 5, queued: 5 }))).toBe(0); // queued ones take slots next
    expect(waitingRoom(pool({ limit: 2 }))).toBe(1); // one, though two spares are wanted
    expect(waitingRoom(pool({ limit: 2, busy: 1 }))).toBe(0);
    expect(waitingRoom(pool({ limit: 1 }))).toBe(0); // its one slot is for stages
    expect(waitingRoom(pool({ limit: 20, busy: 15 }))).toBe(0);
  });

  it("end the idle ones when a flow run waits for a slot of a full pool, or the pool is paused", () => {
    expect(mustEndIdleWaiting(pool({ limit: 2, busy: 2, queued: 1 }))).toBe(true);
    expect(mustEndIdleWaiting(pool({ limit: 2, busy: 2 }))).toBe(false); // full, but nothing waits
    expect(mustEndIdleWaiting(pool({ limit: 3, busy: 2, queued: 1 }))).toBe(false); // it gets the free slot
    expect(mustEndIdleWaiting(pool({ busy: 40, queued: 9 }))).toBe(false); // no limit: queued ones start anyway
    expect(mustEndIdleWaiting(pool({ paused: true }))).toBe(true);
  });
});
