import createClient from "openapi-fetch";
import type { components, paths } from "../../codegen/prefect-api.js";

/**
 * The one door to Prefect's REST API: an openapi-fetch client typed by the types generated from the
 * pinned Prefect's own OpenAPI document (codegen/). Only the prefect/ folder imports the generated types.
 */
export type PrefectClient = ReturnType<typeof createPrefectClient>;
export type PrefectSchemas = components["schemas"];

/**
 * @param requestTimeoutMs each request is aborted after this long: a Prefect that accepts connections but
 * does not answer would otherwise hold a driver pass (and every book behind it) for minutes.
 */
export function createPrefectClient(apiUrl: string, requestTimeoutMs = 10_000) {
  return createClient<paths>({ baseUrl: apiUrl.replace(/\/$/, ""), fetch: (request) => fetch(request, { signal: AbortSignal.timeout(requestTimeoutMs) }) });
}
