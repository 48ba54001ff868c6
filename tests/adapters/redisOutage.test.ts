import type { AddressInfo } from "node:net";
import express from "express";
import { Redis } from "ioredis";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { errorMiddleware } from "../../api/http/errorMiddleware.js";
import { startRedis } from "../fixtures/redisServer.js";

describe("a request while Redis is down", () => {
  it("answers 503 unavailable, not 500", async () => {
    const server = await startRedis();
    // As the gateway's own client (api/main.ts): a command gives up after one retry.
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 }).on("error", () => undefined);
    const app = express();
    app.post("/hold", async (_req, res) => {
      await redis.set("hold", "1");
      res.json({ ok: true });
    });
    app.use(errorMiddleware(pino({ level: "silent" })));
    const http = app.listen(0);
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/hold`;
    try {
      expect((await fetch(url, { method: "POST" })).status).toBe(200);
      await server.stop();
      const answer = await fetch(url, { method: "POST" });
      expect(answer.status).toBe(503);
      expect(((await answer.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "unavailable", message: expect.stringContaining("Redis") });
    } finally {
      http.close();
      redis.disconnect();
    }
  });
});
