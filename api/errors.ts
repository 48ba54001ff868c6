/**
 * The closed family of errors the gateway speaks. Thrown anywhere; mapped to HTTP in exactly one place
 * (http/errorMiddleware.ts). Messages say what was wrong and what to do.
 */
export type ErrorCode =
  | "invalid_input"
  | "unauthorized"
  | "not_found"
  | "conflict"
  | "payload_too_large"
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

export class InvalidInput extends QuireError {
  readonly code = "invalid_input";
  readonly httpStatus = 400;
}
export class Unauthorized extends QuireError {
  readonly code = "unauthorized";
  readonly httpStatus = 401;
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
/** A config file or setting is wrong: raised at start-up, never for a client's request. */
export class InvalidConfig extends QuireError {
  readonly code = "invalid_config";
  readonly httpStatus = 500;
}
