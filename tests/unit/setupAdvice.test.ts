import { describe, expect, it } from "vitest";
import { aptLockBusy } from "../../scripts/setup/debian.mjs";
import { packagesBeyondPins } from "../../scripts/setup/pythonVenv.mjs";
import { adviceFor } from "../../scripts/setup/report.mjs";

// The set-up's advice is chosen from what the failed install printed.
describe("what the set-up advises after a failed install", () => {
  const otherwise = "read the messages";

  it("names a full disk, a place this user may not write, a stop and an index out of reach, before the generic advice", () => {
    expect(adviceFor("npm warn tar TAR_ENTRY_ERROR ENOSPC: no space left on device, write", { otherwise })).toContain("the disk is full");
    expect(adviceFor("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device", { otherwise })).toContain("the disk is full");
    expect(adviceFor("ERROR: [Errno 13] Permission denied: '/x/.venv/lib/RECORD'. Check the permissions.", { otherwise })).toContain("may not write");
    expect(adviceFor("npm error code EACCES", { otherwise })).toContain("may not write");
    expect(adviceFor("", { stopped: true, otherwise })).toContain("stopped (Ctrl-C, or out of memory?)");
    expect(adviceFor("npm error code ETIMEDOUT", { otherwise })).toContain("not reachable");
    expect(adviceFor("WARNING: Retrying ... NewConnectionError('Failed to establish a new connection')", { otherwise })).toContain("not reachable");
    expect(adviceFor("gyp ERR! build error", { otherwise })).toBe(otherwise);
    // A full disk is what to fix even when a build step is what broke on it.
    expect(adviceFor("gyp ERR! stack Error: ENOSPC", { otherwise })).toContain("the disk is full");
  });

  it("knows apt's lock messages (apt-get update does not wait for its lock by itself)", () => {
    expect(aptLockBusy("E: Could not get lock /var/lib/apt/lists/lock. It is held by process 123 (apt-get)")).toBe(true);
    expect(aptLockBusy("E: Unable to lock directory /var/lib/apt/lists/")).toBe(true);
    expect(aptLockBusy("E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease")).toBe(false);
  });
});

describe("the Python packages no pin names", () => {
  it("are found by their normalised names (one installed from a file too), leaving pip's own tools alone", () => {
    const pins = "# a comment\nasyncpg==0.31.0\nPyYAML==6.0.2\nzope.interface==7.0\nbullmq==2.9.0\n";
    const freeze = "asyncpg==0.31.0\npyyaml==6.0.2\nzope-interface==7.0\nbullmq==2.9.0\nhumanize==4.10.0\nsetuptools==65.5.0\nmy_tool @ file:///tmp/my_tool\n";
    expect(packagesBeyondPins(freeze, pins)).toEqual(["humanize", "my_tool"]);
    expect(packagesBeyondPins("asyncpg==0.31.0\n", pins)).toEqual([]);
  });
});
