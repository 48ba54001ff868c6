import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import { PrefectWorkers } from "../../api/prefect/prefectWorkers.js";
import { z } from "zod";
import { ProgressEvent } from "../../api/events/progressEvent.js";
import { AuditPage, EventsPage, HealthReport, OutputsPage, RunListPage, RunView } from "../../api/http/responseSchemas.js";
import { RunAccepted } from "../../api/http/schemas.js";
import { RunBundle } from "../../api/store/runBundle.js";
import { call, helloWorld, waitForRun } from "./gatewayClient.js";
import { book } from "../fixtures/bookShape.js";

describe("the generated Prefect client", () => {
  it("was generated from the document the running Prefect server serves", async () => {
    const pinned = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../codegen/prefect-openapi.json"), "utf8"));
    const served = await (await fetch(`${inject("prefectApiUrl")}/openapi.json`)).json();
    expect(served).toEqual(pinned);
  });

  it("talks to the pinned Prefect version", async () => {
    expect(await (await fetch(`${inject("prefectApiUrl")}/admin/version`)).json()).toBe("2.20.25");
  });

  it("finds the Prefect worker polling the deployment's pool by its heartbeats, and none in a pool nobody polls", async () => {
    const client = createPrefectClient(inject("prefectApiUrl"));
    const runs = new PrefectRuns(client, "run-stage/quire");
    expect(await new PrefectWorkers(client, () => runs.workPoolName()).live()).toContainEqual(expect.stringMatching(/^prefect-worker-/));
    const empty = `nobody-${Date.now()}`;
    const created = await fetch(`${inject("prefectApiUrl")}/work_pools/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: empty, type: "process" }) });
    expect(created.status).toBe(201);
    const idle = new PrefectWorkers(client, async () => empty);
    expect(await idle.live()).toEqual([]);
    await expect(idle.check()).rejects.toThrow(`no Prefect worker has polled work pool ${empty}`);
  });
});

describe("the Prefect server the launcher starts", () => {
  it("answers cross-origin requests only from its UI's own origins: its API can run commands on the worker's host (docs/security.md)", async () => {
    const api = inject("prefectApiUrl");
    const preflight = (origin: string) =>
      fetch(`${api}/deployments/filter`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    const port = new URL(api).port;
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      expect((await preflight(origin)).headers.get("access-control-allow-origin"), origin).toBe(origin);
    }
    const foreign = await preflight("https://evil.example");
    expect(foreign.status).toBe(400);
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    expect((await fetch(`${api}/health`, { headers: { origin: "https://evil.example" } })).headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the gateway's own contract", () => {
  it("serves an OpenAPI document generated from its zod schemas", async () => {
    const { status, body } = await call("/openapi.json");
    expect(status).toBe(200);
    expect(body.paths["/orchestrator/run"].post.requestBody.content["application/json"].schema).toBeDefined();
    expect(body.components.schemas.RunSubmission.required).toContain("idea");
    // Answers are typed too, and each route lists only the errors it can give.
    expect(body.paths["/orchestrator/runs/{id}"].get.responses["200"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/RunView" });
    expect(Object.keys(body.paths["/orchestrator/runs/{id}/events"].get.responses["200"].content)).toEqual(["application/json", "text/event-stream"]);
    expect(Object.keys(body.paths["/orchestrator/runs"].get.responses)).toEqual(["200", "400", "401", "403", "503"]);
    expect(body.paths["/orchestrator/import"].post.requestBody.content["application/json"].schema.properties.format).toBeDefined();
  });

  it("answers in the shapes the OpenAPI document gives (strict: a field it does not list fails this)", async () => {
    const submitted = await call("/orchestrator/run", { body: { ...helloWorld(`contract ${Date.now()}`), stages: ["idea_intake", "structure"] } });
    RunAccepted.parse(submitted.body);
    const runId = submitted.body.runId as string;
    await waitForRun(runId);
    const answers = {
      run: RunView.safeParse((await call(`/orchestrator/runs/${runId}`)).body),
      list: RunListPage.safeParse((await call("/orchestrator/runs?limit=5")).body),
      outputs: OutputsPage.safeParse((await call(`/orchestrator/runs/${runId}/outputs/structure?history=true`)).body),
      audit: AuditPage.safeParse((await call(`/orchestrator/runs/${runId}/audit?limit=2`)).body),
      events: EventsPage.safeParse((await call(`/orchestrator/runs/${runId}/events`)).body),
      allEvents: EventsPage.safeParse((await call("/events?lastEventId=0")).body),
      // Clients must take fields they do not know in an event (docs/events.md); ours sends none.
      eventFields: z.array(ProgressEvent.strict()).safeParse((await call(`/orchestrator/runs/${runId}/events`)).body.events),
      health: HealthReport.safeParse((await call("/health")).body),
      export: RunBundle.safeParse((await call(`/orchestrator/runs/${runId}/export`)).body),
      command: RunView.safeParse((await call(`/orchestrator/runs/${runId}/rollback`, { body: { toStage: "structure" } })).body),
    };
    const failures = Object.entries(answers).filter(([, parsed]) => !parsed.success).map(([name, parsed]) => `${name}: ${parsed.error!.message}`);
    expect(failures).toEqual([]);
    expect(answers.audit.data!.nextAfterId).toBeDefined(); // a full page
    await waitForRun(runId);
  });

  it("serves the stage graph with each step's defaults", async () => {
    const { body } = await call("/stages/defaults");
    expect(body.stages).toHaveLength(book.stages);
    expect(body.stages.flatMap((s: any) => s.steps)).toHaveLength(book.steps);
    expect(body.stages[1].steps[0]).toMatchObject({ id: "S1", provider: "mock", model: "mock-writer-1", temperature: 0.5, maxTokens: 2000 });
  });
});
