import { createConnection } from "node:net";

/** Polls `probe` until it returns true or the deadline passes; a timeout names the probe's last error, `failFast` ends the wait at once. */
export async function waitFor(what: string, probe: () => Promise<boolean>, opts: { timeoutMs: number; intervalMs?: number; failFast?: () => string | undefined }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    const fatal = opts.failFast?.();
    if (fatal) throw new Error(fatal); // names the process that stopped, not what we waited for
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
  throw new Error(`${what}: not ready after ${Math.round(opts.timeoutMs / 1000)} s${lastError ? ` (last error: ${lastError})` : ""}`);
}

/** True on a 2xx; any other answer throws with its status and body (e.g. /health's 503 naming the failing check), which waitFor reports on timeout. */
export async function httpOk(url: string, headers: Record<string, string> = {}): Promise<boolean> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
  if (res.ok) return true;
  const body = (await res.text().catch(() => "")).trim().slice(0, 1000);
  throw new Error(`${url} answered ${res.status}${body ? `: ${body}` : ""}`);
}

/** True when something already listens on the port. */
export function portInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
