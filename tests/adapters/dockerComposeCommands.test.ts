import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// Without a Docker engine here, the containers' shell commands are at least parsed by a real sh, as
// the containers' own would (a folded YAML line that starts with "&&" keeps its line break).
const compose = parse(readFileSync(resolve(import.meta.dirname, "../../docker-compose.yml"), "utf8"), { merge: true });

describe("docker-compose.yml's shell commands", () => {
  const commands = Object.entries(compose.services as Record<string, { command?: unknown }>).filter(([, s]) => typeof s.command === "string" && s.command.startsWith("sh -c "));

  it("are there to check", () => {
    expect(commands.map(([name]) => name).sort()).toEqual(["agent-worker", "gateway", "prefect-server", "prefect-worker"]);
  });

  for (const [name, service] of commands) {
    it(`parse in sh: ${name}`, () => {
      // An outer sh reads the quoting as compose's container would; the inner one only parses (-n).
      const check = spawnSync("sh", ["-c", (service.command as string).replace(/^sh -c /, "sh -n -c ")], { encoding: "utf8" });
      expect(check.stderr).toBe("");
      expect(check.status).toBe(0);
    });
  }
});
