import express, { type RequestHandler, Router } from "express";
import { InvalidInput, NotFound, Unavailable } from "../errors.js";
import { RunBundle } from "../store/runBundle.js";
import { requireStage, type StageGraph } from "../config/stageGraph.js";
import type { RunControl } from "../runs/runControl.js";
import type { RunService } from "../runs/runService.js";
import { runLinks, runView, type RunLinks } from "../runs/runView.js";
import type { ProviderDefaults } from "../runs/stagePlan.js";
import type { Store } from "../store/store.js";
import type { AuditRecord } from "../store/records.js";
import { AuditQuery, EmptyCommandBody, GlobalAuditQuery, HistoryQuery, RollbackBody, RunListQuery, RunSubmission } from "./schemas.js";
import { validate } from "./validate.js";

export interface RunRoutesDeps {
  runs: RunService;
  control: RunControl;
  store: Store;
  graph: StageGraph;
  providerDefaults: ProviderDefaults;
  links: RunLinks;
}

export const IMPORT_PATH = "/orchestrator/import";
/** The bodies the JSON parsers read (the import's here, every other's in app.ts); any other is a 415. */
export const JSON_TYPES = ["application/json", "application/*+json"];

/** /orchestrator/run and /orchestrator/runs/...: submit, list and read runs. */
export function runRoutes({ runs, control, store, graph, providerDefaults, links }: RunRoutesDeps): Router {
  const router = Router();

  router.post("/orchestrator/run", async (req, res) => {
    const body = validate(RunSubmission, req.body, "body");
    const { run, created } = await runs.submit(body);
    const runLinksOf = runLinks(links, run.id);
    res.location(runLinksOf.self).status(created ? 202 : 200).json({ runId: run.id, status: run.status, links: runLinksOf });
  });

  router.get("/orchestrator/runs", async (req, res) => {
    const q = validate(RunListQuery, req.query, "query");
    const page = await store.listRecentRuns({ statuses: q.status ? [q.status] : undefined, category: q.category, limit: q.limit + 1, before: q.cursor === undefined ? undefined : fromCursor(q.cursor) });
    const items = page.slice(0, q.limit);
    res.json({
      runs: items.map((r) => ({ runId: r.id, status: r.status, mode: r.mode, category: r.category, premise: r.request.idea.premise, title: r.request.idea.title ?? null, currentStage: r.currentStageId, createdAt: r.createdAt, updatedAt: r.updatedAt })),
      nextCursor: page.length > q.limit ? toCursor(items.at(-1)!) : null,
    });
  });

  router.get("/orchestrator/runs/:id", async (req, res) => {
    res.json(await view(req.params.id));
  });

  const outputs = async (runId: string, stageId: string | undefined, query: unknown) => {
    const { history } = validate(HistoryQuery, query, "query");
    const run = await runs.get(runId);
    if (stageId) requireStage(graph, stageId);
    const list = await store.listOutputs(run.id, { stageId, history: history === "true" });
    // A superseded version names the version that replaced it (the next one of the same step), if any yet.
    const withReplacement = list.map((o) => {
      if (o.status !== "superseded") return o;
      const next = list.filter((n) => n.stepId === o.stepId && n.iteration === o.iteration && n.version > o.version).sort((a, b) => a.version - b.version)[0];
      return { ...o, supersededBy: next ? { id: next.id, version: next.version, stageAttempt: next.stageAttempt } : null };
    });
    return { runId: run.id, ...(stageId && { stageId }), history: history === "true", outputs: withReplacement };
  };
  router.get("/orchestrator/runs/:id/outputs", async (req, res) => {
    res.json(await outputs(req.params.id, undefined, req.query));
  });
  router.get("/orchestrator/runs/:id/outputs/:stageId", async (req, res) => {
    res.json(await outputs(req.params.id, req.params.stageId, req.query));
  });

  router.get("/orchestrator/runs/:id/audit", async (req, res) => {
    const filter = validate(AuditQuery, req.query, "query");
    const run = await runs.get(req.params.id);
    res.json({ runId: run.id, ...auditPage(await store.listAudit({ ...filter, runId: run.id }), filter.limit) });
  });

  router.get("/orchestrator/runs/:id/export", async (req, res) => {
    const bundle = await store.exportRun(req.params.id);
    if (!bundle) throw new NotFound(`no run with id ${req.params.id}`);
    res.attachment(`quire-run-${req.params.id}.json`).json(bundle);
  });

  router.post(IMPORT_PATH, oneAtATime("another import is being read; try again when it is done"), express.json({ limit: "50mb", type: JSON_TYPES }), async (req, res) => {
    const bundle = validate(RunBundle, req.body, "body");
    await runs.importRun(bundle);
    const self = `${links.gatewayUrl}/orchestrator/runs/${bundle.run.id}`;
    res.status(201).json({ runId: bundle.run.id, links: { self } });
  });

  router.get("/audit", async (req, res) => {
    const filter = validate(GlobalAuditQuery, req.query, "query");
    res.json(auditPage(await store.listAudit(filter), filter.limit));
  });

  // Commands: each answers 200 with the run as it is after the command, or 409 with the reason it is not allowed now.
  const view = async (runId: string) => {
    const run = await runs.get(runId);
    const [stageRuns, outputs] = await Promise.all([store.listStageRuns(run.id), store.listOutputs(run.id, { history: false })]);
    return runView(run, stageRuns, outputs, graph, providerDefaults, links);
  };
  for (const type of ["pause", "resume", "cancel", "advance"] as const) {
    router.post(`/orchestrator/runs/:id/${type}`, async (req, res) => {
      validate(EmptyCommandBody, req.body, "body");
      await control.command(req.params.id, { type });
      res.json(await view(req.params.id));
    });
  }
  router.post("/orchestrator/runs/:id/rollback", async (req, res) => {
    const { toStage } = validate(RollbackBody, req.body, "body");
    await control.command(req.params.id, { type: "rollback", toStage });
    res.json(await view(req.params.id));
  });

  return router;
}

/**
 * Requests on this route one at a time: an import's body (up to 50 MB) is parsed and checked on the event
 * loop, a second or two each; several at once held up every other request and filled the heap.
 */
function oneAtATime(busy: string): RequestHandler {
  let running = false;
  return (_req, res, next) => {
    if (running) throw new Unavailable(busy);
    running = true;
    res.on("close", () => (running = false));
    next();
  };
}

/** An audit page is cut at about this many bytes of JSON (a step's exchange can be large), still with its first entry. */
const AUDIT_PAGE_BYTES = 16 * 1024 * 1024;

/** A page of audit entries; a full page (by count or by size) says where the next one starts (`?afterId=`). */
function auditPage(entries: AuditRecord[], limit: number) {
  let bytes = 0;
  const page: AuditRecord[] = [];
  for (const entry of entries) {
    bytes += JSON.stringify(entry).length;
    if (page.length > 0 && bytes > AUDIT_PAGE_BYTES) break;
    page.push(entry);
  }
  const full = page.length === limit || page.length < entries.length;
  return { entries: page, ...(full && page.length > 0 ? { nextAfterId: page.at(-1)!.id } : {}) };
}

/** The list's page mark: where the last run of a page stands in its order (newest first). Opaque to clients. */
const toCursor = (run: { createdAt: string; id: string }) => Buffer.from(JSON.stringify([run.createdAt, run.id])).toString("base64url");

function fromCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (typeof createdAt === "string" && typeof id === "string") return { createdAt, id };
  } catch {
    // not one of ours: below
  }
  throw new InvalidInput("cursor is not a nextCursor this gateway gave", { issues: [{ path: "cursor", message: "not a nextCursor from a previous page" }] });
}
