import { resolve } from "node:path";
import type { StackOptions } from "./stack.js";

/**
 * Ports and state folder for `npm start` / `npm run demo`, from the same variables the gateway reads.
 * A bad value throws one line naming the variable.
 */
export function defaultStackOptions(root: string): StackOptions {
  const whole = (name: string, fallback: number, min: number, max: number, what: string) => {
    const raw = process.env[name]?.trim();
    const value = raw ? Number(raw) : fallback;
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}=${JSON.stringify(process.env[name])} is not ${what}; fix it or unset it (default ${fallback})`);
    return value;
  };
  const port = (name: string, fallback: number) => whole(name, fallback, 1, 65535, "a port number (1 to 65535)");
  const count = (name: string) => whole(name, 1, 1, Number.MAX_SAFE_INTEGER, "a number of processes (a whole number, 1 or more)");
  const kind = process.env.QUIRE_PREFECT_WORKER_KIND?.trim();
  if (kind && kind !== "warm" && kind !== "process") throw new Error(`QUIRE_PREFECT_WORKER_KIND=${JSON.stringify(kind)} is neither "warm" nor "process"; fix it or unset it (default warm)`);
  return {
    root,
    home: process.env.QUIRE_HOME || resolve(root, ".quire"),
    ports: { gateway: port("QUIRE_PORT", 8080), prefect: port("QUIRE_PREFECT_PORT", 4200), redis: port("QUIRE_REDIS_PORT", 6380) },
    agentWorkers: count("QUIRE_AGENT_WORKERS"),
    prefectWorkers: count("QUIRE_PREFECT_WORKERS"),
    prefectWorkerKind: kind === "process" ? "process" : "warm",
    say: (msg) => console.log(`[stack] ${msg}`),
  };
}
