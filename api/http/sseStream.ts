import type { Request, Response } from "express";
import { InvalidInput } from "../errors.js";

export interface SseStreamOptions {
  /** Comment lines sent this often keep proxies from closing an idle stream. */
  heartbeatMs: number;
  /** Safety net: re-read the store this often even without a notification. */
  pollMs: number;
}

/**
 * One Server-Sent Events response. `pump` is called on every notification (and on a timer); it reads
 * what is new from the store and writes it. Calls never overlap; one that arrives during a pump makes it
 * run once more. Everything stops when the client goes away, so a closed client costs nothing.
 */
export function openSseStream(req: Request, res: Response, opts: SseStreamOptions, pump: (write: (id: number, data: unknown) => void) => Promise<void>) {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.write("retry: 2000\n\n");
  const write = (id: number, data: unknown) => res.write(`id: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
  let closed = false;
  let running = false;
  let again = false;
  const run = async () => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await pump(write);
      } while (again && !closed);
    } catch {
      // The store was briefly unavailable; the next notification or poll tries again.
    } finally {
      running = false;
    }
  };
  const heartbeat = setInterval(() => res.write(": heartbeat\n\n"), opts.heartbeatMs);
  const poll = setInterval(() => void run(), opts.pollMs);
  const cleanups: (() => void)[] = [() => clearInterval(heartbeat), () => clearInterval(poll)];
  req.on("close", () => {
    closed = true;
    cleanups.forEach((c) => c());
  });
  void run();
  return {
    trigger: () => void run(),
    onClose: (cleanup: () => void) => (closed ? cleanup() : cleanups.push(cleanup)),
  };
}

/**
 * The client's resume point: the `Last-Event-ID` header (sent by EventSource on reconnect) or
 * `?lastEventId=`; 0 when neither is given. Anything but a whole number is a 400: read as "from the
 * start" or "from now", it would resend or drop events without a word.
 */
export function lastEventId(req: Request): number {
  const header = req.header("last-event-id");
  const query = req.query.lastEventId;
  const [where, raw] = header !== undefined ? ["Last-Event-ID", header] : ["lastEventId", query];
  if (raw === undefined) return 0;
  if (typeof raw !== "string" || !/^\d{1,15}$/.test(raw.trim())) {
    throw new InvalidInput(`${where} must be an event id (a whole number), not ${JSON.stringify(raw)}`, { issues: [{ path: where, message: "not a whole number" }] });
  }
  return Number(raw.trim());
}
