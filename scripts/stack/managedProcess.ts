import type { ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa, type Options, type ResultPromise } from "execa";

/**
 * A child process of the stack, in its own process group (so stopping it also stops what it spawned,
 * e.g. the flow runs of a Prefect worker), with its output appended to <logDir>/<name>.log.
 */
/** A child's environment on top of the launcher's: a variable set to undefined is taken out of it. */
export type ChildEnv = Record<string, string | undefined>;

export class ManagedProcess {
  readonly logFile: string;
  private child?: ChildProcess;
  private exit: Promise<void> = Promise.resolve();
  private exited = false;
  private exitInfo = "";
  private stopping = false;
  private readonly exitHandlers: ((description: string) => void)[] = [];

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly opts: { cwd: string; env: ChildEnv; logDir: string },
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
    // The child writes to the log file itself. Given `{file}`, execa passes the output through this
    // process and keeps a copy of it, up to 100 MB a stream, then cuts the child's pipe: the launcher
    // grew by as much as its children logged, and a chatty Prefect server's log stopped after ~30 min.
    // (execa's types list file descriptors up to 9 only; it hands any to Node's spawn.)
    const log = openSync(this.logFile, "a") as 3;
    const options: Options = { cwd: this.opts.cwd, env: this.opts.env, extendEnv: true, detached: true, cleanup: false, stdin: "ignore", stdout: log, stderr: log, reject: false };
    let child: ResultPromise;
    try {
      child = execa(this.command, this.args, options);
    } finally {
      closeSync(log); // the child has its own copy
    }
    this.child = child;
    this.exit = new Promise((resolve) => {
      const exited = (description: string) => {
        if (this.child !== child || this.exited) return resolve();
        this.exited = true;
        this.exitInfo = description;
        if (!this.stopping) this.exitHandlers.forEach((h) => h(description));
        resolve();
      };
      // The process's own exit; execa's result also says when it could not start at all.
      child.once("exit", (code, signal) => exited(signal ? `killed by ${signal}` : `exited with code ${code}`));
      void child.then((r) => exited(r.signal ? `killed by ${r.signal}` : r.failed && r.exitCode === undefined ? `could not start: ${r.message}` : `exited with code ${r.exitCode}`));
    });
    return this;
  }

  /** Sends a signal to the whole process group (what is left of it, once the process itself has exited). */
  signal(sig: NodeJS.Signals): void {
    if (!this.child?.pid) return;
    try {
      process.kill(-this.child.pid, sig);
    } catch {
      // Already gone.
    }
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. The SIGTERM goes to the
   * whole group, or with `mainOnly` to the process alone, as `docker compose stop` sends it.
   */
  async stop(graceMs = 10_000, { mainOnly = false } = {}): Promise<void> {
    this.stopping = true;
    if (!this.child || this.exited) return;
    const deadline = Date.now() + graceMs;
    if (mainOnly) process.kill(this.child.pid!, "SIGTERM"); // not execa's kill(): it sends its own SIGKILL 5 s later
    else this.signal("SIGTERM");
    const killer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await this.exit;
    clearTimeout(killer);
    // What is left of the group (a Prefect worker's flow processes) got the SIGTERM too: let it say its
    // last words (prefect-flows/termination.py: a flow process writes `stopped` in its lease, a waiting one
    // takes itself out of the hand-over) before the SIGKILL, or a stack started again at once would wait a
    // lease period for it, or hand a stage to a flow process that is gone.
    while (this.groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.signal("SIGKILL");
  }

  /** Whether anything of the process group still runs; zombies (an init that does not reap them) do not count. */
  private groupAlive(): boolean {
    const group = this.child?.pid;
    if (!group) return false;
    try {
      process.kill(-group, 0);
    } catch {
      return false;
    }
    if (!existsSync("/proc")) return true;
    return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).some((pid) => {
      try {
        // /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces or parentheses.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return Number(pgrp) === group && state !== "Z";
      } catch {
        return false;
      }
    });
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    this.stopping = true;
    this.signal("SIGKILL");
  }
}
