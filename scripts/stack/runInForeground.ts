import { Stack, StackAlreadyRunning, type StackOptions } from "./stack.js";

/**
 * Starts the stack for a command-line script and stops it on Ctrl-C, SIGTERM or a closed terminal (also
 * during start-up) or when `body` finishes. Prints a clear message and exits 1 when something fails;
 * otherwise with the `process.exitCode` that `body` set (e.g. the demo's book failed).
 */
export async function runInForeground(options: () => StackOptions, body: (stack: Stack) => Promise<"stop" | "keep">): Promise<void> {
  let stack: Stack;
  try {
    // Inside the try: a bad setting (QUIRE_PORT=abc) is a one-line message, not a stack trace.
    stack = new Stack(options());
  } catch (err) {
    console.error(`failed: ${(err as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if ([...stack.processes.values()].some((p) => p.running)) console.log("\nstopping the stack ...");
    await stack.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(130));
  process.on("SIGTERM", () => void stop(143));
  // A closed terminal: the stack's processes run in process groups of their own, so without this they
  // would outlive it. What we print from here on goes nowhere; a write error must not cut the stop short.
  process.on("SIGHUP", () => {
    for (const out of [process.stdout, process.stderr]) out.on("error", () => {});
    void stop(129);
  });
  try {
    await stack.start();
    if ((await body(stack)) === "stop") await stop(Number(process.exitCode ?? 0));
  } catch (err) {
    if (stopping) return;
    console.error(`\n${err instanceof StackAlreadyRunning ? "" : "failed: "}${(err as Error).message}`);
    await stop(1);
  }
}
