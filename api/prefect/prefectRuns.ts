import type { PrefectClient, PrefectSchemas } from "./client.js";
import { Unavailable } from "../errors.js";
import { PrefectNotFound, requireAccepted, unwrap } from "./prefectAnswers.js";

export type PrefectStateType = PrefectSchemas["StateType"];

/** What the gateway needs to know of a flow run. */
export interface FlowRunView {
  id: string;
  name: string;
  stateType: PrefectStateType | null;
  stateName: string | null;
  message: string | null;
  /** When the current state began (e.g. when it last went Running). */
  stateTimestamp: string | null;
  createdAt: string | null;
  startTime: string | null;
  endTime: string | null;
  tags: string[];
  /** Paused: the key of the pause (the book's hold flag gives its own; an operator's Suspend does not). */
  pauseKey: string | null;
  /** The work queue a worker takes it from; null when its deployment had no work pool (deleted in Prefect). */
  workQueueId: string | null;
}

export interface TaskRunView {
  id: string;
  name: string;
  stateType: PrefectStateType | null;
  stateName: string | null;
  startTime: string | null;
  endTime: string | null;
  tags: string[];
}

export const terminalStateTypes: ReadonlySet<PrefectStateType> = new Set(["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]);

// Prefect's schema marks server-assigned fields (id, name) optional; a stored run always has them.
const toFlowRun = (r: PrefectSchemas["FlowRun"]): FlowRunView => ({
  id: String(r.id),
  name: String(r.name),
  stateType: r.state_type ?? null,
  stateName: r.state_name ?? null,
  message: r.state?.message ?? null,
  stateTimestamp: r.state?.timestamp ?? null,
  createdAt: r.created ?? null,
  startTime: r.start_time ?? null,
  endTime: r.end_time ?? null,
  tags: r.tags ?? [],
  pauseKey: r.state?.state_details?.pause_key ?? null,
  workQueueId: r.work_queue_id ?? null,
});

/**
 * A thin façade over the generated client for the flow runs of the run-stage deployment: each call is
 * one Prefect endpoint, answers are plain views, and errors come from the one unwrap.
 */
export class PrefectRuns {
  private deploymentCache?: { id: string; workPool: string; workQueue: string | null; at: number };

  /**
   * @param flowRunReady called (not awaited) when a flow run awaits a worker: a new one, or a resumed
   * suspended one. The gateway uses it to wake its warm workers (prefect-flows/warm_worker.py).
   */
  constructor(
    private readonly client: PrefectClient,
    private readonly deploymentName: string,
    private readonly flowRunReady: () => void = () => undefined,
  ) {}

  /** Prefect's API answers (it does not touch its database). */
  async health(): Promise<void> {
    await unwrap("health", () => this.client.GET("/health"));
  }

  /** Prefect reaches its database (a connection opened each time: costlier than health()). */
  async ready(): Promise<void> {
    await unwrap("ready", () => this.client.GET("/ready"));
  }

  async deploymentId(): Promise<string> {
    return (await this.deployment()).id;
  }

  /** The work pool whose workers run the deployment's flow runs; an error saying so when it has none. */
  async workPoolName(): Promise<string> {
    const { workPool } = await this.deployment();
    if (!workPool) throw new Unavailable(`deployment ${this.deploymentName} has no work pool (was it deleted in Prefect?); its flow runs wait for ever: deploy it again (npm start does, or prefect deploy --all)`);
    return workPool;
  }

  /** The work queue of the pool the deployment's flow runs go to (a queue may have a concurrency limit of its own). */
  async workQueueName(): Promise<string | null> {
    return (await this.deployment()).workQueue;
  }

  /** Read again after 15 s: an operator may delete its work pool, or deploy it anew. */
  private async deployment(): Promise<{ id: string; workPool: string; workQueue: string | null }> {
    if (this.deploymentCache && Date.now() - this.deploymentCache.at < 15_000) return this.deploymentCache;
    const [flowName, name] = this.deploymentName.split("/") as [string, string];
    const deployment = await unwrap(
      `read deployment ${this.deploymentName}`,
      () => this.client.GET("/deployments/name/{flow_name}/{deployment_name}", { params: { path: { flow_name: flowName, deployment_name: name } } }),
    );
    this.deploymentCache = { id: String(deployment.id), workPool: String(deployment.work_pool_name ?? ""), workQueue: deployment.work_queue_name ?? null, at: Date.now() };
    return this.deploymentCache;
  }

  /** Creates a flow run; the idempotency key makes a repeated call (e.g. after a gateway crash) return the same run. */
  async createFlowRun(input: { name: string; parameters: Record<string, unknown>; tags: string[]; idempotencyKey: string }): Promise<FlowRunView> {
    const create = async () => {
      const id = await this.deploymentId();
      return unwrap(
        `create flow run ${input.name}`,
        () => this.client.POST("/deployments/{id}/create_flow_run", {
          params: { path: { id } },
          // The generated type renders Dict[str, Any] values as `undefined`; the server takes any JSON.
          body: { name: input.name, parameters: input.parameters as Record<string, never>, tags: input.tags, idempotency_key: input.idempotencyKey },
        }),
      );
    };
    const run = await create().catch((err) => {
      // The deployment was deleted and deployed again (a new id): read it afresh, once.
      if (!(err instanceof PrefectNotFound) || !this.deploymentCache) throw err;
      this.deploymentCache = undefined;
      return create();
    });
    this.flowRunReady();
    return toFlowRun(run);
  }

  /** Renames a flow run and replaces its tags and parameters (what the UI shows; a rerun uses the parameters). */
  async updateFlowRun(id: string, patch: { name: string; tags: string[]; parameters: Record<string, unknown> }): Promise<void> {
    await unwrap(`update flow run ${id}`, () =>
      this.client.PATCH("/flow_runs/{id}", { params: { path: { id } }, body: { name: patch.name, tags: patch.tags, parameters: patch.parameters as Record<string, never> } }),
    );
  }

  async readFlowRun(id: string): Promise<FlowRunView> {
    return toFlowRun(await unwrap(`read flow run ${id}`, () => this.client.GET("/flow_runs/{id}", { params: { path: { id } } })));
  }

  /** The flow run, or null when Prefect has none by that id (deleted in its UI, or a run imported from another installation). */
  async readFlowRunIfAny(id: string): Promise<FlowRunView | null> {
    return this.readFlowRun(id).catch((err) => {
      if (err instanceof PrefectNotFound) return null;
      throw err;
    });
  }

  /** Several flow runs by id, in one call per 200 (Prefect's page limit); unknown ids are left out. */
  async readFlowRuns(ids: string[]): Promise<FlowRunView[]> {
    const views: FlowRunView[] = [];
    for (let i = 0; i < ids.length; i += 200) {
      const page = ids.slice(i, i + 200);
      const runs = await unwrap("read flow runs", () => this.client.POST("/flow_runs/filter", { body: { flow_runs: { id: { any_: page } }, limit: 200, offset: 0 } }));
      views.push(...runs.map(toFlowRun));
    }
    return views;
  }

  /**
   * Flow runs with all these tags (none: any), in these states if given, oldest first, page by page (200,
   * Prefect's page limit); `ownDeployment`: only the run-stage deployment's, not other deployments' on the server.
   */
  async flowRunsTagged(tags: string[], states?: PrefectStateType[], opts: { ownDeployment?: boolean } = {}): Promise<FlowRunView[]> {
    const filter = {
      ...(tags.length && { tags: { all_: tags } }),
      ...(states && { state: { type: { any_: states } } }),
      ...(opts.ownDeployment && { deployment_id: { any_: [await this.deploymentId()] } }),
    };
    const views: FlowRunView[] = [];
    for (let offset = 0; ; offset += 200) {
      const page = await unwrap("filter flow runs", () => this.client.POST("/flow_runs/filter", { body: { flow_runs: filter, sort: "EXPECTED_START_TIME_ASC", limit: 200, offset } }));
      views.push(...page.map(toFlowRun));
      if (page.length < 200) return views;
    }
  }

  async taskRunsOf(flowRunId: string): Promise<TaskRunView[]> {
    const runs = await unwrap(
      "filter task runs",
      () => this.client.POST("/task_runs/filter", { body: { task_runs: { flow_run_id: { any_: [flowRunId] } }, sort: "EXPECTED_START_TIME_ASC", limit: 200, offset: 0 } }),
    );
    return runs.map((r) => ({
      id: String(r.id),
      name: String(r.name),
      stateType: r.state_type ?? null,
      stateName: r.state_name ?? null,
      startTime: r.start_time ?? null,
      endTime: r.end_time ?? null,
      tags: r.tags ?? [],
    }));
  }

  /** The types of every state a flow run has been in (the Prefect UI's state history). */
  async stateHistory(flowRunId: string): Promise<PrefectStateType[]> {
    // Prefect answers an unknown flow run's states with an empty list, not a 404.
    const states = await unwrap(`read states of flow run ${flowRunId}`, () => this.client.GET("/flow_run_states/", { params: { query: { flow_run_id: flowRunId } } }));
    return states.map((s) => s.type);
  }

  /**
   * Suspends a running flow run the way the Prefect UI's Suspend button does: the engine refuses the
   * next task and the process exits. `pauseKey` makes a repeat of the same pause a no-op. Prefect
   * accepts it only from RUNNING; anything else is a Conflict.
   */
  async suspend(id: string, pauseKey: string, timeoutSeconds = 30 * 24 * 3600): Promise<void> {
    const result = await unwrap(
      `suspend flow run ${id}`,
      () => this.client.POST("/flow_runs/{id}/set_state", {
        params: { path: { id } },
        body: {
          state: {
            type: "PAUSED",
            name: "Suspended",
            state_details: { pause_timeout: new Date(Date.now() + timeoutSeconds * 1000).toISOString(), pause_reschedule: true, pause_key: pauseKey },
          },
          force: false,
        },
      }),
    );
    requireAccepted(`suspend of flow run ${id}`, result);
  }

  /** Resumes a paused flow run; Prefect reschedules it and a worker runs the flow again from the top. */
  async resume(id: string): Promise<void> {
    const result = await unwrap(`resume flow run ${id}`, () => this.client.POST("/flow_runs/{id}/resume", { params: { path: { id } }, body: {} }));
    requireAccepted(`resume of flow run ${id}`, result);
    this.flowRunReady();
  }

  /**
   * Takes back a suspend whose flow process is still running (it was finishing a step): the flow run is
   * Running again and that process goes on. Prefect's own resume would reschedule the flow run, and a
   * worker would start a second process for it beside the first. False if the flow run was not Paused.
   */
  async unsuspend(id: string): Promise<boolean> {
    if ((await this.readFlowRun(id)).stateType !== "PAUSED") return false;
    const result = await unwrap(
      `unsuspend flow run ${id}`,
      // Not forced: Prefect's rules then refuse it if the flow run was cancelled, or its pause expired, since it was read.
      () => this.client.POST("/flow_runs/{id}/set_state", { params: { path: { id } }, body: { state: { type: "RUNNING", name: "Running", message: "resumed while its process was still running" }, force: false } }),
    );
    requireAccepted(`unsuspend of flow run ${id}`, result);
    return true;
  }

  /** Marks a Running flow run whose process is gone as Crashed, with the reason. */
  async markCrashed(id: string, message: string): Promise<void> {
    const result = await unwrap(
      `mark flow run ${id} crashed`,
      () => this.client.POST("/flow_runs/{id}/set_state", { params: { path: { id } }, body: { state: { type: "CRASHED", name: "Crashed", message }, force: false } }),
    );
    requireAccepted(`crash of flow run ${id}`, result);
  }

  /**
   * Marks Crashed the task runs a crashed flow run left Running or Pending: its process is gone, so
   * nothing will ever finish them, and the Prefect UI would show them running forever. Returns how many.
   */
  async crashLeftoverTaskRuns(flowRunId: string, message: string): Promise<number> {
    const leftovers = (await this.taskRunsOf(flowRunId)).filter((t) => t.stateType === "RUNNING" || t.stateType === "PENDING");
    for (const taskRun of leftovers) {
      const result = await unwrap(
        `mark task run ${taskRun.id} crashed`,
        () => this.client.POST("/task_runs/{id}/set_state", { params: { path: { id: taskRun.id } }, body: { state: { type: "CRASHED", name: "Crashed", message }, force: false } }),
      );
      requireAccepted(`crash of task run ${taskRun.id}`, result);
    }
    return leftovers.length;
  }

  /**
   * Asks Prefect to cancel a flow run: a running one goes Cancelling (the worker kills its process, then
   * Cancelled); one not yet running, or suspended, goes straight to Cancelled (Prefect answers REJECT
   * with that state, which is success here). A flow run in a blocking pause (`pause_flow_run`, not
   * suspended; our flows never do this, an operator's state change can) may leave Paused only for
   * Running, Scheduled or a final state, so it is set Cancelled: its process, if any, finds it not
   * resumed at its next poll and exits at its pause timeout without running anything more.
   */
  async cancel(id: string): Promise<void> {
    const setState = (state: { type: "CANCELLING" } | { type: "CANCELLED"; name: string; message: string }) =>
      unwrap(`cancel flow run ${id}`, () => this.client.POST("/flow_runs/{id}/set_state", { params: { path: { id } }, body: { state, force: false } }));
    const result = await setState({ type: "CANCELLING" });
    if (result.status === "ACCEPT" || result.state?.type === "CANCELLED" || result.state?.type === "CANCELLING") return;
    if (result.status === "REJECT" && result.state?.type === "PAUSED") {
      requireAccepted(`cancel of paused flow run ${id}`, await setState({ type: "CANCELLED", name: "Cancelled", message: "cancelled while paused" }));
      return;
    }
    // It ended since it was read (Prefect aborts a change to a final state): nothing is left to cancel.
    const now = (await this.readFlowRun(id)).stateType;
    if (now && terminalStateTypes.has(now)) return;
    requireAccepted(`cancel of flow run ${id}`, result);
  }
}
