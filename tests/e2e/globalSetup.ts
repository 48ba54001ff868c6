import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { execa } from "execa";
import getPort from "get-port";
import { startFakeGemini, startFakeOpenAi } from "../fixtures/fakeLlmServers.js";
import type { TestProject } from "vitest/node";
import { Stack } from "../../scripts/stack/stack.js";
import { removeStaleHomes } from "../../scripts/stack/staleHomes.js";

declare module "vitest" {
  export interface ProvidedContext {
    gatewayUrl: string;
    prefectApiUrl: string;
    redisUrl: string;
    stackHome: string;
    stackControlUrl: string;
    fakeOpenAiUrl: string;
    fakeGeminiUrl: string;
    providerKeys: string[];
    /** Only in the Postgres run (globalSetupPostgres.ts): the store's database, for tests that look inside it. */
    databaseUrl?: string;
  }
}

/** Starts the real stack once for all e2e files, on free ports, with its state in a temporary folder. */
export default function setup(project: TestProject) {
  return startE2eStack(project, {});
}

export async function startE2eStack(project: TestProject, extraEnv: Record<string, string>) {
  removeStaleHomes("quire-e2e-"); // earlier runs' folders (each keeps its logs until the next run)
  const home = mkdtempSync(join(tmpdir(), "quire-e2e-"));
  const [gateway, prefect, redis] = [await getPort(), await getPort(), await getPort()];
  // Real adapters against local servers that speak OpenAI's and Gemini's wire formats. The OpenAI key
  // comes from the environment; the Gemini key from a Prefect Secret block (created below), as an
  // operator would set it in the Prefect UI.
  const openAiKey = `sk-e2e-openai-${randomUUID()}`;
  const geminiKey = `gemini-e2e-${randomUUID()}`;
  const [fakeOpenAi, fakeGemini] = [await startFakeOpenAi(openAiKey), await startFakeGemini(geminiKey)];
  const root = resolve(import.meta.dirname, "../..");
  const stack = new Stack({
    root,
    home,
    ports: { gateway, prefect, redis },
    agentWorkers: 2,
    env: {
      QUIRE_POLL_MS: "250",
      // The pool-limit and pause tests see an operator's change in Prefect within 2 s, not 10.
      QUIRE_POOL_READ_SECONDS: "2",
      // Not the default, so every e2e test checks that the flows and the TypeScript side name Redis alike.
      QUIRE_QUEUE_PREFIX: "quire-e2e",
      QUIRE_LOG_LEVEL: "info",
      QUIRE_SSE_HEARTBEAT_MS: "1000",
      // Short leases so the fault tests see a dead worker or flow process within seconds.
      QUIRE_JOB_LOCK_MS: "4000",
      QUIRE_FLOW_LEASE_SECONDS: "6",
      QUIRE_PROVIDER_TIMEOUT_MS: "2000",
      OPENAI_API_KEY: openAiKey,
      OPENAI_BASE_URL: fakeOpenAi.url,
      OPENAI_MODEL: "gpt-fake-mini",
      GEMINI_BASE_URL: fakeGemini.url,
      GEMINI_MODEL: "gemini-fake-flash",
      ...extraEnv,
    },
    say: (msg) => console.log(`[e2e stack] ${msg}`),
  });
  const started = Date.now();
  await stack.start();
  console.log(`[e2e stack] ready in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${home}/logs`);
  project.provide("gatewayUrl", stack.gatewayUrl);
  project.provide("prefectApiUrl", stack.prefectApiUrl);
  project.provide("redisUrl", stack.redisUrl);
  project.provide("stackHome", home);
  await execa(resolve(root, ".venv/bin/python"), ["-c", "import sys; from prefect.blocks.system import Secret; Secret(value=sys.argv[1]).save('quire-gemini-api-key', overwrite=True)", geminiKey], {
    env: { PREFECT_API_URL: stack.prefectApiUrl, PREFECT_HOME: join(home, "prefect") },
  });
  project.provide("fakeOpenAiUrl", fakeOpenAi.origin);
  project.provide("fakeGeminiUrl", fakeGemini.origin);
  project.provide("providerKeys", [openAiKey, geminiKey]);

  // Fault tests run in worker processes; they kill and restart the stack's processes through this
  // loopback endpoint: POST /kill/<name> (SIGKILL to the process group), POST /stop/<name> (SIGTERM, as
  // a stack stopping sends), POST /term/<name> (SIGTERM to the process alone, as `docker compose stop`
  // sends), POST /restart/<name>; the name
  // `all` kills every process at once (a power loss) and starts them again in the order of start-up.
  const control = createServer(async (req, res) => {
    if (req.url === "/pids") {
      res.writeHead(200).end(JSON.stringify(Object.fromEntries([...stack.processes].map(([n, p]) => [n, p.pid]))));
      return;
    }
    const [, action, name] = (req.url ?? "").split("/");
    const proc = name ? stack.processes.get(name) : undefined;
    try {
      if (name === "all") {
        if (action === "kill") [...stack.processes.values()].reverse().forEach((p) => p.signal("SIGKILL"));
        else for (const each of stack.processes.keys()) await stack.restart(each);
        res.writeHead(200).end(JSON.stringify({ ok: true }));
        return;
      }
      if (!proc) throw new Error(`no process ${name}; have ${[...stack.processes.keys()].join(", ")}`);
      if (action === "kill") proc.signal("SIGKILL");
      else if (action === "stop") await proc.stop(); // SIGTERM to its group, as a stack stopping does
      else if (action === "term") await proc.stop(10_000, { mainOnly: true });
      else if (action === "restart") await stack.restart(name!);
      else throw new Error(`unknown action ${action}`);
      res.writeHead(200).end(JSON.stringify({ ok: true, pid: proc.pid }));
    } catch (err) {
      res.writeHead(400).end(JSON.stringify({ error: (err as Error).message }));
    }
  });
  await new Promise<void>((r) => control.listen(0, "127.0.0.1", r));
  const address = control.address();
  project.provide("stackControlUrl", `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`);

  return async () => {
    control.close();
    await stack.stop();
    await fakeOpenAi.close();
    await fakeGemini.close();
  };
}
