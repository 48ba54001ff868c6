import type { Request, Response } from "express";
import { InvalidInput } from "../errors.js";

export interface SseStreamOptions {
  /** Comment lines sent this often keep proxies from closing an idle stream. */
  heartbeatMs: number;
  /** Safety net: re-read the store this often even without a notification. */
  pollMs: number;
  /** A client that has not read for this long is let go; it reconnects with Last-Event-ID. Default 60 s. */
  stallMs?: number;
}

/** Writes one event (always); false when the socket's buffer is now full: stop, the stream pumps again on drain. */
export type SseWrite = (id: number, data: unknown) => boolean;

/**
 * One Server-Sent Events response. `pump` is called on every notification (and on a timer); it reads
 * what is new from the store and writes it, and stops after a write that returns false. Calls never overlap;
 * one that arrives during a pump makes it run once more. Nothing is buffered beyond the socket: a client
 * that stops reading holds up its own stream (the store keeps what it has not read) and is let go after
 * `stallMs`. Everything stops when the client goes away, so a closed client costs nothing.
 */
export function openSseStream(req: Request, res: Response, opts: SseStreamOptions & { startId?: number }, pump: (write: SseWrite) => Promise<void>) {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  // An id with no data sets the client's Last-Event-ID without an event, so a reconnect before the
  // first event resumes from where this stream began instead of "from now".
  res.write(`retry: 2000\n${opts.startId !== undefined ? `id: ${opts.startId}\n` : ""}\n`);
  let closed = false;
  let running = false;
  let again = false;
  let stalledSince: number | undefined;
  const write: SseWrite = (id, data) => {
    if (res.write(`id: ${id}\ndata: ${JSON.stringify(data)}\n\n`)) return true;
    if (stalledSince !== undefined) return false;
    stalledSince = Date.now();
    res.once("drain", () => {
      stalledSince = undefined;
      void run();
    });
    return false;
  };
  const run = async () => {
    if (closed || stalledSince !== undefined) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await pump(write);
      } while (again && !closed && stalledSince === undefined);
    } catch {
      // The store was briefly unavailable; the next notification or poll tries again.
    } finally {
      running = false;
    }
  };
  const stallMs = opts.stallMs ?? 60_000;
  const heartbeat = setInterval(() => {
    if (stalledSince === undefined) res.write(": heartbeat\n\n");
    else if (Date.now() - stalledSince >= stallMs) {
      res.destroy();
      finish();
    }
  }, Math.min(opts.heartbeatMs, stallMs));
  const poll = setInterval(() => void run(), opts.pollMs);
  const cleanups: (() => void)[] = [() => clearInterval(heartbeat), () => clearInterval(poll)];
  function finish() {
    if (closed) return;
    closed = true;
    cleanups.forEach((c) => c());
  }
  res.on("close", finish);
  // The client may have gone while the route awaited its first reads: 'close' has fired already.
  if (res.destroyed || req.socket.destroyed) finish();
  void run();
  return {
    trigger: () => void run(),
    onClose: (cleanup: () => void) => (closed ? cleanup() : cleanups.push(cleanup)),
  };
}

/**
 * The client's resume point: the `Last-Event-ID` header (sent by EventSource on reconnect) or
 * `?lastEventId=`; undefined when neither is given. Anything but a whole number is a 400: read as "from
 * the start" or "from now", it would resend or drop events without a word.
 */
export function lastEventId(req: Request): number | undefined {
  const header = req.header("last-event-id");
  const query = req.query.lastEventId;
  const [where, raw] = header !== undefined ? ["Last-Event-ID", header] : ["lastEventId", query];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || !/^\d{1,16}$/.test(raw.trim()) || !Number.isSafeInteger(Number(raw.trim()))) {
    throw new InvalidInput(`${where} must be an event id (a whole number), not ${JSON.stringify(raw)}`, { issues: [{ path: where, message: "not a whole number" }] });
  }
  return Number(raw.trim());
}
