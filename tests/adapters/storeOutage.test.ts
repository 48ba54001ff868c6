import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import express from "express";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { errorMiddleware } from "../../api/http/errorMiddleware.js";
import { openPostgresStore, openSqliteStore } from "../../api/store/openStore.js";
import type { Store } from "../../api/store/store.js";
import { startPostgres } from "../fixtures/postgresServer.js";

/** A gateway-shaped app on `store`: one read and one write route, errors through the gateway's own middleware. */
function appOn(store: Store) {
  const app = express();
  app.get("/runs/:id", async (req, res) => void res.json({ run: await store.getRun(req.params.id) }));
  app.post("/runs", async (_req, res) => void res.json(await store.createRun({ id: crypto.randomUUID(), request: { idea: { premise: "p" }, stages: ["idea_intake"], mode: "auto" } })));
  app.use(errorMiddleware(pino({ level: "silent" })));
  const http = app.listen(0);
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return { url, close: () => http.close() };
}

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

describe("the store's database out of reach", () => {
  const closers: (() => unknown)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  it("Postgres stopped: the gateway stays up (its idle connections end), requests answer 503 naming the store, and succeed once it is back", async () => {
    const postgres = await startPostgres();
    closers.push(() => postgres.destroy());
    const store = await openPostgresStore(postgres.url, { migrate: true });
    closers.push(() => store.close());
    const app = appOn(store);
    closers.push(app.close);
    expect((await fetch(`${app.url}/runs/none`)).status).toBe(200); // the pool now holds an idle connection

    await postgres.stop();
    await new Promise((r) => setTimeout(r, 300)); // the idle connection's end reaches the pool
    for (const res of [await fetch(`${app.url}/runs/none`), await fetch(`${app.url}/runs`, { method: "POST" })]) {
      expect(res.status).toBe(503);
      expect(await errorOf(res)).toMatchObject({ code: "unavailable", message: expect.stringContaining("the store") });
    }

    await postgres.start();
    expect((await fetch(`${app.url}/runs`, { method: "POST" })).status).toBe(200);
  });

  it("SQLite locked by another process's writer past the busy timeout: 503 naming the store, not 500", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "quire-busy-")), "store.db");
    const store = await openSqliteStore(path, { migrate: true });
    closers.push(() => store.close());
    // The error better-sqlite3 raises when the lock is not free in time (the store waits 10 s for it).
    const holder = new BetterSqlite3(path);
    const writer = new BetterSqlite3(path);
    writer.pragma("busy_timeout = 0");
    holder.exec("BEGIN IMMEDIATE");
    let busy: unknown;
    try {
      writer.exec("BEGIN IMMEDIATE");
    } catch (err) {
      busy = err;
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
      writer.close();
    }
    expect((busy as { code?: string }).code).toBe("SQLITE_BUSY");
    const app = appOn(Object.assign(Object.create(store) as Store, { getRun: async () => Promise.reject(busy) }));
    closers.push(app.close);
    const res = await fetch(`${app.url}/runs/any`);
    expect(res.status).toBe(503);
    expect(await errorOf(res)).toMatchObject({ code: "unavailable", message: expect.stringContaining("the store") });
  });
});
