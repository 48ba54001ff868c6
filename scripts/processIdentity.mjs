// Whether a pid recorded earlier is still that process. Plain JavaScript: the set-up uses it before
// node_modules (and so tsx) exists; the stack's launcher imports it too.
import { readFileSync } from "node:fs";

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined where there is no /proc. */
export function processStartTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After "pid (comm) ", whose comm may hold spaces: state is field 3, starttime field 22.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is alive and, when its start time was recorded, is the same process (a reused pid is
 * another one). A process of another user (EPERM) counts as alive.
 */
export function sameProcessAlive(pid, startedAt) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code !== "EPERM") return false;
  }
  const now = processStartTime(pid);
  return !startedAt || !now || now === startedAt;
}
