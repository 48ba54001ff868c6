import type { Stack } from "../stack/stack.js";
import { percentile } from "./stats.js";

export interface SseLatencyResult {
  runId: string;
  wallMs: number;
  samples: number;
  p50: number;
  p95: number;
  max: number;
  stageStartupMs: { stageId: string; startupMs: number | null }[];
}

/**
 * Runs the hello-world book while listening to its SSE stream and measures, for every step.completed
 * event, the time from the worker's write (`at`, stamped inside the transaction) to its arrival here.
 */
export async function measureSseLatency(stack: Stack, book: object): Promise<SseLatencyResult> {
  const api = async (path: string, init?: RequestInit) => (await fetch(`${stack.gatewayUrl}${path}`, { ...init, headers: { "content-type": "application/json", ...stack.gatewayHeaders } })).json() as Promise<any>;
  const submitted = Date.now();
  const { runId } = await api("/orchestrator/run", { method: "POST", body: JSON.stringify(book) });
  const res = await fetch(`${stack.gatewayUrl}/orchestrator/runs/${runId}/events`, { headers: { accept: "text/event-stream", ...stack.gatewayHeaders } });
  const latencies: number[] = [];
  let buffer = "";
  const decoder = new TextDecoder();
  let completedAt = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const received = Date.now();
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    let finished = false;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const data = buffer.slice(0, cut).split("\n").find((l) => l.startsWith("data: "));
      buffer = buffer.slice(cut + 2);
      if (!data) continue;
      const event = JSON.parse(data.slice(6));
      if (event.type === "step.completed") latencies.push(received - Date.parse(event.at));
      if (["run.completed", "run.failed", "run.cancelled"].includes(event.type)) {
        completedAt = Date.parse(event.at);
        finished = true;
      }
    }
    if (finished) break;
  }
  const { stages } = await api(`/orchestrator/runs/${runId}`);
  const { events } = await api(`/orchestrator/runs/${runId}/events`);
  const stageStartupMs = stages.map((s: any) => {
    const first = events.find((e: any) => e.type === "step.started" && e.stageId === s.stageId);
    return { stageId: s.stageId, startupMs: first ? Date.parse(first.at) - Date.parse(s.createdAt) : null };
  });
  return { runId, wallMs: completedAt - submitted, samples: latencies.length, p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: Math.max(...latencies), stageStartupMs };
}
