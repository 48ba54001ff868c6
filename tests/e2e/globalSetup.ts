import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import getPort from "get-port";
import type { TestProject } from "vitest/node";
import { Stack } from "../../scripts/stack/stack.js";

declare module "vitest" {
  export interface ProvidedContext {
    gatewayUrl: string;
    prefectApiUrl: string;
    redisUrl: string;
    stackHome: string;
  }
}

/** Starts the real stack once for all e2e files, on free ports, with its state in a temporary folder. */
export default async function setup(project: TestProject) {
  const home = mkdtempSync(join(tmpdir(), "quire-e2e-"));
  const [gateway, prefect, redis] = [await getPort(), await getPort(), await getPort()];
  const stack = new Stack({
    root: resolve(import.meta.dirname, "../.."),
    home,
    ports: { gateway, prefect, redis },
    env: { QUIRE_POLL_MS: "250", QUIRE_LOG_LEVEL: "info" },
    say: (msg) => console.log(`[e2e stack] ${msg}`),
  });
  const started = Date.now();
  await stack.start();
  console.log(`[e2e stack] ready in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${home}/logs`);
  project.provide("gatewayUrl", stack.gatewayUrl);
  project.provide("prefectApiUrl", stack.prefectApiUrl);
  project.provide("redisUrl", stack.redisUrl);
  project.provide("stackHome", home);
  return async () => {
    await stack.stop();
  };
}
