import type { TestProject } from "vitest/node";
import { startPostgres } from "../fixtures/postgresServer.js";
import { startE2eStack } from "./globalSetup.js";

/** The same stack with its store on a real PostgreSQL (Debian's server, temporary data folder). */
export default async function setup(project: TestProject) {
  const postgres = await startPostgres();
  project.provide("databaseUrl", postgres.url);
  let teardown: () => Promise<void>;
  try {
    teardown = await startE2eStack(project, { DATABASE_URL: postgres.url });
  } catch (err) {
    // No teardown runs for a set-up that failed: stop the server here, or it outlives the tests.
    await postgres.destroy();
    throw err;
  }
  return async () => {
    await teardown();
    await postgres.destroy();
  };
}
