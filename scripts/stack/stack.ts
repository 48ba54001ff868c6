import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { loadSettings } from "../../api/config/settings.js";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import { type ChildEnv, ManagedProcess } from "./managedProcess.js";
import { claimLock, recordChild, releaseLock, StackAlreadyRunning, stopOrphans } from "./stackLock.js";
import { httpOk, portInUse, waitFor } from "./waitFor.js";

export { StackAlreadyRunning } from "./stackLock.js";

export interface StackOptions {
  root: string;
  /** State folder: Prefect home, Redis data, the SQLite store, logs. */
  home: string;
  ports: { gateway: number; prefect: number; redis: number };
  agentWorkers?: number;
  prefectWorkers?: number;
  /** Ports of more gateways beside the first (scale-out: they share Redis, Prefect and the store). */
  extraGatewayPorts?: number[];
  /** Extra environment for the gateway and agent workers (e.g. QUIRE_POLL_MS). */
  env?: Record<string, string>;
  /** "warm" (default): flow processes forked from a pre-imported parent (prefect-flows/warm_worker.py); "process": Prefect's stock process worker. */
  prefectWorkerKind?: "warm" | "process";
  say?: (msg: string) => void;
}

/**
 * The whole stack, real from top to bottom: Redis, Prefect server, the work pool and the run-stage
 * deployment, Prefect worker(s), the gateway and agent worker(s). `stop()` may be called at any time,
 * also while `start()` is still waiting, and stops everything started so far; if this process exits
 * without stopping, whatever is left is killed.
 */
export class Stack {
  readonly gatewayUrl: string;
  /** What a client of this gateway sends with each request: the bearer token when QUIRE_API_KEY is set. */
  readonly gatewayHeaders: Record<string, string>;
  readonly prefectApiUrl: string;
  readonly prefectUiUrl: string;
  readonly redisUrl: string;
  readonly home: string;
  readonly processes = new Map<string, ManagedProcess>();
  private readonly readiness = new Map<string, () => Promise<void>>();
  /** Stop order: a higher tier stops first, the processes of one tier together (see stop()). */
  private readonly stopTiers = new Map<string, number>();
  /** The first process that exited on its own while the stack was starting: that start fails, naming it. */
  private startupExit?: string;
  private readonly starting = new Set<string>();
  private started = false;
  private readonly killAll = () => this.processes.forEach((p) => p.killNow());
  private stopped = false;
  private locked = false;

  constructor(private readonly opts: StackOptions) {
    this.home = opts.home;
    this.prefectApiUrl = `http://127.0.0.1:${opts.ports.prefect}/api`;
    this.prefectUiUrl = `http://127.0.0.1:${opts.ports.prefect}`;
    this.redisUrl = process.env.QUIRE_REDIS_URL || `redis://127.0.0.1:${opts.ports.redis}`;
    // The gateway binds QUIRE_HOST; the launcher and its clients reach it there (loopback for "any address").
    const host = opts.env?.QUIRE_HOST ?? process.env.QUIRE_HOST;
    this.gatewayUrl = `http://${!host || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host}:${opts.ports.gateway}`;
    const apiKey = opts.env?.QUIRE_API_KEY ?? process.env.QUIRE_API_KEY;
    this.gatewayHeaders = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  }

  async start(): Promise<void> {
    const say = this.opts.say ?? (() => {});
    const { root, home, ports } = this.opts;
    const quireEnv: Record<string, string> = {
      QUIRE_HOME: home,
      QUIRE_PORT: String(ports.gateway),
      QUIRE_PREFECT_PORT: String(ports.prefect),
      PREFECT_API_URL: this.prefectApiUrl,
      QUIRE_REDIS_URL: this.redisUrl,
      ...this.opts.env,
    };
    checkConfig(root, { ...process.env, ...quireEnv }); // as the gateway and agent workers will see it
    mkdirSync(home, { recursive: true });
    const orphans = claimLock(home, ports, say);
    this.locked = true;
    await stopOrphans(orphans, say);
    process.once("exit", this.killAll);
    const bin = (name: string) => join(root, ".venv", "bin", name);
    const prefectEnv: ChildEnv = {
      ...GATEWAY_SECRETS_UNSET,
      PREFECT_HOME: join(home, "prefect"),
      PREFECT_API_URL: this.prefectApiUrl,
      PREFECT_SERVER_ANALYTICS_ENABLED: "false",
      PREFECT_API_SERVICES_FLOW_RUN_NOTIFICATIONS_ENABLED: "false",
      PREFECT_CLI_PROMPT: "false",
      PREFECT_WORKER_QUERY_SECONDS: "0.5",
      PREFECT_WORKER_PREFETCH_SECONDS: "5",
      // Prefect answers any page's request by default (CORS "*"), and its API can run commands on the
      // worker's host: only the UI's own origins (docs/security.md).
      PREFECT_SERVER_CORS_ALLOWED_ORIGINS: prefectUiOrigins(ports.prefect),
      // The server does not check CSRF tokens (PREFECT_SERVER_CSRF_PROTECTION_ENABLED is off by default);
      // without this, every Prefect client (two per flow run) first asks the server for one anyway.
      PREFECT_CLIENT_CSRF_SUPPORT_ENABLED: "false",
      QUIRE_ROOT: root,
      QUIRE_REDIS_URL: this.redisUrl,
      // Quire settings given to this stack reach every process, so the flows name Redis and leases as the gateway does.
      ...Object.fromEntries(Object.entries(this.opts.env ?? {}).filter(([k]) => k.startsWith("QUIRE_") && !(k in GATEWAY_SECRETS_UNSET))),
    };
    try {
      await assertPortsFree(process.env.QUIRE_REDIS_URL ? { gateway: ports.gateway, prefect: ports.prefect } : ports);
      const waits: Promise<void>[] = [];
      if (!process.env.QUIRE_REDIS_URL) {
        mkdirSync(join(home, "redis"), { recursive: true });
        // Append-only file with fsync every second: a restarted Redis keeps its queued jobs.
        const args = ["--port", String(ports.redis), "--bind", "127.0.0.1", "--dir", join(home, "redis"), "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""];
        const redis = this.define("redis", STOP_TIER.redis, "redis-server", args, GATEWAY_SECRETS_UNSET, (p) =>
          waitFor("redis", async () => (await execa("redis-cli", ["-p", String(ports.redis), "ping"], { reject: false })).stdout === "PONG", { timeoutMs: 20_000, failFast: this.failFast(p) }),
        );
        say(`starting Redis on ${ports.redis}`);
        waits.push(this.launch(redis));
      }
      // What `prefect server start` runs, minus its port check: that check binds without SO_REUSEADDR,
      // so after a crash it refuses the port for a minute (connections in TIME_WAIT); uvicorn does not.
      const serverArgs = ["-m", "uvicorn", "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", String(ports.prefect), "--timeout-keep-alive", "5"];
      const server = this.define("prefect-server", STOP_TIER.prefectServer, bin("python"), serverArgs, prefectEnv, (p) =>
        waitFor("Prefect server", () => httpOk(`${this.prefectApiUrl}/health`), { timeoutMs: 120_000, intervalMs: 500, failFast: this.failFast(p) }),
      );
      say(`starting Prefect server on ${ports.prefect} (home ${prefectEnv.PREFECT_HOME})`);
      waits.push(this.launch(server));
      await Promise.all(waits);

      say("creating work pool 'quire' and deploying run-stage/quire from prefect.yaml");
      await ensureWorkPool(bin("prefect"), this.prefectApiUrl, prefectEnv, root);
      const deploy = execa(bin("prefect"), ["--no-prompt", "deploy", "--all"], { cwd: root, env: prefectEnv, reject: false, all: true });
      for (let i = 1; i <= (this.opts.prefectWorkers ?? 1); i++) {
        const name = `prefect-worker-${i}`;
        const workerName = `${name}-${ports.prefect}`;
        const [command, args] =
          this.opts.prefectWorkerKind === "process"
            ? [bin("prefect"), ["worker", "start", "--pool", "quire", "--type", "process", "--name", workerName]]
            : [bin("python"), [join(root, "prefect-flows", "warm_worker.py"), "--pool", "quire", "--name", workerName]];
        await this.launch(this.define(name, STOP_TIER.prefectWorkers, command, args, prefectEnv));
      }
      const nodeArgs = (entry: string) => ["--import", "tsx", join(root, entry)];
      say(`starting the gateway on ${ports.gateway}`);
      await this.launch(this.define("gateway", STOP_TIER.clients, process.execPath, nodeArgs("api/main.ts"), quireEnv, (p) => waitFor("gateway", () => httpOk(`${this.gatewayUrl}/openapi.json`), { timeoutMs: 60_000, failFast: this.failFast(p) })));
      for (const [i, port] of (this.opts.extraGatewayPorts ?? []).entries()) {
        const url = `http://127.0.0.1:${port}`;
        await this.launch(this.define(`gateway-${i + 2}`, STOP_TIER.clients, process.execPath, nodeArgs("api/main.ts"), { ...quireEnv, QUIRE_PORT: String(port) }, (p) => waitFor(`gateway-${i + 2}`, () => httpOk(`${url}/openapi.json`), { timeoutMs: 60_000, failFast: this.failFast(p) })));
      }
      for (let i = 1; i <= (this.opts.agentWorkers ?? 1); i++) {
        await this.launch(this.define(`agent-worker-${i}`, STOP_TIER.clients, process.execPath, nodeArgs("workers/main.ts"), quireEnv));
      }
      const deployed = await deploy;
      if (deployed.exitCode !== 0) throw new Error(`prefect deploy failed:\n${deployed.all?.slice(-3000)}`);
      say("waiting for /health (Prefect and its worker, Redis, store, agent workers)");
      // The last answer (a 503 names the failing check) is in the timeout's message.
      // With the key, if set: only then does /health name a failing check's reason.
      await waitFor(`stack health (logs in ${join(home, "logs")})`, () => httpOk(`${this.gatewayUrl}/health`, this.gatewayHeaders), { timeoutMs: 60_000, intervalMs: 500, failFast: this.failFast() });
      if (this.stopped) throw new Error("the stack was stopped while starting");
      if (this.startupExit) throw new Error(this.startupExit);
      this.started = true;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Starts (again) one of the stack's processes, e.g. after a test killed it, and waits until it is ready. */
  async restart(name: string): Promise<void> {
    const p = this.processes.get(name);
    if (!p) throw new Error(`no process ${name}`);
    if (p.running) await p.stop();
    await this.launch(p);
    await this.readiness.get(name)!(); // also when the supervisor started it first
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Clients first, then the services they talk to; one tier at a time, its processes together.
    const tiers = [...new Set(this.stopTiers.values())].sort((a, b) => b - a);
    for (const tier of tiers) {
      const group = [...this.processes.values()].filter((p) => this.stopTiers.get(p.name) === tier && p.running);
      if (!group.length) continue;
      this.opts.say?.(`stopping ${group.map((p) => p.name).join(", ")} (SIGTERM; SIGKILL after 10 s)`);
      await Promise.all(group.map((p) => p.stop()));
    }
    if (this.locked) releaseLock(this.opts.home);
    this.locked = false;
    process.removeListener("exit", this.killAll);
  }

  private define(name: string, stopTier: number, command: string, args: string[], env: ChildEnv, ready?: (p: ManagedProcess) => Promise<void>): ManagedProcess {
    const p = new ManagedProcess(name, command, args, { cwd: this.opts.root, env, logDir: join(this.opts.home, "logs") });
    p.onExit((why) => this.supervise(p, why));
    this.processes.set(name, p);
    this.stopTiers.set(name, stopTier);
    this.readiness.set(name, () => ready?.(p) ?? Promise.resolve());
    return p;
  }

  private async launch(p: ManagedProcess): Promise<void> {
    if (this.stopped) throw new Error("the stack was stopped while starting");
    if (p.running || this.starting.has(p.name)) return;
    this.starting.add(p.name);
    try {
      p.start();
      if (p.pid) recordChild(this.opts.home, p.name, p.pid);
    } finally {
      this.starting.delete(p.name);
    }
    await this.readiness.get(p.name)!();
  }

  /**
   * Once the stack is up, a process that exits on its own (crashed, killed, or a Prefect worker that
   * gave up while the server was away) is started again, after a short pause, like a process manager would.
   * During start-up such an exit is a broken installation or setting: start() fails, naming it, instead
   * of a stack that looks healthy without (say) its Prefect worker, which nothing else would notice.
   */
  private supervise(p: ManagedProcess, why: string): void {
    if (this.stopped) return;
    if (!this.started) {
      this.startupExit ??= `${p.name} ${why} during start-up; see ${p.logFile}${logTail(p.logFile)}`;
      return;
    }
    this.opts.say?.(`${p.name} ${why}; starting it again`);
    setTimeout(() => {
      if (!this.stopped) this.launch(p).catch((err) => this.opts.say?.(`could not restart ${p.name}: ${(err as Error).message}`));
    }, 1000);
  }

  /** For waitFor: a process that exited during start-up, or `p` (also when restarted later) not running. */
  private failFast(p?: ManagedProcess): () => string | undefined {
    return () => this.startupExit ?? (!p || p.running ? undefined : `${p.name} ${p.exitDescription || "stopped"}; see ${p.logFile}`);
  }
}

/**
 * Who talks to whom decides the stop order. Gateways and agent workers first: no gateway may see the
 * Prefect workers' flow runs end as they stop and start new attempts. Then the Prefect workers, which report
 * their flow runs Crashed to the Prefect server while their flow processes write their last words to Redis.
 * Then the Prefect server, and Redis last.
 */
const STOP_TIER = { clients: 3, prefectWorkers: 2, prefectServer: 1, redis: 0 } as const;

/** The last lines of a log, for a start-up failure's message. */
function logTail(file: string, lines = 8): string {
  try {
    const tail = readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines);
    return tail.length && tail[0] ? `; its last lines:\n    ${tail.join("\n    ")}` : "";
  } catch {
    return "";
  }
}

/**
 * What the gateway and agent workers will read at start-up, read first: a mistake in a QUIRE_* setting or
 * in the stage graph is one message naming it (the file, line and field), before anything starts, not a
 * process that exits half a minute later.
 */
function checkConfig(root: string, env: NodeJS.ProcessEnv): void {
  const { stagesFile } = loadSettings(env);
  loadStageGraph(resolve(root, stagesFile));
}

/** The origins the Prefect UI is opened from: the only pages whose requests its API answers. */
const prefectUiOrigins = (port: number) => `http://127.0.0.1:${port},http://localhost:${port}`;

/**
 * What only the gateway and agent workers read: kept out of Redis, the Prefect server and its workers
 * (and so the flow processes, and whatever a flow run's command runs). Unset, not merely not given:
 * children inherit the launcher's environment.
 */
export const GATEWAY_SECRETS_UNSET: ChildEnv = { OPENAI_API_KEY: undefined, GEMINI_API_KEY: undefined, QUIRE_API_KEY: undefined, DATABASE_URL: undefined };

async function ensureWorkPool(prefect: string, apiUrl: string, env: ChildEnv, cwd: string) {
  const res = await fetch(`${apiUrl}/work_pools/quire`);
  if (res.ok) return;
  const created = await execa(prefect, ["work-pool", "create", "quire", "--type", "process"], { cwd, env, reject: false, all: true });
  if (created.exitCode !== 0 && !/already exists/i.test(created.all ?? "")) throw new Error(`could not create work pool quire:\n${created.all}`);
}

/** Refuses ports that something else already listens on, naming the variable to change. */
async function assertPortsFree(ports: Partial<StackOptions["ports"]>): Promise<void> {
  const names = { gateway: "QUIRE_PORT", prefect: "QUIRE_PREFECT_PORT", redis: "QUIRE_REDIS_PORT" } as const;
  for (const [key, port] of Object.entries(ports) as [keyof typeof names, number][]) {
    if (await portInUse(port)) throw new StackAlreadyRunning(`port ${port} (${names[key]}) is already in use; stop what uses it or set ${names[key]} to another port`);
  }
}
