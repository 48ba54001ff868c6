import { Stack, StackAlreadyRunning, type StackOptions } from "./stack.js";

/**
 * Starts the stack for a command-line script and stops it on Ctrl-C (also during start-up) or when
 * `body` finishes. Prints a clear message and exits 1 when something fails.
 */
export async function runInForeground(opts: StackOptions, body: (stack: Stack) => Promise<"stop" | "keep">): Promise<void> {
  const stack = new Stack(opts);
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping the stack ...");
    await stack.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(130));
  process.on("SIGTERM", () => void stop(143));
  try {
    await stack.start();
    if ((await body(stack)) === "stop") await stop(0);
  } catch (err) {
    if (stopping) return;
    console.error(`\n${err instanceof StackAlreadyRunning ? "" : "failed: "}${(err as Error).message}`);
    await stop(1);
  }
}
