import createClient from "openapi-fetch";
import type { components, paths } from "../../codegen/prefect-api.js";

/**
 * The one door to Prefect's REST API: an openapi-fetch client typed by the types generated from the
 * pinned Prefect's own OpenAPI document (codegen/). Only the prefect/ folder imports the generated types.
 */
export type PrefectClient = ReturnType<typeof createPrefectClient>;
export type PrefectSchemas = components["schemas"];

export function createPrefectClient(apiUrl: string) {
  return createClient<paths>({ baseUrl: apiUrl.replace(/\/$/, "") });
}
