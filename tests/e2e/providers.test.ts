import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { call, eventually, helloWorld, waitForRun } from "./gatewayClient.js";
import { book } from "../fixtures/bookShape.js";

const script = (origin: string, ...behaviours: object[]) => fetch(`${origin}/__script`, { method: "POST", body: JSON.stringify(behaviours) });
const requestsTo = async (origin: string) => (await (await fetch(`${origin}/__requests`)).json()) as { path: string; aborted: boolean; model?: string }[];

describe("real provider adapters against local OpenAI and Gemini servers", () => {
  it("runs the book on OpenAI with the writing stage sent to Gemini, recording each step's provider and model", async () => {
    const body = { ...helloWorld(`providers ${Date.now()}`), provider: "openai", overrides: { temperature: 0.2, stages: { writing: { provider: "gemini", maxTokens: 3000 } } } };
    const { status, body: submitted } = await call("/orchestrator/run", { body });
    expect(status).toBe(202);
    const run = await waitForRun(submitted.runId);
    expect(run.status).toBe("completed");

    const writingSteps = book.stepsOf("writing");
    const audit = (await call(`/orchestrator/runs/${run.runId}/audit`)).body.entries;
    expect(audit).toHaveLength(book.steps);
    for (const entry of audit) {
      const gemini = writingSteps.includes(entry.stepId);
      expect(entry).toMatchObject({ outcome: "accepted", provider: gemini ? "gemini" : "openai", model: gemini ? "gemini-fake-flash" : "gpt-fake-mini", temperature: 0.2, attempt: 1, finishReason: gemini ? "STOP" : "stop" });
      expect(entry.maxTokens).toBe(gemini ? 3000 : book.step(entry.stepId).maxTokens); // the graph's, for the steps the request did not override
      expect(entry.inputTokens).toBeGreaterThan(0);
    }
    expect(run.settings.writing[0]).toEqual({ stepId: "G1", provider: "gemini", model: "gemini-fake-flash", temperature: 0.2, maxTokens: 3000 });
    expect(run.settings.title[0]).toEqual({ stepId: "T1", provider: "openai", model: "gpt-fake-mini", temperature: 0.2, maxTokens: 2000 });
    expect((await requestsTo(inject("fakeGeminiUrl"))).filter((r) => r.path.includes("gemini-fake-flash:generateContent")).length).toBeGreaterThanOrEqual(writingSteps.length);
  });

  it("sends an answer that fails the schema back once with the error, then accepts the repaired one", async () => {
    await script(inject("fakeOpenAiUrl"), { kind: "invalid" });
    const { body } = await call("/orchestrator/run", { body: { ...helloWorld(`repair ${Date.now()}`), provider: "openai", stages: ["idea_intake"] } });
    expect((await waitForRun(body.runId)).status).toBe("completed");
    const audit = (await call(`/orchestrator/runs/${body.runId}/audit`)).body.entries;
    expect(audit.map((a: any) => a.outcome)).toEqual(["rejected", "accepted"]);
    expect(audit[0].error).toContain("heading");
    expect(audit[1].request.repair).toBe(true);
    expect(audit[1].request.prompt).toContain("Your previous answer was not valid");
  });

  it("aborts the provider's HTTP request when the run is cancelled", async () => {
    const origin = inject("fakeOpenAiUrl");
    await script(origin, { kind: "hang" });
    const before = (await requestsTo(origin)).length;
    const { body } = await call("/orchestrator/run", { body: { ...helloWorld(`abort ${Date.now()}`), provider: "openai", stages: ["idea_intake"] } });
    await eventually("the request reached the provider", async () => (await requestsTo(origin)).length > before);
    expect((await call(`/orchestrator/runs/${body.runId}/cancel`, { method: "POST" })).status).toBe(200);
    expect((await waitForRun(body.runId)).status).toBe("cancelled");
    await eventually("the provider saw the request aborted", async () => (await requestsTo(origin))[before]?.aborted, 15_000);
    expect((await call(`/orchestrator/runs/${body.runId}/outputs`)).body.outputs).toHaveLength(0);
  });

  it("never stores, logs or returns an API key", async () => {
    const keys = inject("providerKeys");
    const { body: list } = await call("/orchestrator/runs?limit=200");
    const texts: string[] = [JSON.stringify(list), JSON.stringify((await call("/stages/defaults")).body), await (await fetch(`${inject("gatewayUrl")}/metrics`)).text()];
    for (const run of list.runs.slice(0, 20)) {
      for (const path of ["", "/outputs?history=true", "/audit", "/events"]) texts.push(JSON.stringify((await call(`/orchestrator/runs/${run.runId}${path}`)).body));
    }
    const home = inject("stackHome");
    for (const file of readdirSync(join(home, "logs"))) texts.push(readFileSync(join(home, "logs", file), "utf8"));
    const stored = await storeContents(home);
    expect(stored).toContain(list.runs[0].runId); // the store was really read
    texts.push(stored);
    for (const key of keys) for (const text of texts) expect(text.includes(key)).toBe(false);
  });
});

/** Everything the store holds, as text: the SQLite files byte for byte, or every row of every table on Postgres. */
async function storeContents(home: string): Promise<string> {
  const databaseUrl = inject("databaseUrl");
  if (!databaseUrl) return ["quire.db", "quire.db-wal"].filter((f) => existsSync(join(home, f))).map((f) => readFileSync(join(home, f)).toString("latin1")).join("\n");
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const tables = ["runs", "stage_runs", "step_outputs", "audit_entries", "events"];
    const dumps: string[] = [];
    for (const table of tables) dumps.push(JSON.stringify((await client.query(`SELECT * FROM ${table}`)).rows));
    return dumps.join("\n");
  } finally {
    await client.end();
  }
}
