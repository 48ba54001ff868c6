import { describe, expect, it } from "vitest";
import { call, gatewayUrl, helloWorld, waitForRun } from "./gatewayClient.js";

const runCount = async () => {
  let count = 0;
  let cursor: string | null = null;
  do {
    const { body } = await call(`/orchestrator/runs?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
    count += body.runs.length;
    cursor = body.nextCursor;
  } while (cursor);
  return count;
};

describe("bad input gets a clear 4xx and creates nothing", () => {
  it.each([
    ["a body without a premise", { idea: {} }, 400, "idea.premise"],
    ["an empty premise", { idea: { premise: "  " } }, 400, "idea.premise"],
    ["an unknown stage id", { ...helloWorld(), stages: ["idea_intake", "poetry"] }, 400, "stages.1"],
    ["stages out of the graph's order", { ...helloWorld(), stages: ["idea_intake", "title", "structure"] }, 400, "stages"],
    ["an unknown provider", { ...helloWorld(), provider: "llama" }, 400, "provider"],
    ["a wrong type", { ...helloWorld(), overrides: { temperature: "hot" } }, 400, "overrides.temperature"],
    ["an unknown field, named at its own path", { ...helloWorld(), colour: "red" }, 400, "colour"],
    ["an unknown field in the idea", { idea: { premise: "p", subtitle: "x" } }, 400, "idea.subtitle"],
    ["an override for a stage the run does not run (it would be silently unused)", { ...helloWorld(), stages: ["idea_intake"], overrides: { stages: { title: { model: "x" } } } }, 400, "overrides.stages.title"],
    ["an override for an unknown stage", { ...helloWorld(), overrides: { stages: { poetry: { model: "x" } } } }, 400, "overrides.stages.poetry"],
  ])("%s", async (_name, body, status, path) => {
    const before = await runCount();
    const res = await call("/orchestrator/run", { body });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe("invalid_input");
    expect(res.body.error.details.issues.map((i: any) => i.path)).toContain(path);
    expect(await runCount()).toBe(before);
  });

  it("answers 409 with the guard's reason for stages whose guard can never pass", async () => {
    const res = await call("/orchestrator/run", { body: { ...helloWorld(), stages: ["idea_intake", "title"] } });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain("structure is not final");
  });

  it("answers 400 for a body that is not a JSON object, with an issue like any other", async () => {
    for (const rawBody of ["{not json", "null"]) {
      const res = await call("/orchestrator/run", { rawBody });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain("not a JSON object");
      expect(res.body.error.details.issues.map((i: any) => i.path)).toEqual(["(body)"]);
    }
  });

  it("answers 415 for a body that is not sent as JSON, instead of reading it as no body", async () => {
    const before = await runCount();
    const res = await fetch(`${gatewayUrl()}/orchestrator/run`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(helloWorld()) });
    expect(res.status).toBe(415);
    expect((await res.json()).error).toMatchObject({ code: "unsupported_media_type" });
    expect(await runCount()).toBe(before);
    // A JSON type with a suffix (application/…+json) is read as JSON.
    const suffixed = await fetch(`${gatewayUrl()}/orchestrator/run`, { method: "POST", headers: { "content-type": "application/vnd.book+json" }, body: JSON.stringify({ ...helloWorld(), stages: ["idea_intake"] }) });
    expect(suffixed.status).toBe(202);
    // A command without a body needs no content type.
    expect((await fetch(`${gatewayUrl()}/orchestrator/runs/nope/pause`, { method: "POST" })).status).toBe(404);
  });

  it("answers 413 for a huge body and keeps serving", async () => {
    const before = await runCount();
    const res = await call("/orchestrator/run", { body: { idea: { premise: "x".repeat(2_000_000) } } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
    expect(await runCount()).toBe(before);
    expect((await call("/health")).status).toBe(200);
  });

  it("answers 400 to a run's resume point past its last event (an event's global id taken for its seq), instead of skipping events", async () => {
    const { body } = await call("/orchestrator/run", { body: { ...helloWorld(), stages: ["idea_intake"], idempotencyKey: `seq-not-id-${Date.now()}` } });
    await waitForRun(body.runId); // no event comes after its last one read below
    const events = (await call(`/orchestrator/runs/${body.runId}/events`)).body.events as any[];
    const last = events.at(-1);
    expect((await call(`/orchestrator/runs/${body.runId}/events?lastEventId=${last.seq}`)).body.events).toEqual([]); // at the tip: fine
    expect((await call(`/orchestrator/runs/${body.runId}/events?lastEventId=${last.seq + 1}`)).status).toBe(400);
    const byId = await fetch(`${gatewayUrl()}/orchestrator/runs/${body.runId}/events`, { headers: { accept: "text/event-stream", "last-event-id": String(last.id + 1000) } });
    expect(byId.status).toBe(400);
  });

  it("answers 400 to a list cursor it did not give, instead of an empty page", async () => {
    const res = await call("/orchestrator/runs?cursor=garbage");
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues.map((i: any) => i.path)).toEqual(["cursor"]);
  });

  it("answers 400 to a misspelt query parameter of the event routes, instead of replaying from the start", async () => {
    const { body } = await call("/orchestrator/run", { body: { ...helloWorld(), stages: ["idea_intake"], idempotencyKey: `misspelt-${Date.now()}` } });
    for (const path of [`/orchestrator/runs/${body.runId}/events?lastEventID=3`, "/events?lastEventID=3"]) {
      const res = await call(path);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(res.body.error.details.issues.map((i: any) => i.path)).toEqual(["lastEventID"]);
    }
    expect((await call("/events?category=Not%20A%20Category")).status).toBe(400);
  });

  it("answers 400 to a resume point that is not an event id, instead of resending or dropping events", async () => {
    const { body } = await call("/orchestrator/run", { body: { ...helloWorld(), stages: ["idea_intake"], idempotencyKey: `bad-resume-point-${Date.now()}` } });
    for (const path of [`/orchestrator/runs/${body.runId}/events`, "/events"]) {
      for (const accept of ["application/json", "text/event-stream"]) {
        const res = await fetch(`${gatewayUrl()}${path}`, { headers: { accept, "last-event-id": "abc" } });
        expect({ path, accept, status: res.status }).toEqual({ path, accept, status: 400 });
        expect((await res.json()).error.details.issues[0].path).toBe("Last-Event-ID");
      }
      expect((await fetch(`${gatewayUrl()}${path}?lastEventId=-5`)).status).toBe(400);
      expect((await fetch(`${gatewayUrl()}${path}?lastEventId=1`)).status).toBe(200);
    }
  });

  it("never answers 5xx to a NUL character in an id, a query or a body (Postgres cannot store one)", async () => {
    const answers = [
      (await call("/orchestrator/runs/%00")).status,
      (await call("/audit?runId=%00")).status,
      (await call("/orchestrator/run", { body: { ...helloWorld("nul \u0000 premise"), stages: ["idea_intake"], idempotencyKey: `nul-\u0000-${Date.now()}` } })).status,
    ];
    expect(answers.filter((status) => status >= 500)).toEqual([]);
  });

  it("answers 404 for an unknown run, an unknown stage and an unknown route", async () => {
    expect((await call("/orchestrator/runs/00000000-0000-0000-0000-000000000000")).status).toBe(404);
    const { body } = await call("/orchestrator/run", { body: { ...helloWorld(), stages: ["idea_intake"], idempotencyKey: `bad-input-${Date.now()}` } });
    expect((await call(`/orchestrator/runs/${body.runId}/outputs/poetry`)).status).toBe(404);
    expect((await call("/orchestrator/nothing-here")).status).toBe(404);
  });

  it("returns the same run for the same idempotency key", async () => {
    const key = `idem-${Date.now()}`;
    const first = await call("/orchestrator/run", { body: { ...helloWorld(), idempotencyKey: key } });
    const second = await call("/orchestrator/run", { body: { ...helloWorld(), idempotencyKey: key } });
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body.runId).toBe(first.body.runId);
    const again = await fetch(`${gatewayUrl()}/orchestrator/run`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...helloWorld(), idempotencyKey: key }) });
    expect(again.headers.get("location")).toBe(first.body.links.self); // where the run is read
    // The same key with another request: a key used twice by mistake, not a retry.
    const other = await call("/orchestrator/run", { body: { ...helloWorld("another book altogether"), idempotencyKey: key } });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: "conflict", details: { runId: first.body.runId } });
  });
});
