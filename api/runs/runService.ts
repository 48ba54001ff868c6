import { randomUUID } from "node:crypto";
import type { StageGraph } from "../config/stageGraph.js";
import type { ProviderName } from "../config/stageGraphSchema.js";
import { Conflict, InvalidInput, type Issue, NotFound } from "../errors.js";
import type { RunSubmission } from "../http/schemas.js";
import type { RunRecord, RunRequest } from "../store/records.js";
import type { Store } from "../store/store.js";
import type { RunBundle } from "../store/runBundle.js";
import { bundleIssues, stageListIssues } from "./graphIssues.js";
import { unreachableGuard } from "./guards.js";
import { providersOfRun, type ProviderDefaults } from "./stagePlan.js";

/** Whether a provider can be used now, and what it lacks when it cannot. */
export type ProviderAvailability = (provider: ProviderName) => Promise<{ available: true } | { available: false; missing: string }>;

/**
 * Accepts and reads runs. Submission checks everything a client can get wrong before anything is
 * stored, so a refused run leaves no trace and an accepted one is whole.
 */
export class RunService {
  constructor(
    private readonly store: Store,
    private readonly graph: StageGraph,
    private readonly providerDefaults: ProviderDefaults,
    private readonly availability: ProviderAvailability,
    /** Called with each newly accepted run (the gateway starts driving it at once instead of at the next poll). */
    private readonly onAccepted: (run: RunRecord) => void = () => undefined,
  ) {}

  async submit(body: RunSubmission): Promise<{ run: RunRecord; created: boolean }> {
    const stages = body.stages ?? this.graph.stages.map((s) => s.id);
    const overridden = Object.keys(body.overrides?.stages ?? {});
    refuseIssues(stageListIssues(this.graph, stages, overridden));
    // An override of a stage the run does not run would be silently unused: a typo, or the wrong list.
    refuseIssues(overridden.filter((id) => !stages.includes(id)).map((id) => ({ path: `overrides.stages.${id}`, message: `stage "${id}" is not part of this run (stages: ${stages.join(", ")})` })));

    const request: RunRequest = { idea: body.idea, stages, mode: body.mode, ...(body.provider && { provider: body.provider }), ...(body.overrides && { overrides: body.overrides }) };
    const blocked = unreachableGuard(this.graph, stages);
    if (blocked) throw new Conflict(`stage ${blocked.stageId} cannot run: ${blocked.reason}`, { stageId: blocked.stageId });
    for (const provider of providersOfRun(this.graph, request, this.providerDefaults)) {
      const state = await this.availability(provider);
      if (!state.available) {
        throw new InvalidInput(`provider "${provider}" needs ${state.missing}; see docs/credentials.md`, {
          issues: [{ path: whereProviderChosen(body, provider), message: `${state.missing} is not set` }],
        });
      }
    }
    const result = await this.store.createRun({ id: randomUUID(), request, idempotencyKey: body.idempotencyKey });
    if (result.created) this.onAccepted(result.run);
    // A retry sends the same request; a different one under the same key is a key used twice by mistake
    // (book-42 for another book), which would otherwise get someone else's run without a word.
    else if (canonicalJson(result.run.request) !== canonicalJson(request)) {
      throw new Conflict(`idempotencyKey ${JSON.stringify(body.idempotencyKey)} was used for a different request (run ${result.run.id}); use a new key for a new book`, { runId: result.run.id });
    }
    return result;
  }

  /**
   * Takes in a run exported by another installation (or this one, before a reset), whole or not at all.
   * A run that does not fit this stage graph is a 400 naming the record; a run id in use here is a 409.
   */
  async importRun(bundle: RunBundle): Promise<void> {
    refuseIssues(bundleIssues(bundle, this.graph));
    if (!(await this.store.importRun(bundle))) throw new Conflict(`a run with id ${bundle.run.id} exists here already`);
  }

  async get(runId: string): Promise<RunRecord> {
    const run = await this.store.getRun(runId);
    if (!run) throw new NotFound(`no run with id ${runId}`);
    return run;
  }

}

/** A client's mistakes, all at once, as one 400 whose details list each with its path. */
function refuseIssues(issues: Issue[]): void {
  if (issues.length) throw InvalidInput.fromIssues(issues);
}

/** Where the request chose the provider (the deepest override first); "provider" when it is a default. */
function whereProviderChosen(body: RunSubmission, provider: string): string {
  const stage = Object.entries(body.overrides?.stages ?? {}).find(([, o]) => o.provider === provider);
  if (stage) return `overrides.stages.${stage[0]}.provider`;
  return body.overrides?.provider === provider ? "overrides.provider" : "provider";
}

/** JSON with object keys sorted at every level: the stored request (PostgreSQL's jsonb reorders keys) compares equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
}
