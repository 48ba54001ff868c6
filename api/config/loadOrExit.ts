import { InvalidConfig } from "../errors.js";

/**
 * Runs a start-up load (settings, the stage graph). A mistake in them is printed as its message alone and
 * the process exits 1: the message names the variable, or the file, line and field, and a stack trace
 * printed after it would push it out of the launcher's view of the log's last lines.
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof InvalidConfig)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}
