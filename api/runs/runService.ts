import { randomUUID } from "node:crypto";
import type { StageGraph } from "../config/stageGraph.js";
import type { ProviderName } from "../config/stageGraphSchema.js";
import { Conflict, InvalidInput, NotFound } from "../errors.js";
import type { RunSubmission } from "../http/schemas.js";
import type { RunRecord, RunRequest } from "../store/records.js";
import type { Store } from "../store/store.js";
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
    const known = new Set(this.graph.stages.map((s) => s.id));
    const stages = body.stages ?? this.graph.stages.map((s) => s.id);
    const unknown = stages.flatMap((id, i) => (known.has(id) ? [] : [{ path: `stages.${i}`, message: `unknown stage "${id}"; known: ${[...known].join(", ")}` }]));
    Object.keys(body.overrides?.stages ?? {}).forEach((id) => {
      if (!known.has(id)) unknown.push({ path: `overrides.stages.${id}`, message: `unknown stage "${id}"` });
    });
    if (unknown.length) throw new InvalidInput(unknown.map((u) => `${u.path}: ${u.message}`).join("; "), { issues: unknown });
    if (new Set(stages).size !== stages.length) throw new InvalidInput("stages: a stage is listed twice", { issues: [{ path: "stages", message: "duplicate stage id" }] });

    const request: RunRequest = { idea: body.idea, stages, mode: body.mode, ...(body.provider && { provider: body.provider }), ...(body.overrides && { overrides: body.overrides }) };
    const blocked = unreachableGuard(this.graph, stages);
    if (blocked) throw new Conflict(`stage ${blocked.stageId} cannot run: ${blocked.reason}`, { stageId: blocked.stageId });
    for (const provider of providersOfRun(this.graph, request, this.providerDefaults)) {
      const state = await this.availability(provider);
      if (!state.available) {
        throw new InvalidInput(`provider "${provider}" needs ${state.missing}; see docs/credentials.md`, {
          issues: [{ path: "provider", message: `${state.missing} is not set` }],
        });
      }
    }
    const result = await this.store.createRun({ id: randomUUID(), request, idempotencyKey: body.idempotencyKey });
    if (result.created) this.onAccepted(result.run);
    return result;
  }

  async get(runId: string): Promise<RunRecord> {
    const run = await this.store.getRun(runId);
    if (!run) throw new NotFound(`no run with id ${runId}`);
    return run;
  }

  requireStage(stageId: string): void {
    if (!this.graph.stages.some((s) => s.id === stageId)) throw new NotFound(`no stage with id ${stageId}; see GET /stages/defaults`);
  }
}
