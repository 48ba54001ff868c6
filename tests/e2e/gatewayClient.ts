import { inject } from "vitest";

/** Small helpers for e2e tests: plain HTTP against the gateway, and waiting on a run with a deadline. */

export const gatewayUrl = () => inject("gatewayUrl");

export async function call(path: string, init: { method?: string; body?: unknown; rawBody?: string } = {}) {
  const res = await fetch(`${gatewayUrl()}${path}`, {
    method: init.method ?? (init.body !== undefined || init.rawBody !== undefined ? "POST" : "GET"),
    headers: { "content-type": "application/json" },
    body: init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  return { status: res.status, body: json };
}

export const helloWorld = (premise = "Small daily habits compound into a calmer, more focused life") => ({
  idea: { premise, title: "Hello, World of Habits", audience: "busy professionals", category: "self-help" },
  provider: "mock",
});

/** Submits a book and returns its run id; anything but 202 fails the test with the gateway's answer. */
export async function submitRun(body: object): Promise<string> {
  const res = await call("/orchestrator/run", { body });
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.runId as string;
}

const terminal = new Set(["completed", "failed", "cancelled"]);

/** Polls the run until `until` holds (default: a terminal status) or the deadline passes. */
export async function waitForRun(runId: string, opts: { until?: (run: any) => boolean; timeoutMs?: number } = {}): Promise<any> {
  const until = opts.until ?? ((run) => terminal.has(run.status));
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  let last: any;
  while (Date.now() < deadline) {
    last = (await call(`/orchestrator/runs/${runId}`)).body;
    if (until(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`run ${runId} did not get there in time; last seen: ${JSON.stringify(last)?.slice(0, 1000)}`);
}

/** Kills (SIGKILL), stops (SIGTERM) or restarts one of the stack's processes: gateway, agent-worker-1, prefect-worker-1, redis, prefect-server. */
export async function stackControl(action: "kill" | "stop" | "term" | "restart", name: string): Promise<void> {
  const res = await fetch(`${inject("stackControlUrl")}/${action}/${name}`, { method: "POST" });
  if (!res.ok) throw new Error(`stack control ${action} ${name}: ${await res.text()}`);
}

export async function events(runId: string): Promise<any[]> {
  return (await call(`/orchestrator/runs/${runId}/events`)).body.events;
}

/** Waits until `probe` returns a truthy value (which it returns) or the deadline passes. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** The pid of each of the stack's processes, by name. */
export async function stackPids(): Promise<Record<string, number>> {
  return (await fetch(`${inject("stackControlUrl")}/pids`)).json() as Promise<Record<string, number>>;
}

/** A run's outputs (accepted only, or every version) and audit entries. */
export const outputsOf = async (runId: string, history = false) => (await call(`/orchestrator/runs/${runId}/outputs${history ? "?history=true" : ""}`)).body.outputs as any[];
export const auditOf = async (runId: string) => (await call(`/orchestrator/runs/${runId}/audit`)).body.entries as any[];

/** True once a run is in the structure stage with a few steps done: "mid-stage" for fault and control tests. */
export const midStructure = (run: any) => run.currentStage === "structure" && run.completedSteps >= 3;

/** A premise whose mock steps take 700 ms each: slow enough to act mid-stage. */
export const slowPremise = (name: string) => `${name} ${Date.now()} [mock:delay=700]`;
