import { readFileSync } from "node:fs";
import { execa } from "execa";
import type { Stack } from "../stack/stack.js";
import { percentile } from "./stats.js";

export interface LoadResult {
  books: number;
  wallMs: number;
  booksPerMinute: number;
  completed: number;
  healthP50: number;
  healthP95: number;
  /** Peak resident memory (MiB) by process name; flow runs are their own processes, counted each. */
  peakRssMiB: Record<string, number>;
}

/**
 * Submits `books` hello-world books at once and waits for all of them, while probing /health every
 * 250 ms and sampling every stack process's memory (with its children) every second.
 */
export async function runLoad(stack: Stack, books: number, book: any): Promise<LoadResult> {
  const api = async (path: string, init?: RequestInit) => (await fetch(`${stack.gatewayUrl}${path}`, { ...init, headers: { "content-type": "application/json", ...stack.gatewayHeaders } })).json() as Promise<any>;
  const health: number[] = [];
  const peak: Record<string, number> = {};
  let done = false;
  const probe = (async () => {
    while (!done) {
      const t = performance.now();
      await fetch(`${stack.gatewayUrl}/health`).catch(() => undefined);
      health.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const sampler = (async () => {
    while (!done) {
      await sampleRss(stack, peak);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const started = Date.now();
  const ids: string[] = await Promise.all(
    Array.from({ length: books }, async (_, i) => (await api("/orchestrator/run", { method: "POST", body: JSON.stringify({ ...book, idea: { ...book.idea, premise: `${book.idea.premise} (load ${books}.${i} ${started})` } }) })).runId),
  );
  let completed = 0;
  for (;;) {
    const statuses = await Promise.all(ids.map(async (id) => (await api(`/orchestrator/runs/${id}`)).status as string));
    completed = statuses.filter((s) => s === "completed").length;
    if (statuses.every((s) => ["completed", "failed", "cancelled"].includes(s))) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const wallMs = Date.now() - started;
  done = true;
  await Promise.all([probe, sampler]);
  return { books, wallMs, booksPerMinute: (completed / wallMs) * 60_000, completed, healthP50: percentile(health, 50), healthP95: percentile(health, 95), peakRssMiB: peak };
}

async function sampleRss(stack: Stack, peak: Record<string, number>) {
  const { stdout } = await execa("ps", ["-eo", "pid=,ppid=,rss=,args="], { reject: false });
  const rows = stdout.split("\n").map((l) => l.trim().split(/\s+/)).map(([pid, ppid, rss, ...args]) => ({ pid: Number(pid), ppid: Number(ppid), rssKiB: Number(rss), args: args.join(" ") }));
  const byPid = new Map(rows.map((r) => [r.pid, r]));
  const byParent = new Map<number, typeof rows>();
  for (const r of rows) byParent.set(r.ppid, [...(byParent.get(r.ppid) ?? []), r]);
  const tree = (pid: number): typeof rows => (byParent.get(pid) ?? []).flatMap((c) => [c, ...tree(c.pid)]);
  // A flow process: `python -m prefect.engine` (stock worker) or a child forked by the warm worker's fork server.
  const isFlow = (r: (typeof rows)[number]) => r.args.includes("prefect.engine") || (r.args.includes("warm_zygote.py") && !!byPid.get(r.ppid)?.args.includes("warm_zygote.py"));
  for (const [name, proc] of stack.processes) {
    if (!proc.pid) continue;
    const own = rows.find((r) => r.pid === proc.pid);
    const family = [own, ...tree(proc.pid)].filter(Boolean) as typeof rows;
    const rest = family.filter((r) => !isFlow(r)).reduce((sum, r) => sum + r.rssKiB, 0) / 1024;
    peak[name] = Math.max(peak[name] ?? 0, Math.round(rest));
    for (const f of family.filter(isFlow)) {
      peak["flow run (each, RSS)"] = Math.max(peak["flow run (each, RSS)"] ?? 0, Math.round(f.rssKiB / 1024));
      const pss = proportionalSetSizeKiB(f.pid);
      if (pss) peak["flow run (each, PSS)"] = Math.max(peak["flow run (each, PSS)"] ?? 0, Math.round(pss / 1024));
    }
  }
}

/** Memory a process holds with shared pages split among their sharers (forked flow processes share most of theirs). */
function proportionalSetSizeKiB(pid: number): number | undefined {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // gone already
  }
}
