import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { ErrorBody, GlobalAuditQuery, RollbackBody, RunAccepted, RunListQuery, RunSubmission } from "./schemas.js";

/** The gateway's OpenAPI document, generated from the same zod schemas that validate requests. */
export function buildOpenApiDocument(serverUrl: string) {
  const registry = new OpenAPIRegistry();
  const errors = Object.fromEntries(
    ([[400, "invalid input (zod issues with paths)"], [401, "missing or wrong bearer token"], [404, "unknown run or stage"], [409, "not allowed now"], [413, "body over the limit"], [415, "a body that is not JSON"], [502, "Prefect refused the gateway's request (prefect_refused)"], [503, "a dependency is down"]] as const).map(
      ([code, description]) => [code, { description, content: { "application/json": { schema: ErrorBody } } }],
    ),
  );
  const json = (description: string, schema: z.ZodType = z.record(z.string(), z.unknown())) => ({ description, content: { "application/json": { schema } } });
  const runId = z.object({ id: z.string() });
  const stageParams = z.object({ id: z.string(), stageId: z.string() });

  registry.registerPath({ method: "get", path: "/health", summary: "Checks of Prefect, Redis, the store and agent workers", responses: { 200: json("all checks pass"), 503: json("a check failed") } });
  registry.registerPath({ method: "get", path: "/stages/defaults", summary: "The stage graph with each step's defaults", responses: { 200: json("stage graph") } });
  registry.registerPath({
    method: "post",
    path: "/orchestrator/run",
    summary: "Submit a book run",
    request: { body: { content: { "application/json": { schema: RunSubmission } } } },
    responses: { 202: json("accepted", RunAccepted), 200: json("the run already submitted with this idempotencyKey", RunAccepted), ...errors },
  });
  registry.registerPath({ method: "get", path: "/orchestrator/runs", summary: "List runs", request: { query: RunListQuery }, responses: { 200: json("runs"), ...errors } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}", summary: "A run's status and progress", request: { params: runId }, responses: { 200: json("run"), ...errors } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}/outputs", summary: "Accepted outputs (history=true for all versions)", request: { params: runId }, responses: { 200: json("outputs"), ...errors } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}/outputs/{stageId}", summary: "Outputs of one stage", request: { params: stageParams }, responses: { 200: json("outputs"), ...errors } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}/audit", summary: "Every LLM exchange of the run", request: { params: runId }, responses: { 200: json("audit entries"), ...errors } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}/export", summary: "The whole run as one document (quire-run/1)", request: { params: runId }, responses: { 200: json("run bundle"), ...errors } });
  registry.registerPath({ method: "post", path: "/orchestrator/import", summary: "Take in a run exported elsewhere", responses: { 201: json("imported"), ...errors } });
  registry.registerPath({ method: "get", path: "/audit", summary: "Audit entries across runs (runId, stageId, stepId, provider, from, to)", request: { query: GlobalAuditQuery }, responses: { 200: json("audit entries"), ...errors } });
  registry.registerPath({ method: "get", path: "/events", summary: "Live events of all runs (SSE; ?category=)", responses: { 200: json("events") } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}/events", summary: "The run's progress events (JSON list)", request: { params: runId }, responses: { 200: json("events"), ...errors } });

  for (const command of ["pause", "resume", "cancel", "advance"] as const) {
    registry.registerPath({ method: "post", path: `/orchestrator/runs/{id}/${command}`, summary: `${command} the run (docs/run-control.md)`, request: { params: runId }, responses: { 200: json("the run after the command"), ...errors } });
  }
  registry.registerPath({
    method: "post",
    path: "/orchestrator/runs/{id}/rollback",
    summary: "Supersede the outputs of toStage and later, and run again from toStage",
    request: { params: runId, body: { content: { "application/json": { schema: RollbackBody } } } },
    responses: { 200: json("the run after the command"), ...errors },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: { title: "Quire gateway", version: "0.1.0", description: "Book workflow orchestrator over Prefect 2" },
    servers: [{ url: serverUrl }],
  });
}
