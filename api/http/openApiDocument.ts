import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { RunBundle } from "../store/runBundle.js";
import { AuditPage, EventsPage, HealthReport, Imported, OutputsPage, ProgressEvent, RunListPage, RunView } from "./responseSchemas.js";
import { AuditQuery, ErrorBody, EventsQuery, GlobalAuditQuery, HistoryQuery, RollbackBody, RunAccepted, RunEventsQuery, RunListQuery, RunSubmission } from "./schemas.js";

/** The gateway's OpenAPI document, generated from the same zod schemas that validate requests. */
export function buildOpenApiDocument(serverUrl: string, opts: { bearerAuth: boolean } = { bearerAuth: false }) {
  const registry = new OpenAPIRegistry();
  if (opts.bearerAuth) registry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", description: "QUIRE_API_KEY" });
  const described = {
    400: "invalid input: details.issues lists {path, message}",
    401: "missing or wrong bearer token (QUIRE_API_KEY)",
    403: "a Host or a page Origin this gateway does not serve (docs/security.md)",
    404: "unknown run or stage",
    409: "not allowed now (the message says why)",
    413: "body over the limit",
    415: "a body that is not JSON",
    502: "Prefect refused the gateway's request (prefect_refused)",
    503: "Prefect, Redis or the store is down (named in the message)",
  } as const;
  /** Only the errors the route can answer (every route can answer 403). */
  const errors = (...codes: (keyof typeof described)[]) =>
    Object.fromEntries([...codes, 403 as const].map((code) => [code, { description: described[code], content: { "application/json": { schema: ErrorBody } } }]));
  const json = (description: string, schema: z.ZodType) => ({ description, content: { "application/json": { schema } } });
  const runId = z.object({ id: z.string() });
  const stageParams = z.object({ id: z.string(), stageId: z.string() });
  const resumeHeader = z.object({ "last-event-id": z.string().optional().openapi({ description: "The last event seen (a run's seq, or the global id on /events); wins over ?lastEventId=" }) });
  const events = (description: string) => ({
    description,
    content: {
      "application/json": { schema: EventsPage },
      "text/event-stream": { schema: z.string().openapi({ description: "Server-Sent Events: `id:` and one ProgressEvent as JSON in `data:` per event (docs/events.md)" }) },
    },
  });
  const command = { 200: json("the run after the command", RunView), ...errors(400, 401, 404, 409, 413, 415, 502, 503) };

  registry.register("ProgressEvent", ProgressEvent);
  registry.registerPath({ method: "get", path: "/health", summary: "Checks of Prefect, Redis, the store and agent workers (a failing check's message only with the API key)", security: [], responses: { 200: json("all checks pass", HealthReport), 503: json("a check failed", HealthReport), ...errors() } });
  registry.registerPath({ method: "get", path: "/stages/defaults", summary: "The stage graph with each step's defaults", responses: { 200: json("stage graph", z.record(z.string(), z.unknown())), ...errors(401) } });
  registry.registerPath({
    method: "post",
    path: "/orchestrator/run",
    summary: "Submit a book run",
    request: { body: { content: { "application/json": { schema: RunSubmission } } } },
    responses: { 202: json("accepted", RunAccepted), 200: json("the run already submitted with this idempotencyKey and this request", RunAccepted), ...errors(400, 401, 409, 413, 415, 503) },
  });
  registry.registerPath({ method: "get", path: "/orchestrator/runs", summary: "List runs, newest first", request: { query: RunListQuery }, responses: { 200: json("a page of runs", RunListPage), ...errors(400, 401, 503) } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}", summary: "A run's status and progress", request: { params: runId }, responses: { 200: json("run", RunView), ...errors(401, 404, 503) } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}/outputs", summary: "Accepted outputs (history=true for all versions)", request: { params: runId, query: HistoryQuery }, responses: { 200: json("outputs", OutputsPage), ...errors(400, 401, 404, 503) } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}/outputs/{stageId}", summary: "Outputs of one stage", request: { params: stageParams, query: HistoryQuery }, responses: { 200: json("outputs", OutputsPage), ...errors(400, 401, 404, 503) } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}/audit", summary: "Every LLM exchange of the run", request: { params: runId, query: AuditQuery }, responses: { 200: json("audit entries, oldest first", AuditPage), ...errors(400, 401, 404, 503) } });
  registry.registerPath({ method: "get", path: "/orchestrator/runs/{id}/export", summary: "The whole run as one document (quire-run/1)", request: { params: runId }, responses: { 200: json("run bundle", RunBundle), ...errors(401, 404, 503) } });
  registry.registerPath({
    method: "post",
    path: "/orchestrator/import",
    summary: "Take in a run exported elsewhere",
    request: { body: { content: { "application/json": { schema: RunBundle } } } },
    responses: { 201: json("imported", Imported), ...errors(400, 401, 409, 413, 415, 503) },
  });
  registry.registerPath({ method: "get", path: "/audit", summary: "Audit entries across runs (runId, stageId, stepId, provider, from, to)", request: { query: GlobalAuditQuery }, responses: { 200: json("audit entries, oldest first", AuditPage), ...errors(400, 401, 503) } });
  registry.registerPath({
    method: "get",
    path: "/events",
    summary: "Events of all runs: JSON (at most 1000 after lastEventId), or a live stream from now with Accept: text/event-stream",
    request: { query: EventsQuery, headers: resumeHeader },
    responses: { 200: events("events"), ...errors(400, 401, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/orchestrator/runs/{id}/events",
    summary: "The run's progress events: JSON, or its whole history then live events with Accept: text/event-stream",
    request: { params: runId, query: RunEventsQuery, headers: resumeHeader },
    responses: { 200: events("events"), ...errors(400, 401, 404, 503) },
  });

  for (const type of ["pause", "resume", "cancel", "advance"] as const) {
    registry.registerPath({ method: "post", path: `/orchestrator/runs/{id}/${type}`, summary: `${type} the run (docs/run-control.md)`, request: { params: runId }, responses: command });
  }
  registry.registerPath({
    method: "post",
    path: "/orchestrator/runs/{id}/rollback",
    summary: "Supersede the outputs of toStage and later, and run again from toStage",
    request: { params: runId, body: { content: { "application/json": { schema: RollbackBody } } } },
    responses: command,
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: { title: "Quire gateway", version: "0.1.0", description: "Book workflow orchestrator over Prefect 2" },
    servers: [{ url: serverUrl }],
    ...(opts.bearerAuth && { security: [{ bearerAuth: [] }] }),
  });
}
