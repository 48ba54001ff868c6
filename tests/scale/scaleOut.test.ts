import { describe, expect, inject, it } from "vitest";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import { book } from "../fixtures/bookShape.js";

const json = async (url: string, init?: RequestInit) => (await fetch(url, { ...init, headers: { "content-type": "application/json" } })).json() as Promise<any>;

describe("scale-out on one machine", () => {
  it("runs ten books at once across two gateways, two Prefect workers and three agent workers: no step twice, no output lost", async () => {
    const gateways = inject("gatewayUrls");
    const tag = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const gateway = gateways[i % 2]!;
      const { runId } = await json(`${gateway}/orchestrator/run`, { method: "POST", body: JSON.stringify({ idea: { premise: `Scale book ${i} ${tag}`, category: "scale" } }) });
      ids.push(runId);
    }
    const deadline = Date.now() + 540_000;
    let statuses: string[] = [];
    while (Date.now() < deadline) {
      statuses = await Promise.all(ids.map(async (id, i) => (await json(`${gateways[(i + 1) % 2]}/orchestrator/runs/${id}`)).status));
      if (statuses.every((s) => ["completed", "failed", "cancelled"].includes(s))) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(statuses).toEqual(Array(10).fill("completed"));

    const prefect = new PrefectRuns(createPrefectClient(inject("scalePrefectApiUrl")), "run-stage/quire");
    for (const id of ids) {
      const outputs = (await json(`${gateways[0]}/orchestrator/runs/${id}/outputs?history=true`)).outputs;
      expect(outputs).toHaveLength(book.steps);
      expect(new Set(outputs.map((o: any) => o.stepId)).size).toBe(book.steps);
      const accepted = (await json(`${gateways[1]}/orchestrator/runs/${id}/audit`)).entries.filter((a: any) => a.outcome === "accepted");
      expect(accepted).toHaveLength(book.steps);
      const flowRuns = await prefect.flowRunsTagged([`book:${id}`]);
      expect(flowRuns).toHaveLength(book.stages);
      expect(flowRuns.every((f) => f.stateType === "COMPLETED")).toBe(true);
      const events = (await json(`${gateways[0]}/orchestrator/runs/${id}/events`)).events;
      expect(events.filter((e: any) => e.type === "stage.started")).toHaveLength(book.stages);
      expect(events.filter((e: any) => e.type === "run.completed")).toHaveLength(1);
    }
  });
});
