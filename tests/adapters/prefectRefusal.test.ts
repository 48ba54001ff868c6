import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import { PrefectRefused } from "../../api/prefect/prefectAnswers.js";

const flowRunId = "0b6a3f4e-8c1d-4e2a-9f3b-1c2d3e4f5a6b";
let server: Server | undefined;

/** A server that answers every request with the next status of `statuses` (the last one repeats). */
async function prefectAnswering(statuses: number[]): Promise<{ runs: PrefectRuns; requests: () => number }> {
  let requests = 0;
  server = createServer((req, res) => {
    const status = statuses[Math.min(requests++, statuses.length - 1)]!;
    req.resume().on("end", () => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(status < 300 ? { id: flowRunId, name: "x", state: { type: "RUNNING", name: "Running" } } : { detail: "field required" }));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  return { runs: new PrefectRuns(createPrefectClient(url, 100), "run-stage/quire"), requests: () => requests };
}

afterEach(() => {
  server?.close();
  server = undefined;
});

describe("a Prefect that refuses a request", () => {
  it("is a 502 prefect_refused, asked once: a 422 is the same answer however often it is sent", async () => {
    const { runs, requests } = await prefectAnswering([422]);
    const err = await runs.readFlowRun(flowRunId).catch((e) => e);
    expect(err).toBeInstanceOf(PrefectRefused);
    expect(err.httpStatus).toBe(502);
    expect(err.code).toBe("prefect_refused");
    expect(err.message).toContain("422");
    expect(err.message).toContain("field required");
    expect(requests()).toBe(1);
  });

  it("says a 429 that outlasts its retries is unavailable for now, not refused", async () => {
    const { runs } = await prefectAnswering([429]);
    const err = await runs.readFlowRun(flowRunId).catch((e) => e);
    expect(err).not.toBeInstanceOf(PrefectRefused);
    expect(err.httpStatus).toBe(503);
  }, 20_000);

  it("tries a 429 again, as it does a 503", async () => {
    const { runs, requests } = await prefectAnswering([429, 503, 200]);
    const flowRun = await runs.readFlowRun(flowRunId);
    expect(flowRun.id).toBe(flowRunId);
    expect(requests()).toBe(3);
  });
});
