import express, { type RequestHandler } from "express";
import type { Logger } from "pino";
import type { StageGraph } from "../config/stageGraph.js";
import { Unauthorized, UnsupportedMediaType } from "../errors.js";
import { providerAndModel } from "../runs/stagePlan.js";
import { errorMiddleware, notFoundHandler } from "./errorMiddleware.js";
import { type HealthCheck, runHealthChecks } from "./healthChecks.js";
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
}

/** The Express app: routes, validation, auth, and the one error mapping. No listening, no I/O of its own. */
export function createApp(deps: AppDeps) {
  const app = express();
  app.disable("x-powered-by");
  // Every body is small but an imported run's; that route has its own, larger limit.
  const smallJson = express.json({ limit: deps.bodyLimit, type: JSON_TYPES });
  app.use((req, res, next) => (req.path === IMPORT_PATH ? next() : smallJson(req, res, next)));

  app.get("/health", async (_req, res) => {
    const report = await runHealthChecks(deps.healthChecks);
    res.status(report.status === "ok" ? 200 : 503).json(report);
  });
  app.get("/openapi.json", (_req, res) => {
    res.json(buildOpenApiDocument(deps.links.gatewayUrl));
  });
  app.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.get("/dashboard", (_req, res) => {
    res.type("html").send(dashboardHtml);
  });
  if (deps.apiKey) app.use(bearerAuth(deps.apiKey));
  app.use(jsonBodiesOnly);

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

function bearerAuth(apiKey: string): RequestHandler {
  // Compared as digests in constant time: how long a refusal takes says nothing about the key.
  const digest = (text: string) => createHash("sha256").update(text).digest();
  const expected = digest(`Bearer ${apiKey}`);
  return (req, _res, next) => {
    if (!timingSafeEqual(digest(req.headers.authorization ?? ""), expected)) throw new Unauthorized("missing or wrong bearer token (Authorization: Bearer <QUIRE_API_KEY>)");
    next();
  };
}
