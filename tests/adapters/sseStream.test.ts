import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { openSseStream } from "../../api/http/sseStream.js";

// A stream whose store holds 2000 events of ~16 KiB (~32 MiB in all), served to a raw socket that stops
// reading: the gateway must not take the whole history into memory for a client that is not there.
const events = Array.from({ length: 2000 }, (_, i) => ({ n: i + 1, text: "x".repeat(16_000) }));

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(stallMs: number) {
  const seen = { written: 0, buffered: 0, closed: false };
  const app = express();
  app.get("/stream", (req, res) => {
    let after = 0;
    const stream = openSseStream(req, res, { heartbeatMs: 50, pollMs: 50, stallMs }, async (write) => {
      for (const event of events.slice(after)) {
        const more = write(event.n, event);
        after = event.n;
        seen.written = after;
        seen.buffered = Math.max(seen.buffered, res.writableLength);
        if (!more) return;
      }
    });
    stream.onClose(() => (seen.closed = true));
  });
  return { seen, socket: await request(app, "/stream") };
}

/** Serves `app` on a free port and sends one SSE request from a raw socket (which the test reads, or not). */
async function request(app: express.Express, path: string) {
  const server = app.listen(0);
  await once(server, "listening");
  close = () => new Promise((r) => server.close(() => r()));
  const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
  return socket;
}

describe("a Server-Sent Events stream whose client stops reading", () => {
  it("stops pumping at the socket's limit and goes on where it stopped when the client reads again", async () => {
    const { seen, socket } = await serve(60_000);
    socket.pause();
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.written).toBeGreaterThan(0);
    expect(seen.written).toBeLessThan(events.length / 4);
    expect(seen.buffered).toBeLessThan(2 * 1024 * 1024);

    // Read everything: every event arrives once, in order.
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.resume();
    await expect.poll(() => seen.written, { timeout: 20_000 }).toBe(events.length);
    await expect.poll(() => text.includes(`id: ${events.length}\n`), { timeout: 20_000 }).toBe(true);
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual(events.map((e) => e.n));
    socket.destroy();
  });

  it("lets go of a client that has not read for stallMs", async () => {
    const { seen, socket } = await serve(300);
    socket.pause();
    await expect.poll(() => seen.closed, { timeout: 5_000 }).toBe(true);
    expect(seen.written).toBeLessThan(events.length / 4);
    socket.destroy();
  });

  it("releases a stream whose client left before it opened (while the route awaited its first reads)", async () => {
    let released = false;
    const app = express();
    app.get("/late", async (req, res) => {
      await new Promise((r) => setTimeout(r, 200));
      const stream = openSseStream(req, res, { heartbeatMs: 50, pollMs: 50 }, async () => undefined);
      stream.onClose(() => (released = true));
    });
    const socket = await request(app, "/late");
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    await expect.poll(() => released, { timeout: 3_000 }).toBe(true);
  });
});
