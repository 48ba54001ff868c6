import { Conflict, Unavailable } from "../errors.js";

/**
 * Prefect answered 404. A 503 to a client, not a 404: the client's run exists; what is missing is on
 * Prefect's side (a deleted deployment, a wrong PREFECT_API_URL). Callers that expect a 404 (a flow run
 * deleted in the UI, a secret block not set) catch it.
 */
export class PrefectNotFound extends Unavailable {}

/**
 * Prefect refused a request (a 400 or 422; any 4xx but 404, 409 and 429): this gateway and the Prefect
 * server disagree on the API (a version outside the pins?). A 502, and no "try again": trying again gets
 * the same answer. Still an Unavailable to the callers that leave a recorded change for the run driver.
 */
export class PrefectRefused extends Unavailable {
  override readonly code = "prefect_refused";
  override readonly httpStatus = 502;
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

const transient = (status: number) => status === 429 || status === 502 || status === 503 || status === 504;
// Prefect on SQLite answers 503 when a write meets another writer's lock ("database is locked"), which
// clears within milliseconds: the first retries come quickly (a stage boundary once waited 1.7 s here).
const delays = [20, 50, 100, 200, 400, 800];
// No try starts after this long: with a request timeout (client.ts), a call gives up within about 25 s.
const budgetMs = 15_000;

/**
 * Turns openapi-fetch's `{data, error, response}` into the data or one typed error: the single place
 * where Prefect's HTTP answers are judged. A network failure, a request timeout or a 502/503/504 (Prefect on
 * SQLite answers 503 when its database is busy) is tried again a few times within a budget, then is Unavailable. Every call made through
 * here is safe to repeat: reads, state proposals, and flow run creation with an idempotency key.
 */
export async function unwrap<T>(what: string, call: () => Promise<Answer<T>>): Promise<T> {
  const deadline = Date.now() + budgetMs;
  const again = (attempt: number) => attempt < delays.length && Date.now() + delays[attempt]! < deadline;
  for (let attempt = 0; ; attempt++) {
    let result: Answer<T>;
    try {
      result = await call();
    } catch (err) {
      if (again(attempt)) {
        await sleep(delays[attempt]!);
        continue;
      }
      throw new Unavailable(`Prefect API is not reachable (${what}): ${(err as Error).message}`, undefined, { cause: err });
    }
    const { data, error, response } = result;
    if (response.ok && (data !== undefined || response.status === 204)) return data as T; // 204: an update, no body
    if (transient(response.status) && again(attempt)) {
      await sleep(delays[attempt]!);
      continue;
    }
    const detail = JSON.stringify(error ?? null).slice(0, 500);
    if (response.status === 404) throw new PrefectNotFound(`Prefect has no such resource (${what})`, { prefect: error });
    if (response.status === 409) throw new Conflict(`Prefect refused ${what}: ${detail}`, { prefect: error });
    if (response.status >= 400 && response.status < 500 && !transient(response.status)) {
      throw new PrefectRefused(`Prefect refused ${what} (${response.status}: ${detail}); trying again will not help: is PREFECT_API_URL a Prefect 2.20 server?`, { prefect: error });
    }
    throw new Unavailable(`Prefect answered ${response.status} to ${what}: ${detail}`, { prefect: error });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prefect answers a state change with an OrchestrationResult; anything but ACCEPT did not happen. */
export function requireAccepted(what: string, result: { status: string; details?: unknown }): void {
  if (result.status !== "ACCEPT") {
    throw new Conflict(`Prefect did not accept ${what}: ${result.status}`, { prefect: result.details });
  }
}
