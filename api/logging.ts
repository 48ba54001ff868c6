import { pino, type Logger } from "pino";

/** One JSON logger per process; children add runId/stageId/stepId so every line can be traced. */
export function createLogger(name: string, level: string): Logger {
  return pino({ name, level, base: { pid: process.pid, component: name } });
}
