import { describe, expect, it } from "vitest";
import { gatewayAppsOnOneStore } from "./gatewayApp.js";

// The gateway's bearer token (QUIRE_API_KEY), on the real app and store.
const KEY = "quire-test-key-0123";
const apps = gatewayAppsOnOneStore();
const gateway = async (apiKey?: string) => (await apps.start({ apiKey })).call;

describe("a gateway with QUIRE_API_KEY set", () => {
  it("answers 401 unauthorized without the token or with a wrong one, and serves the request with it", async () => {
    const call = await gateway(KEY);
    for (const authorization of [undefined, "Bearer wrong-key-0123456", `Bearer ${KEY}x`, KEY, "Bearer", `Basic ${KEY}`]) {
      const res = await call("/orchestrator/runs", { headers: authorization ? { authorization } : {} });
      expect(res.status, String(authorization)).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
    // The scheme's name is case-insensitive (RFC 7235).
    for (const authorization of [`Bearer ${KEY}`, `bearer ${KEY}`, `BEARER ${KEY}`]) {
      expect((await call("/orchestrator/runs", { headers: { authorization } })).status, authorization).toBe(200);
    }
  });

  it("checks the token before reading a body: a caller without it gets 401 for an oversized or broken one", async () => {
    const call = await gateway(KEY);
    const headers = { "content-type": "application/json" };
    for (const body of ["x".repeat(300_000), "{bad", JSON.stringify({ idea: { premise: "x" } })]) {
      const res = await call("/orchestrator/run", { method: "POST", headers, body });
      expect(res.status, body.slice(0, 10)).toBe(401);
    }
    // With the token, the same oversized body is the parser's 413.
    expect((await call("/orchestrator/run", { method: "POST", headers: { ...headers, authorization: `Bearer ${KEY}` }, body: "x".repeat(300_000) })).status).toBe(413);
  });

  it("names a failing /health check's reason only to a caller with the token", async () => {
    const app = await apps.start({ apiKey: KEY, healthChecks: [{ name: "store", check: async () => Promise.reject(new Error("connect ECONNREFUSED 10.0.0.5:5432")) }] });
    const open = await app.call("/health");
    expect(open.status).toBe(503);
    const openBody = await open.text();
    expect(openBody).not.toContain("10.0.0.5");
    expect(JSON.parse(openBody).checks.store).toMatch(/^failing/);
    const keyed = await app.call("/health", { headers: { authorization: `Bearer ${KEY}` } });
    expect(((await keyed.json()) as { checks: Record<string, string> }).checks.store).toContain("ECONNREFUSED 10.0.0.5:5432");
  });

  it("declares the bearer scheme in its OpenAPI document, /health excepted", async () => {
    const call = await gateway(KEY);
    const doc = (await (await call("/openapi.json")).json()) as { security?: unknown; components: { securitySchemes?: Record<string, { scheme: string }> }; paths: Record<string, { get?: { security?: unknown } }> };
    expect(doc.components.securitySchemes?.bearerAuth?.scheme).toBe("bearer");
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/health"]?.get?.security).toEqual([]);
  });

  it("stores nothing for a submission without the token", async () => {
    const call = await gateway(KEY);
    const body = JSON.stringify({ idea: { premise: "Habits compound" } });
    const res = await call("/orchestrator/run", { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(401);
    expect(await apps.store.listRuns({ limit: 10 })).toEqual([]);
  });

  it("leaves /health, /openapi.json, /metrics and /dashboard open", async () => {
    const call = await gateway(KEY);
    for (const path of ["/health", "/openapi.json", "/metrics", "/dashboard"]) expect((await call(path)).status, path).toBe(200);
  });
});

describe("a gateway without QUIRE_API_KEY", () => {
  it("asks for no token, and declares none", async () => {
    const call = await gateway();
    expect((await call("/orchestrator/runs")).status).toBe(200);
    const doc = (await (await call("/openapi.json")).json()) as { security?: unknown; components: { securitySchemes?: unknown } };
    expect(doc.security).toBeUndefined();
    expect(doc.components.securitySchemes).toBeUndefined();
  });
});
