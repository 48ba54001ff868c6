import { resolve } from "node:path";
import type { StackOptions } from "./stack.js";

/** Ports and state folder for `npm start` / `npm run demo`, from the same variables the gateway reads. */
export function defaultStackOptions(root: string): StackOptions {
  const num = (name: string, fallback: number) => {
    const raw = process.env[name];
    const value = raw ? Number(raw) : fallback;
    if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`${name}=${raw} is not a port number`);
    return value;
  };
  return {
    root,
    home: process.env.QUIRE_HOME ?? resolve(root, ".quire"),
    ports: { gateway: num("QUIRE_PORT", 8080), prefect: num("QUIRE_PREFECT_PORT", 4200), redis: num("QUIRE_REDIS_PORT", 6380) },
    agentWorkers: num("QUIRE_AGENT_WORKERS", 1),
    prefectWorkers: num("QUIRE_PREFECT_WORKERS", 1),
    prefectWorkerKind: process.env.QUIRE_PREFECT_WORKER_KIND === "process" ? "process" : "warm",
    say: (msg) => console.log(`[stack] ${msg}`),
  };
}
