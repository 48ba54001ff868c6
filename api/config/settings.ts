import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { InvalidConfig } from "../errors.js";
import { ProviderName } from "./stageGraphSchema.js";

/** The checkout's root, found from this file so every process agrees whatever its cwd. */
export const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

const port = z.coerce.number().int().min(1).max(65535);

/**
 * Every setting of the gateway and the agent workers, read from the environment once at start-up and
 * passed down. Defaults work on one machine; docs/running.md lists them.
 */
const SettingsSchema = z.object({
  QUIRE_HOME: z.string().default(resolve(repoRoot, ".quire")),
  QUIRE_HOST: z.string().default("127.0.0.1"),
  QUIRE_PORT: port.default(8080),
  QUIRE_PREFECT_PORT: port.default(4200),
  PREFECT_API_URL: z.url().optional(),
  QUIRE_PREFECT_UI_URL: z.url().optional(),
  QUIRE_PUBLIC_URL: z.url().optional(),
  QUIRE_DEPLOYMENT: z.string().regex(/^[^/]+\/[^/]+$/, "flow-name/deployment-name").default("run-stage/quire"),
  QUIRE_REDIS_PORT: port.default(6380),
  QUIRE_REDIS_URL: z.string().optional(),
  QUIRE_QUEUE_PREFIX: z.string().regex(/^[a-z0-9_-]+$/).default("quire"),
  QUIRE_SQLITE_PATH: z.string().optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "a postgres:// URL").optional(),
  QUIRE_STAGES_FILE: z.string().default(resolve(repoRoot, "config/stages.yaml")),
  QUIRE_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(500),
  QUIRE_API_KEY: z.string().min(8).optional(),
  QUIRE_BODY_LIMIT: z.string().default("256kb"),
  QUIRE_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
  QUIRE_PROVIDER: ProviderName.optional(),
  QUIRE_FLOW_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(15),
  QUIRE_FLOW_START_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  QUIRE_STANDBY_FLOW_RUNS: z.enum(["true", "false"]).default("true"),
  QUIRE_SPARE_FLOW_RUNS: z.coerce.number().int().min(0).max(50).default(2),
  QUIRE_POOL_READ_SECONDS: z.coerce.number().int().min(1).max(600).default(10),
  QUIRE_JOB_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  QUIRE_SSE_HEARTBEAT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  QUIRE_ALLOWED_HOSTS: z.string().min(1).optional(),
  QUIRE_MAX_STREAMS: z.coerce.number().int().min(1).max(100_000).default(1000),
  QUIRE_MOCK_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().optional(),
  OPENAI_MODEL: z.string().min(1).default("gpt-4o-mini"),
  // Reasoning models answer 400 to any temperature but their default: matching models are sent none.
  OPENAI_NO_TEMPERATURE_MODELS: z
    .string()
    .default("^(o[1-9]|gpt-5)(?!.*-chat)")
    .refine((v) => { try { new RegExp(v); return true; } catch { return false; } }, "not a valid regular expression"),
  GEMINI_API_KEY: z.string().min(1).optional(),
  GEMINI_BASE_URL: z.url().optional(),
  GEMINI_MODEL: z.string().min(1).default("gemini-2.0-flash"),
  QUIRE_PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(120_000),
  QUIRE_CONCURRENCY_OPENAI: z.coerce.number().int().min(1).max(100).default(4),
  QUIRE_CONCURRENCY_GEMINI: z.coerce.number().int().min(1).max(100).default(4),
  QUIRE_SECRET_BLOCKS: z.enum(["true", "false"]).default("true"),
  QUIRE_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface RemoteProviderSettings {
  /** From the environment; when unset, a Prefect Secret block may supply it (api/config/credentials.ts). */
  apiKey?: string;
  baseUrl?: string;
  model: string;
  /** Jobs of this provider one agent worker runs at once. */
  concurrency: number;
}

export interface ProviderSettings {
  /** noTemperature: OpenAI models sent no temperature (undefined: every model is sent one). */
  openai: RemoteProviderSettings & { noTemperature?: RegExp };
  gemini: RemoteProviderSettings;
  timeoutMs: number;
  secretBlocks: boolean;
}

export interface Settings {
  home: string;
  /** publicUrl: the gateway as its clients reach it, the base of the links it returns. */
  http: { host: string; port: number; publicUrl: string; apiKey?: string; bodyLimit: string; sseHeartbeatMs: number; maxStreams: number; allowedHosts?: string };
  prefect: { apiUrl: string; uiUrl: string; deployment: string; pollMs: number; flowLeaseSeconds: number; flowStartSeconds: number; standbyFlowRuns: boolean; spareFlowRuns: number; poolReadSeconds: number };
  redis: { url: string; queuePrefix: string };
  store: { sqlitePath: string; databaseUrl?: string };
  stagesFile: string;
  worker: { concurrency: number; mockDelayMs: number; jobLockMs: number };
  defaultProvider?: z.infer<typeof ProviderName>;
  providers: ProviderSettings;
  logLevel: z.infer<typeof SettingsSchema>["QUIRE_LOG_LEVEL"];
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new InvalidConfig(`environment is not valid:\n  ${lines.join("\n  ")}`);
  }
  const e = parsed.data;
  const prefectBase = `http://127.0.0.1:${e.QUIRE_PREFECT_PORT}`;
  return {
    home: e.QUIRE_HOME,
    http: { host: e.QUIRE_HOST, port: e.QUIRE_PORT, publicUrl: (e.QUIRE_PUBLIC_URL ?? `http://${urlHost(e.QUIRE_HOST)}:${e.QUIRE_PORT}`).replace(/\/+$/, ""), apiKey: e.QUIRE_API_KEY, bodyLimit: e.QUIRE_BODY_LIMIT, sseHeartbeatMs: e.QUIRE_SSE_HEARTBEAT_MS, maxStreams: e.QUIRE_MAX_STREAMS, allowedHosts: e.QUIRE_ALLOWED_HOSTS },
    prefect: {
      apiUrl: e.PREFECT_API_URL ?? `${prefectBase}/api`,
      uiUrl: e.QUIRE_PREFECT_UI_URL ?? prefectBase,
      deployment: e.QUIRE_DEPLOYMENT,
      pollMs: e.QUIRE_POLL_MS,
      flowLeaseSeconds: e.QUIRE_FLOW_LEASE_SECONDS,
      flowStartSeconds: e.QUIRE_FLOW_START_SECONDS,
      standbyFlowRuns: e.QUIRE_STANDBY_FLOW_RUNS === "true",
      spareFlowRuns: e.QUIRE_STANDBY_FLOW_RUNS === "true" ? e.QUIRE_SPARE_FLOW_RUNS : 0,
      poolReadSeconds: e.QUIRE_POOL_READ_SECONDS,
    },
    redis: { url: e.QUIRE_REDIS_URL || `redis://127.0.0.1:${e.QUIRE_REDIS_PORT}`, queuePrefix: e.QUIRE_QUEUE_PREFIX },
    store: { sqlitePath: e.QUIRE_SQLITE_PATH ?? resolve(e.QUIRE_HOME, "quire.db"), databaseUrl: e.DATABASE_URL },
    stagesFile: e.QUIRE_STAGES_FILE,
    worker: { concurrency: e.QUIRE_WORKER_CONCURRENCY, mockDelayMs: e.QUIRE_MOCK_DELAY_MS, jobLockMs: e.QUIRE_JOB_LOCK_MS },
    defaultProvider: e.QUIRE_PROVIDER,
    providers: {
      openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL, model: e.OPENAI_MODEL, concurrency: e.QUIRE_CONCURRENCY_OPENAI, noTemperature: e.OPENAI_NO_TEMPERATURE_MODELS ? new RegExp(e.OPENAI_NO_TEMPERATURE_MODELS) : undefined },
      gemini: { apiKey: e.GEMINI_API_KEY, baseUrl: e.GEMINI_BASE_URL, model: e.GEMINI_MODEL, concurrency: e.QUIRE_CONCURRENCY_GEMINI },
      timeoutMs: e.QUIRE_PROVIDER_TIMEOUT_MS,
      secretBlocks: e.QUIRE_SECRET_BLOCKS === "true",
    },
    logLevel: e.QUIRE_LOG_LEVEL,
  };
}

/** A host as it goes in a URL: an IPv6 address (QUIRE_HOST=::1) in brackets. */
const urlHost = (host: string) => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host);
