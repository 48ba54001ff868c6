/** A minimal Server-Sent Events reader over fetch, for tests: collects parsed events until stopped. */
export interface SseMessage {
  id: string | null;
  data: any;
}

export function openSse(url: string, opts: { lastEventId?: number } = {}) {
  const controller = new AbortController();
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  // The id the client would reconnect with (EventSource's lastEventId): set by any block with an id line.
  const state = { lastId: null as string | null };
  let resolveOpen: () => void = () => {};
  const opened = new Promise<void>((r) => (resolveOpen = r));
  const done = (async () => {
    const res = await fetch(url, {
      headers: { accept: "text/event-stream", ...(opts.lastEventId !== undefined ? { "last-event-id": String(opts.lastEventId) } : {}) },
      signal: controller.signal,
    });
    if (!res.ok || !res.body) throw new Error(`SSE ${url} answered ${res.status}`);
    resolveOpen();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let id: string | null = null;
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) comments.push(line);
            else if (line.startsWith("id: ")) id = line.slice(4);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (id !== null) state.lastId = id;
          if (data.length) messages.push({ id, data: JSON.parse(data.join("\n")) });
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  })();
  return {
    messages,
    comments,
    get lastId() {
      return state.lastId;
    },
    opened,
    close: async () => {
      controller.abort();
      await done.catch(() => undefined);
    },
  };
}
