import { pino, type Logger } from "pino";

/** One JSON logger per process; children add runId/stageId/stepId so every line can be traced. */
export function createLogger(name: string, level: string): Logger {
  return pino({ name, level, base: { pid: process.pid, component: name } });
}

/** A URL as it may be logged: a password in it (redis://:secret@host) shown as "***". */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(a URL that does not parse)";
  }
}
