"""Benchmark baseline only (`npm run bench`): the hello-world book's steps (the bench passes them from
config/stages.yaml, so both sides run the same book) as plain Prefect tasks in one flow run, with a mock
answer computed in-process; or one stage's steps per flow run, for the chain that measures a flow run
per stage. No Redis, no agent worker, no gateway: what the same server and worker cost when Prefect is
used directly."""

from __future__ import annotations

import hashlib
import json
from typing import List

from prefect import flow, task


@task(name="native-step")
def native_step(step_id: str, premise: str, previous: str) -> str:
    digest = hashlib.sha256(f"{step_id}\n{premise}\n{previous}".encode()).hexdigest()[:12]
    return json.dumps({"heading": f"{step_id}: {digest}", "body": f"For the book about {premise!r}, building on {previous[:40]!r}."})


@flow(name="native-baseline")
def native_baseline(premise: str, steps: List[str]) -> str:
    """`steps` in this one flow run: the whole book, or one stage of a chain of flow runs."""
    previous = ""
    for step_id in steps:
        previous = native_step.with_options(task_run_name=step_id)(step_id, premise, previous)
    return previous
