import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { InvalidInput, isRedisUnreachable, isStoreUnreachable, NotFound, PayloadTooLarge, QuireError, Unavailable, UnsupportedMediaType } from "../errors.js";

/** The one place errors become HTTP answers: `{error:{code, message, details?}}`. */
export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const mapped = toQuireError(err);
    if (mapped) {
      res.status(mapped.httpStatus).json({ error: { code: mapped.code, message: mapped.message, ...(mapped.details !== undefined && { details: mapped.details }) } });
      return;
    }
    log.error({ err, path: req.path }, "unexpected error");
    res.status(500).json({ error: { code: "internal", message: "unexpected error; see the gateway log" } });
  };
}

/** Errors not raised as ours: express's body parser and Postgres's refusal of a NUL or of a number out of range are client mistakes, Redis or the store down a 503. */
function toQuireError(err: unknown): QuireError | undefined {
  if (err instanceof QuireError) return err;
  const e = err as { type?: string; status?: number; message?: string; limit?: number; code?: unknown };
  if (e?.type === "entity.too.large") return new PayloadTooLarge(`request body is over the limit of ${e.limit} bytes`);
  if (e?.type === "entity.parse.failed") {
    const message = `request body is not a JSON object or array: ${e.message}`;
    return new InvalidInput(message, { issues: [{ path: "(body)", message }] });
  }
  if (e?.status === 415) return new UnsupportedMediaType(e.message ?? "unsupported body encoding"); // the parser's: a charset or encoding it cannot read
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) return new InvalidInput(e.message ?? "bad request");
  // Postgres refuses a NUL character (\u0000) in text, which only a client's input can carry.
  if (e?.code === "22021" || e?.code === "22P05") {
    return new InvalidInput("the request carries a NUL character (\\u0000), which cannot be stored");
  }
  // Postgres: a number too large for its column (a client's import document, say).
  if (e?.code === "22003") return new InvalidInput("a number in the request is too large to be stored");
  if (isRedisUnreachable(err)) return new Unavailable("Redis is not reachable (restarting?); nothing was changed, try again shortly");
  // A write cut off by this is rolled back whole; a command's later effects are finished by the run driver.
  if (isStoreUnreachable(err)) return new Unavailable("the store (the gateway's database) is not reachable or too busy to answer; try again shortly");
  return undefined;
}

export const notFoundHandler: RequestHandler = (req) => {
  throw new NotFound(`no route ${req.method} ${req.path}; see /openapi.json`);
};
