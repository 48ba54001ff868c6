import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import getPort from "get-port";
import type { TestProject } from "vitest/node";
import { Stack } from "../../scripts/stack/stack.js";
import { startPostgres } from "../fixtures/postgresServer.js";
import { removeStaleHomes } from "../../scripts/stack/staleHomes.js";

declare module "vitest" {
  export interface ProvidedContext {
    gatewayUrls: string[];
    scalePrefectApiUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const postgres = await startPostgres();
  removeStaleHomes("quire-scale-"); // earlier runs' folders (each keeps its logs until the next run)
  const home = mkdtempSync(join(tmpdir(), "quire-scale-"));
  const secondGatewayPort = await getPort();
  const stack = new Stack({
    root: resolve(import.meta.dirname, "../.."),
    home,
    ports: { gateway: await getPort(), prefect: await getPort(), redis: await getPort() },
    extraGatewayPorts: [secondGatewayPort],
    prefectWorkers: 2,
    agentWorkers: 3,
    env: { DATABASE_URL: postgres.url, QUIRE_POLL_MS: "300" },
    say: (msg) => console.log(`[scale stack] ${msg}`),
  });
  try {
    await stack.start(); // stops what it started when it fails
  } catch (err) {
    // No teardown runs for a set-up that failed: stop the server here, or it outlives the tests.
    await postgres.destroy();
    throw err;
  }
  project.provide("gatewayUrls", [stack.gatewayUrl, `http://127.0.0.1:${secondGatewayPort}`]);
  project.provide("scalePrefectApiUrl", stack.prefectApiUrl);
  return async () => {
    await stack.stop();
    await postgres.destroy();
  };
}
