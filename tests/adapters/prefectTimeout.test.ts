import { once } from "node:events";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { Unavailable } from "../../api/errors.js";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";

describe("a Prefect server that takes connections but never answers", () => {
  it("is Unavailable after a bounded time instead of holding the caller (and every book behind it) for minutes", async () => {
    const sockets: Socket[] = [];
    const open = new Set<Socket>();
    const server = createServer((socket) => {
      // Reads the request, answers nothing.
      sockets.push(socket);
      open.add(socket);
      socket.on("close", () => open.delete(socket)).on("end", () => socket.end()).resume();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const prefect = new PrefectRuns(createPrefectClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, 100), "run-stage/quire");
      const started = Date.now();
      const err = await prefect.readFlowRun("0b6a3f4e-8c1d-4e2a-9f3b-1c2d3e4f5a6b").catch((e) => e);
      expect(err).toBeInstanceOf(Unavailable);
      expect(err.message).toContain("not reachable");
      expect(Date.now() - started).toBeLessThan(10_000);
      // Each timed-out request was aborted: none of its connections is left open.
      expect(sockets.length).toBeGreaterThan(1); // tried again, within the budget
      await expect.poll(() => open.size, { timeout: 5_000 }).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
