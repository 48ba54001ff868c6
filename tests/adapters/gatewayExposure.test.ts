import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { allowedHostsFor } from "../../api/http/requestSource.js";
import { gatewayAppsOnOneStore } from "./gatewayApp.js";

// Who may reach the gateway from a browser (docs/security.md): the real app and store.
const apps = gatewayAppsOnOneStore();
const start = apps.start;

/** node:http, because fetch does not let a caller choose the Host header. */
function send(base: string, path: string, headers: Record<string, string>, method = "GET", body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
const submit = JSON.stringify({ idea: { premise: "Habits compound" } });

describe("a gateway bound to a loopback address", () => {
  it("answers a Host naming this machine or QUIRE_PUBLIC_URL's host, and 403 forbidden for any other (DNS rebinding)", async () => {
    const { base } = await start();
    const port = new URL(base).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, "gw.example"]) {
      expect((await send(base, "/orchestrator/runs", { host })).status, host).toBe(200);
    }
    for (const host of [`attacker.example:${port}`, "127.0.0.1.attacker.example", "localhost.attacker.example"]) {
      const res = await send(base, "/orchestrator/runs", { host });
      expect(res.status, host).toBe(403);
      expect(JSON.parse(res.body).error.code).toBe("forbidden");
    }
    // Also for the open routes: a rebinding page would read /health.
    expect((await send(base, "/health", { host: "attacker.example" })).status).toBe(403);
  });
});

describe("a gateway bound to every address (0.0.0.0)", () => {
  it("answers any Host by default (the operator put it on a network), and only those of QUIRE_ALLOWED_HOSTS when set", async () => {
    const anyHost = await start({ allowedHosts: allowedHostsFor("0.0.0.0", "http://0.0.0.0:8080") });
    expect((await send(anyHost.base, "/orchestrator/runs", { host: "books.internal:8080" })).status).toBe(200);
    // docker-compose.yml: bound to 0.0.0.0 in its container, reached through a port published on the host's
    // loopback, and by the other containers by its service name.
    const listed = await start({ allowedHosts: allowedHostsFor("0.0.0.0", "http://localhost:8080", "gateway") });
    for (const host of ["localhost:8080", "127.0.0.1:8080", "gateway:8080"]) expect((await send(listed.base, "/orchestrator/runs", { host })).status, host).toBe(200);
    expect((await send(listed.base, "/orchestrator/runs", { host: "attacker.example" })).status).toBe(403);
    // A list never shuts out this machine's own names: the launcher waits for /health on 127.0.0.1.
    expect(allowedHostsFor("127.0.0.1", "http://127.0.0.1:8080", "books.example")).toEqual(expect.arrayContaining(["127.0.0.1", "localhost", "books.example"]));
    expect(allowedHostsFor("127.0.0.1", "http://x", "*")).toBeUndefined();
  });
});

describe("a command from a page of another origin", () => {
  it("is refused with 403 and stores nothing; the gateway's own origin and clients without Origin go through", async () => {
    const { base } = await start({ allowedHosts: undefined });
    const before = (await apps.store.listRuns({ limit: 100 })).length;
    for (const origin of ["http://evil.example", "null", `${base}.evil.example`]) {
      const res = await send(base, "/orchestrator/run", { "content-type": "application/json", origin }, "POST", submit);
      expect(res.status, origin).toBe(403);
      expect(JSON.parse(res.body).error.message).toContain("another origin");
    }
    // A cross-site form posts an empty body: refused all the same.
    expect((await send(base, "/orchestrator/runs/x/pause", { "content-type": "application/x-www-form-urlencoded", "content-length": "0", origin: "http://evil.example" }, "POST")).status).toBe(403);
    expect((await apps.store.listRuns({ limit: 100 })).length).toBe(before);
    // Reading stays open to any origin: without CORS headers a browser does not hand the answer to the page.
    expect((await send(base, "/orchestrator/runs", { origin: "http://evil.example" })).status).toBe(200);
    expect((await send(base, "/orchestrator/run", { "content-type": "application/json", origin: base }, "POST", submit)).status).toBe(202);
    expect((await send(base, "/orchestrator/run", { "content-type": "application/json", origin: "http://gw.example" }, "POST", submit)).status).toBe(202);
    expect((await send(base, "/orchestrator/run", { "content-type": "application/json" }, "POST", submit)).status).toBe(202);
    expect((await apps.store.listRuns({ limit: 100 })).length).toBe(before + 3);
  });
});
