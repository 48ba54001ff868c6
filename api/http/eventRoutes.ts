import { type Response, Router } from "express";
import type { EventHub } from "../events/eventNotifier.js";
import type { RunService } from "../runs/runService.js";
import type { Store } from "../store/store.js";
import { lastEventId, openSseStream, type SseStreamOptions } from "./sseStream.js";
import { InvalidInput } from "../errors.js";
import { EventsQuery, RunEventsQuery } from "./schemas.js";
import { validate } from "./validate.js";

export interface EventRoutesDeps {
  metrics?: { streamClients: { inc(): void; dec(): void } };
  runs: RunService;
  store: Store;
  hub: EventHub;
  sse: SseStreamOptions;
  /** Event streams open at once, at most (QUIRE_MAX_STREAMS): each holds a socket, and file descriptors run out. */
  maxStreams: number;
}

const OVER_LIMIT_RETRY_MS = 5000;

const wantsStream = (accept: string | undefined) => Boolean(accept?.includes("text/event-stream"));

/**
 * Progress events. Every event is in the store before it is sent, so a client that reconnects with
 * Last-Event-ID gets exactly what it missed. `id:` is the run's seq on a run's stream, and the global
 * event id on /events.
 */
export function eventRoutes({ runs, store, hub, sse, metrics, maxStreams }: EventRoutesDeps): Router {
  const router = Router();
  let open = 0;
  /**
   * Beyond the limit the stream opens and ends at once, telling the client to come back in 5 s: a browser's
   * EventSource gives up for good on any answer but a 200 event stream, and reconnects after one ends.
   */
  const refusedBeyondLimit = (res: Response): boolean => {
    if (open < maxStreams) return false;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    res.end(`retry: ${OVER_LIMIT_RETRY_MS}\n: ${open} event streams are open, the most this gateway serves (QUIRE_MAX_STREAMS); reconnect later\n\n`);
    return true;
  };
  const track = (stream: { onClose(cleanup: () => void): void }) => {
    open++;
    metrics?.streamClients.inc();
    stream.onClose(() => {
      open--;
      metrics?.streamClients.dec();
    });
  };

  router.get("/orchestrator/runs/:id/events", async (req, res) => {
    validate(RunEventsQuery, req.query, "query");
    const run = await runs.get(req.params.id);
    const resumeAfter = lastEventId(req) ?? 0;
    // Seqs run 1, 2, 3 … without a gap: one the run has not reached is an event's global id taken for its seq,
    // and would skip (or wait for) events without a word.
    if (resumeAfter > 0 && (await store.listEvents(run.id, resumeAfter - 1)).length === 0) {
      const message = `lastEventId ${resumeAfter} is past this run's last event: on a run's routes it is the event's seq, not its id`;
      throw new InvalidInput(message, { issues: [{ path: "lastEventId", message }] });
    }
    if (!wantsStream(req.header("accept"))) {
      res.json({ runId: run.id, events: await store.listEvents(run.id, resumeAfter) });
      return;
    }
    if (refusedBeyondLimit(res)) return;
    let after = resumeAfter;
    const stream = openSseStream(req, res, sse, async (write) => {
      for (const event of await store.listEvents(run.id, after)) {
        const more = write(event.seq, event);
        after = event.seq;
        if (!more) return;
      }
    });
    stream.onClose(hub.listen((runId) => (runId === null || runId === run.id) && stream.trigger()));
    track(stream);
  });

  router.get("/events", async (req, res) => {
    const { category } = validate(EventsQuery, req.query, "query");
    if (!wantsStream(req.header("accept"))) {
      res.json({ events: await store.listEventsAfter(lastEventId(req) ?? 0, { category, limit: 1000 }) });
      return;
    }
    // A live stream starts now (and says where, so a reconnect before its first event misses nothing);
    // a reconnect (Last-Event-ID, 0 for "from the start") replays what it missed.
    const resumeAfter = lastEventId(req);
    let after = resumeAfter ?? (await store.latestEventId());
    if (refusedBeyondLimit(res)) return; // no await from here to track(): the count is exact
    const stream = openSseStream(req, res, { ...sse, startId: resumeAfter === undefined ? after : undefined }, async (write) => {
      for (;;) {
        const batch = await store.listEventsAfter(after, { category, limit: 500 });
        for (const event of batch) {
          const more = write(event.id, event);
          after = event.id;
          if (!more) return;
        }
        if (batch.length < 500) return;
      }
    });
    stream.onClose(hub.listen(() => stream.trigger()));
    track(stream);
  });

  return router;
}
