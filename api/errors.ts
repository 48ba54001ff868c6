/**
 * The closed family of errors the gateway speaks. Thrown anywhere; mapped to HTTP in exactly one place
 * (http/errorMiddleware.ts). Messages say what was wrong and what to do.
 */
export type ErrorCode =
  | "invalid_input"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "unavailable"
  | "prefect_refused"
  | "invalid_config";

export abstract class QuireError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly httpStatus: number;
  constructor(message: string, readonly details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface Issue {
  path: string;
  message: string;
}
/** At most this many issues are listed, so a small request cannot ask for a huge answer. */
const MAX_ISSUES = 20;

export class InvalidInput extends QuireError {
  readonly code = "invalid_input";
  readonly httpStatus = 400;

  /** One 400 for a list of issues: each named in `details.issues` and the message (the first 20; `details.moreIssues` counts the rest). */
  static fromIssues(issues: Issue[], prefix = ""): InvalidInput {
    const listed = issues.slice(0, MAX_ISSUES);
    const more = issues.length - listed.length;
    const message = `${prefix}${listed.map((i) => `${i.path}: ${i.message}`).join("; ")}${more ? `; and ${more} more` : ""}`;
    return new InvalidInput(message, { issues: listed, ...(more && { moreIssues: more }) });
  }
}
export class Unauthorized extends QuireError {
  readonly code = "unauthorized";
  readonly httpStatus = 401;
}
/** A request from where this gateway does not serve: a foreign Host (DNS rebinding) or a command from another site's page. */
export class Forbidden extends QuireError {
  readonly code = "forbidden";
  readonly httpStatus = 403;
}
export class NotFound extends QuireError {
  readonly code = "not_found";
  readonly httpStatus = 404;
}
export class Conflict extends QuireError {
  readonly code = "conflict";
  readonly httpStatus = 409;
}
export class PayloadTooLarge extends QuireError {
  readonly code = "payload_too_large";
  readonly httpStatus = 413;
}
export class UnsupportedMediaType extends QuireError {
  readonly code = "unsupported_media_type";
  readonly httpStatus = 415;
}
/** A dependency (Prefect, Redis, the store) is down or answered in a way we cannot use. */
export class Unavailable extends QuireError {
  readonly code: ErrorCode = "unavailable";
  readonly httpStatus: number = 503;
}
/** What ioredis throws for a command while Redis is down: the gateway's clients give up after one retry. */
export function isRedisUnreachable(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  return e?.name === "MaxRetriesPerRequestError" || e?.message === "Connection is closed.";
}
/**
 * The store's database out of reach or too busy to answer, as its drivers say it: Postgres down,
 * restarting, refusing connections or ending a transaction it could not order (serialization, deadlock);
 * SQLite locked past its busy timeout. Prefect's and Redis's outages are recognised before this.
 */
export function isStoreUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : "";
  const message = typeof e?.message === "string" ? e.message : "";
  return (
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"].includes(code) ||
    code.startsWith("08") || // Postgres: connection exception
    ["57P01", "57P02", "57P03", "53300", "40001", "40P01"].includes(code) || // shutting down, starting, too many connections, retry the transaction
    code.startsWith("SQLITE_BUSY") ||
    code.startsWith("SQLITE_LOCKED") ||
    message === "Connection terminated unexpectedly" ||
    message.startsWith("timeout exceeded when trying to connect")
  );
}
/** A config file or setting is wrong: raised at start-up, never for a client's request. */
export class InvalidConfig extends QuireError {
  readonly code = "invalid_config";
  readonly httpStatus = 500;
}
