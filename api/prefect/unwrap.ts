import { Conflict, NotFound, Unavailable } from "../errors.js";

/**
 * Turns openapi-fetch's `{data, error, response}` into the data or one typed error: the single place
 * where Prefect's HTTP answers are judged. A network failure or a 5xx is Unavailable (503 upstream).
 */
export async function unwrap<T>(what: string, call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (err) {
    throw new Unavailable(`Prefect API is not reachable (${what}): ${(err as Error).message}`, undefined, { cause: err });
  }
  const { data, error, response } = result;
  if (response.ok && data !== undefined) return data;
  const detail = JSON.stringify(error ?? null).slice(0, 500);
  if (response.status === 404) throw new NotFound(`Prefect has no such resource (${what})`, { prefect: error });
  if (response.status === 409) throw new Conflict(`Prefect refused ${what}: ${detail}`, { prefect: error });
  throw new Unavailable(`Prefect answered ${response.status} to ${what}: ${detail}`, { prefect: error });
}

/** Prefect answers a state change with an OrchestrationResult; anything but ACCEPT did not happen. */
export function requireAccepted(what: string, result: { status: string; details?: unknown }): void {
  if (result.status !== "ACCEPT") {
    throw new Conflict(`Prefect did not accept ${what}: ${result.status}`, { prefect: result.details });
  }
}
