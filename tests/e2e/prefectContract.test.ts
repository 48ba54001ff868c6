import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import { PrefectWorkers } from "../../api/prefect/prefectWorkers.js";
import { call } from "./gatewayClient.js";

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

describe("the gateway's own contract", () => {
  it("serves an OpenAPI document generated from its zod schemas", async () => {
    const { status, body } = await call("/openapi.json");
    expect(status).toBe(200);
    expect(body.paths["/orchestrator/run"].post.requestBody.content["application/json"].schema).toBeDefined();
    expect(body.components.schemas.RunSubmission.required).toContain("idea");
  });

  it("serves the stage graph with each step's defaults", async () => {
    const { body } = await call("/stages/defaults");
    expect(body.stages).toHaveLength(7);
    expect(body.stages.flatMap((s: any) => s.steps)).toHaveLength(29);
    expect(body.stages[1].steps[0]).toMatchObject({ id: "S1", provider: "mock", model: "mock-writer-1", temperature: 0.5, maxTokens: 2000 });
  });
});
