import express, { type Request, type RequestHandler } from "express";
import type { Logger } from "pino";
import type { StageGraph } from "../config/stageGraph.js";
import { Unauthorized, UnsupportedMediaType } from "../errors.js";
import { providerAndModel } from "../runs/stagePlan.js";
import { errorMiddleware, notFoundHandler } from "./errorMiddleware.js";
import { type HealthCheck, type HealthReport, runHealthChecks } from "./healthChecks.js";
import { requestSourceGuard } from "./requestSource.js";
import { buildOpenApiDocument } from "./openApiDocument.js";
import { IMPORT_PATH, JSON_TYPES, runRoutes, type RunRoutesDeps } from "./runRoutes.js";
import { eventRoutes, type EventRoutesDeps } from "./eventRoutes.js";
import type { GatewayMetrics } from "./metrics.js";
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

const dashboardHtml = readFileSync(new URL("./dashboard.html", import.meta.url), "utf8");

export interface AppDeps extends RunRoutesDeps, EventRoutesDeps {
  metrics: GatewayMetrics;
  graph: StageGraph;
  healthChecks: HealthCheck[];
  log: Logger;
  apiKey?: string;
  bodyLimit: string;
  /** The Host names answered (undefined: any): requestSource.ts. */
  allowedHosts?: string[];
}

/** The Express app: routes, validation, auth, and the one error mapping. No listening, no I/O of its own. */
export function createApp(deps: AppDeps) {
  const app = express();
  app.disable("x-powered-by");
  app.use(requestSourceGuard({ allowedHosts: deps.allowedHosts, publicUrl: deps.links.gatewayUrl }));
  const authorized = deps.apiKey ? bearerCheck(deps.apiKey) : () => true;

  app.get("/health", async (req, res) => {
    const report = await runHealthChecks(deps.healthChecks);
    // Open to all, but a failing check's message (a database's host, say) only for callers with the key.
    res.status(report.status === "ok" ? 200 : 503).json(authorized(req) ? report : withoutDetails(report));
  });
  app.get("/openapi.json", (_req, res) => {
    res.json(buildOpenApiDocument(deps.links.gatewayUrl, { bearerAuth: Boolean(deps.apiKey) }));
  });
  app.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.get("/dashboard", (_req, res) => {
    res.type("html").send(dashboardHtml);
  });
  // The key before any body is read: a caller without it gets its 401, not a parse of what it sent.
  app.use((req, _res, next) => {
    if (!authorized(req)) throw new Unauthorized("missing or wrong bearer token (Authorization: Bearer <QUIRE_API_KEY>)");
    next();
  });
  app.use(jsonBodiesOnly);
  // Every body is small but an imported run's; that route has its own, larger limit.
  const smallJson = express.json({ limit: deps.bodyLimit, type: JSON_TYPES });
  app.use((req, res, next) => (req.path === IMPORT_PATH ? next() : smallJson(req, res, next)));

  app.get("/stages/defaults", (_req, res) => {
    res.json({
      stages: deps.graph.stages.map((s) => ({
        id: s.id,
        name: s.name,
        guard: s.guard ?? null,
        loop: s.loop ?? null,
        // What a run without overrides uses: QUIRE_PROVIDER and the provider's default model applied.
        steps: s.steps.map((step) => {
          const { id, agent, output, reads, temperature, maxTokens, timeoutSeconds, retries } = step;
          return { id, agent, output, reads, ...providerAndModel(step, deps.providerDefaults), temperature, maxTokens, timeoutSeconds, retries };
        }),
      })),
    });
  });
  app.use(runRoutes(deps));
  app.use(eventRoutes(deps));
  app.use(notFoundHandler);
  app.use(errorMiddleware(deps.log));
  return app;
}

/** A body in another type would be skipped by the JSON parser and read as none ("idea: expected object"). */
const jsonBodiesOnly: RequestHandler = (req, _res, next) => {
  const length = req.header("content-length");
  const hasBody = req.header("transfer-encoding") !== undefined || (length !== undefined && length !== "0");
  if (!hasBody || req.is(JSON_TYPES)) return next();
  next(new UnsupportedMediaType(`the request body must be JSON (content-type: application/json), not ${req.header("content-type") ?? "untyped"}`));
};

/** Whether a request carries the key (the scheme's case does not matter). Compared as digests in constant time: how long a refusal takes says nothing about the key. */
function bearerCheck(apiKey: string): (req: Request) => boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  const expected = digest(apiKey);
  return (req) => {
    const [, token] = /^bearer +(.*)$/i.exec(req.headers.authorization ?? "") ?? [];
    return timingSafeEqual(digest(token ?? ""), expected) && token !== undefined;
  };
}

function withoutDetails(report: HealthReport): HealthReport {
  return { ...report, checks: Object.fromEntries(Object.entries(report.checks).map(([name, result]) => [name, result === "ok" ? "ok" : "failing (details with the API key)"])) };
}
