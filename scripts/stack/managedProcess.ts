import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";

type Child = { pid?: number } & PromiseLike<{ signal?: string; exitCode?: number }>;

/**
 * A child process of the stack, in its own process group (so stopping it also stops what it spawned,
 * e.g. the flow runs of a Prefect worker), with its output appended to <logDir>/<name>.log.
 */
export class ManagedProcess {
  readonly logFile: string;
  private child?: Child;
  private exited = false;
  private exitInfo = "";
  private stopping = false;
  private readonly exitHandlers: ((description: string) => void)[] = [];

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly opts: { cwd: string; env: Record<string, string>; logDir: string },
  ) {
    mkdirSync(opts.logDir, { recursive: true });
    this.logFile = join(opts.logDir, `${name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return Boolean(this.child) && !this.exited;
  }

  /** Why it stopped, for an error message when a process dies during start-up. */
  get exitDescription(): string {
    return this.exitInfo;
  }

  /** Called when the process exits on its own (not through stop()). */
  onExit(handler: (description: string) => void): void {
    this.exitHandlers.push(handler);
  }

  start(): this {
    this.exited = false;
    this.stopping = false;
    const child: Child = execa(this.command, this.args, {
      cwd: this.opts.cwd,
      env: this.opts.env,
      extendEnv: true,
      detached: true,
      cleanup: false,
      stdin: "ignore",
      stdout: { file: this.logFile, append: true },
      stderr: { file: this.logFile, append: true },
      reject: false,
    });
    this.child = child;
    void child.then((r) => {
      this.exited = true;
      this.exitInfo = r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`;
      if (!this.stopping) this.exitHandlers.forEach((h) => h(this.exitInfo));
    });
    return this;
  }

  /** Sends a signal to the whole process group. */
  signal(sig: NodeJS.Signals): void {
    if (!this.child?.pid || this.exited) return;
    try {
      process.kill(-this.child.pid, sig);
    } catch {
      // Already gone.
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (!this.child || this.exited) return;
    this.signal("SIGTERM");
    const killer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await this.child;
    clearTimeout(killer);
    this.signal("SIGKILL"); // anything left in the group (e.g. a flow run the worker spawned)
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    this.stopping = true;
    this.signal("SIGKILL");
  }
}
