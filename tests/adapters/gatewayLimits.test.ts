import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import type { EventHub } from "../../api/events/eventNotifier.js";
import { gatewayAppsOnOneStore } from "./gatewayApp.js";

// How much one client can ask of the gateway at once (docs/security.md): the real app and store.
const apps = gatewayAppsOnOneStore();
const start = apps.start;

describe("event streams", () => {
  it("beyond QUIRE_MAX_STREAMS open and end at once with a retry (an EventSource gives up for good on a 503), and are served again once one closes", async () => {
    const hub = { listen: () => () => undefined } as unknown as EventHub;
    const { call } = await start({ maxStreams: 2, hub });
    const open = async () => {
      const abort = new AbortController();
      const res = await call("/events", { headers: { accept: "text/event-stream" }, signal: abort.signal });
      return { res, close: () => abort.abort() };
    };
    const first = await open();
    const second = await open();
    expect([first.res.status, second.res.status]).toEqual([200, 200]);
    const third = await open();
    expect([third.res.status, third.res.headers.get("content-type")]).toEqual([200, "text/event-stream; charset=utf-8"]);
    const refusal = await third.res.text(); // it ends: text() returns
    expect(refusal).toMatch(/^retry: 5000\n: 2 event streams are open, .*QUIRE_MAX_STREAMS/);
    expect(refusal).not.toContain("data:");
    // JSON reads are not streams and are not counted.
    expect((await call("/events")).status).toBe(200);
    first.close();
    // A served stream begins with its own reconnect delay (2 s), a refused one with the limit's (5 s).
    await expect.poll(async () => {
      const next = await open();
      const { value } = await next.res.body!.getReader().read();
      next.close();
      return new TextDecoder().decode(value).split("\n")[0];
    }).toBe("retry: 2000");
    second.close();
  });
});

describe("imports", () => {
  it("are read one at a time: a second while one is being read is a 503, and the next one after it is served", async () => {
    const { base, call } = await start();
    // The first import's body arrives slowly: its request is under way until the body ends.
    let answered: (status: number) => void;
    const firstAnswer = new Promise<number>((r) => (answered = r));
    const first = request(`${base}/orchestrator/import`, { method: "POST", headers: { "content-type": "application/json", "content-length": "40" } }, (res) => {
      res.resume();
      answered(res.statusCode ?? 0);
    });
    first.write('{"format": "quire-run/1", ');
    await new Promise((r) => setTimeout(r, 100));
    const second = await call("/orchestrator/import", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(second.status).toBe(503);
    expect(((await second.json()) as { error: { message: string } }).error.message).toContain("another import");
    first.end('"x": 1}'.padEnd(14, " "));
    expect(await firstAnswer).toBe(400); // a document it read, and refused
    expect((await call("/orchestrator/import", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(400);
  });
});

describe("audit pages", () => {
  it("are cut at about 16 MB even below their limit, saying where the next one starts; nothing is skipped", async () => {
    const { call } = await start();
    const { run } = await apps.store.createRun({ id: randomUUID(), request: { idea: { premise: "p" }, stages: ["idea_intake"], mode: "auto" } });
    const big = "x".repeat(6 * 1024 * 1024);
    for (let i = 0; i < 5; i++) {
      await apps.store.recordAudit({ runId: run.id, stageId: "idea_intake", stageAttempt: 1, stepId: "IDEA", iteration: 1, jobId: `j${i}`, attempt: 1, provider: "mock", model: "m", temperature: 0, maxTokens: 1, request: { prompt: big }, response: { text: "y" }, outcome: "accepted", error: null, inputTokens: null, outputTokens: null, latencyMs: 1, finishReason: null });
    }
    const seen: string[] = [];
    let afterId: number | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await call(`/orchestrator/runs/${run.id}/audit${afterId === undefined ? "" : `?afterId=${afterId}`}`);
      const body = (await res.json()) as { entries: { jobId: string }[]; nextAfterId?: number };
      expect(body.entries.length).toBeLessThanOrEqual(3); // 3 × 6 MB is over the cut
      seen.push(...body.entries.map((e) => e.jobId));
      if (body.nextAfterId === undefined) break;
      afterId = body.nextAfterId;
    }
    expect(seen).toEqual(["j0", "j1", "j2", "j3", "j4"]);
  });
});
