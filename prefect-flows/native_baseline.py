"""Benchmark baseline only (`npm run bench`): the hello-world book's 29 steps as plain Prefect tasks in
one flow run, with a mock answer computed in-process; or one stage's steps per flow run, for the chain
that measures a flow run per stage. No Redis, no agent worker, no gateway: what the same server and
worker cost when Prefect is used directly."""

from __future__ import annotations

import hashlib
import json
from typing import List, Optional

from prefect import flow, task

STEPS = ["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "T1", "R1", "R2", "R3", "I0", "M1", "M2", "M3",
         "E1", "E2", "E3", "G1", "G2", "G3", "W1", "W2", "W3", "W4", "W5", "W6", "W7"]


@task(name="native-step")
def native_step(step_id: str, premise: str, previous: str) -> str:
    digest = hashlib.sha256(f"{step_id}\n{premise}\n{previous}".encode()).hexdigest()[:12]
    return json.dumps({"heading": f"{step_id}: {digest}", "body": f"For the book about {premise!r}, building on {previous[:40]!r}."})


@flow(name="native-baseline")
def native_baseline(premise: str, steps: Optional[List[str]] = None) -> str:
    """All 29 steps in this one flow run, or only `steps` (one stage of a chain of flow runs)."""
    previous = ""
    for step_id in steps or STEPS:
        previous = native_step.with_options(task_run_name=step_id)(step_id, premise, previous)
    return previous
