import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const compose = parse(readFileSync(resolve(import.meta.dirname, "../../docker-compose.yml"), "utf8"), { merge: true });
const env = (service: string): Record<string, string | null> => compose.services[service].environment;

describe("docker-compose.yml", () => {
  it("gives the Python and the Node containers the same settings where both sides must agree", () => {
    for (const key of ["QUIRE_QUEUE_PREFIX", "QUIRE_FLOW_LEASE_SECONDS", "QUIRE_REDIS_URL", "PREFECT_API_URL"]) {
      const values = ["prefect-worker", "gateway", "agent-worker"].map((service) => env(service)[key]);
      expect({ key, values }).toEqual({ key, values: values.map(() => values[0]) });
      expect(values[0]).toBeTruthy();
    }
  });

  it("passes the provider settings from the user's shell to the gateway and the agent workers", () => {
    for (const service of ["gateway", "agent-worker"]) {
      for (const key of ["OPENAI_API_KEY", "GEMINI_API_KEY", "OPENAI_MODEL", "GEMINI_MODEL", "QUIRE_PROVIDER"]) {
        expect(env(service)).toHaveProperty(key, null);
      }
    }
  });

  it("publishes the gateway and Prefect on the host's loopback only, and lets only their own names and pages in", () => {
    expect(compose.services.gateway.ports).toEqual(["127.0.0.1:8080:8080"]);
    expect(compose.services["prefect-server"].ports).toEqual(["127.0.0.1:4200:4200"]);
    for (const service of ["redis", "prefect-worker", "agent-worker"]) expect(compose.services[service].ports, service).toBeUndefined();
    expect(env("gateway").QUIRE_ALLOWED_HOSTS).toBe("gateway"); // and, always, localhost and 127.0.0.1
    expect(env("prefect-server").PREFECT_SERVER_CORS_ALLOWED_ORIGINS).toBe("http://localhost:4200,http://127.0.0.1:4200");
  });
});
